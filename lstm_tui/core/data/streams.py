"""Corpora read as streams: standard input (``-``), process substitution and FIFOs.

``<(cat book.txt)`` reaches us as ``/dev/fd/N`` (``/proc/self/fd/N``), a link to a pipe; it is
opened as given (never resolved to ``/proc/PID/fd/pipe:[N]``), non-blocking, and read through
``poll`` so that a cancel is seen at once and a named FIFO that no process writes to is an
error after :data:`FIFO_WAIT_S` seconds instead of a silent hang. Streams are bounded by the
same size limit as files.
"""

from __future__ import annotations

import os
import select
import stat
import time

from .errors import CorpusError
from .hooks import LoadHooks

FIFO_WAIT_S = 5.0
POLL_MS = 100
READ_CHUNK = 1 << 20
STDIN = "-"
STDIN_LABEL = "standard input"
#: Paths that name a file descriptor of this process: kept as given, read as streams when pipes.
FD_PREFIXES = ("/dev/fd/", "/proc/self/fd/", "/dev/stdin")


def is_stream_source(source: str) -> bool:
    """``-`` or a path that names one of our file descriptors (kept as given, never resolved)."""
    return source == STDIN or source.startswith(FD_PREFIXES) or (source.startswith("/proc/") and "/fd/" in source)


def is_stream_mode(mode: int) -> bool:
    """A FIFO (pipe), character device or socket: no size to trust, read until EOF."""
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def read_stdin(max_bytes: int, hooks: LoadHooks) -> bytes:
    """All of standard input (a pipe or a redirected file); a terminal is refused."""
    try:
        if os.isatty(0):
            raise CorpusError(
                "standard input is a terminal, not a text",
                "pipe a text into it, e.g. lstm-tui train --corpus - < book.txt",
            )
    except OSError as exc:
        raise CorpusError(f"cannot read standard input: {exc.strerror or exc}") from None
    return read_fd(0, STDIN_LABEL, max_bytes, hooks, named_fifo=False)


def read_stream_path(path: str, label: str, max_bytes: int, hooks: LoadHooks, wait_s: float | None = None) -> bytes:
    """All of the stream at ``path`` (``label``: the path as the user gave it, for messages)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise CorpusError(f"cannot open {label}: {exc.strerror or exc}", "check the path") from None
    try:
        return read_fd(fd, label, max_bytes, hooks, named_fifo=not is_stream_source(label), wait_s=wait_s)
    finally:
        os.close(fd)


def read_fd(
    fd: int, label: str, max_bytes: int, hooks: LoadHooks, *, named_fifo: bool, wait_s: float | None = None
) -> bytes:
    """Read ``fd`` to its end through ``poll``; see the module docstring (``wait_s``: how long a
    stream may send nothing before it is reported; default :data:`FIFO_WAIT_S`)."""
    wait_s = FIFO_WAIT_S if wait_s is None else wait_s
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    pieces: list[bytes] = []
    done, started, waiting_said = 0, time.monotonic(), False
    while True:
        hooks.check()
        if not poller.poll(POLL_MS):
            if done == 0 and time.monotonic() - started > wait_s:
                if named_fifo:
                    raise CorpusError(
                        f"nothing was written to the FIFO {label} in {wait_s:g} s: no process seems to write to it",
                        f"start the writer first (e.g. cat book.txt > {label}) or pass a regular file",
                    )
                if not waiting_said:
                    hooks.say(f"waiting for {label} to send the corpus")
                    waiting_said = True
            continue
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            continue
        except OSError as exc:
            raise CorpusError(f"cannot read {label}: {exc.strerror or exc}") from None
        if not chunk:
            return b"".join(pieces)
        done += len(chunk)
        if done > max_bytes:
            raise CorpusError(f"{label} is over the limit of {max_bytes} bytes", "use a smaller corpus")
        pieces.append(chunk)
        hooks.step("reading", done, None)
