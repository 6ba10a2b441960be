"""Crash-safe file writing shared by checkpoints and run folders.

:func:`atomic_write_bytes` / :func:`atomic_write_text` write to a temporary file in the same
folder, ``fsync`` it, ``os.replace`` it over the target and ``fsync`` the folder, so a reader
sees either the old file or the new one, never a half-written one. The new file gets the old
file's permissions, or for a new file the usual ones (``0o666`` less the umask), not the
``0o600`` of a temporary file. If anything fails (disk
full, permission denied, an interrupt), the temporary file is removed, the old file is left
untouched, and the exception propagates.

:func:`append_line` appends one line durably (write, flush, ``fsync``); a crash loses at most
the line being written, and a torn last line left by an earlier crash is closed first so the
new line stays readable.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "append_line", "fsync_dir", "TEMP_SUFFIX"]

TEMP_SUFFIX = ".tmp"


def _read_umask() -> int:
    """The process umask (read once: setting it is the only way to read it portably)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _mode_for(target: Path) -> int:
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename inside ``folder`` durable. A no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(os.fspath(folder), os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems do not support fsync on folders; the rename still happened
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically; returns the path. Raises ``OSError`` on failure."""
    target = Path(path)
    folder = target.parent
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=TEMP_SUFFIX)
    try:
        if hasattr(os, "fchmod"):  # (not on Windows)
            os.fchmod(fd, _mode_for(target))
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp_name, target)
    except BaseException:
        try:
            os.unlink(temp_name)
        except OSError:
            pass
        raise
    fsync_dir(folder)
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``text`` atomically (newlines written as given)."""
    return atomic_write_bytes(path, text.encode(encoding))


def append_line(path: str | os.PathLike[str], line: str, encoding: str = "utf-8") -> None:
    """Append ``line`` (a newline is added) and ``fsync``, closing a torn last line first."""
    if "\n" in line or "\r" in line:
        raise ValueError("append_line takes a single line without newlines")
    data = (line + "\n").encode(encoding)
    with open(path, "a+b") as out:
        out.seek(0, os.SEEK_END)
        if out.tell() > 0:
            out.seek(-1, os.SEEK_END)
            if out.read(1) != b"\n":
                data = b"\n" + data  # an earlier crash cut the last line short
        out.write(data)  # append mode: always written at the end
        out.flush()
        os.fsync(out.fileno())
