"""Where a corpus's bytes come from: The Time Machine, a file, a folder or glob of ``.txt``
files, a URL, standard input or another stream; read in chunks (progress, cancel), decoded to
UTF-8 (:mod:`.decoding`) and joined, with the SHA-1 and length a run records.

Several files are joined in sorted order, a newline between two files unless the first already
ends with one; a folder means its ``*.txt`` files (not its subfolders); a glob (``*``, ``?``,
``[``) may use ``**``.
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..config import URL_SCHEME
from .corpus import MAX_CORPUS_BYTES, fetch_time_machine
from .decoding import Buffer, to_utf8
from .download import Progress, download
from .errors import CorpusError
from .hooks import NO_HOOKS, LoadHooks
from .streams import STDIN, is_stream_mode, read_stdin, read_stream_path

READ_CHUNK = 1 << 24
GLOB_CHARS = "*?["


@dataclass(frozen=True)
class SourceText:
    """A corpus as UTF-8 bytes (no BOM), with what a run records of it."""

    data: Buffer
    label: str  # what messages call it: the source as given, "The Time Machine"
    sha1: str  # of ``data``: for The Time Machine, the file's published SHA-1
    files: int = 1

    @property
    def nbytes(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class ReadOptions:
    encoding: str = "utf-8"
    errors: str = "strict"
    max_bytes: int = MAX_CORPUS_BYTES
    download_progress: Progress | None = None
    hooks: LoadHooks = NO_HOOKS


def read_source(source: str, data_dir: str | Path | None = None, options: ReadOptions | None = None) -> SourceText:
    """The text of ``source``: ``""`` is The Time Machine, ``-`` standard input, an http(s)
    URL, or a path (a file, a stream, a folder of ``.txt`` files, a glob)."""
    opts = options or ReadOptions()
    source = (source or "").strip()
    if not source:
        book = str(fetch_time_machine(data_dir, progress=opts.download_progress))
        return _finish([_decoded(_read_path(book, book, opts), book, opts)], "The Time Machine", opts)
    if source == STDIN:
        data = read_stdin(opts.max_bytes, opts.hooks)
        return _finish([_decoded(data, "standard input", opts)], "standard input", opts)
    scheme = URL_SCHEME.match(source)
    if scheme is not None:
        return _read_url(source, scheme.group(1).lower(), opts)
    files = corpus_files(source)
    pieces, total = [], 0
    for path in files:
        raw = _read_path(path, path if len(files) > 1 else source, opts, budget=opts.max_bytes - total)
        total += len(raw)
        if not raw and len(files) > 1:
            continue  # an empty file among several adds nothing
        pieces.append(_decoded(raw, path if len(files) > 1 else source, opts))
    if not pieces:
        raise CorpusError(f"every file of the corpus {source} is empty", "pass text files with some content")
    return _finish(pieces, source, opts, files=len(files))


def corpus_files(source: str) -> list[str]:
    """The files ``source`` names: itself, a folder's ``*.txt`` files, or a glob's matches (sorted)."""
    path = Path(source).expanduser()
    if any(ch in source for ch in GLOB_CHARS) and not os.path.lexists(path):
        matches = sorted(p for p in glob.glob(str(path), recursive=True) if os.path.isfile(p))
        if not matches:
            raise CorpusError(
                f"no files match the corpus pattern {source}",
                "check the pattern (quote it so that the shell does not expand it)",
            )
        return matches
    if path.is_dir():
        matches = sorted(str(p) for p in path.glob("*.txt") if p.is_file())
        if not matches:
            raise CorpusError(
                f"the corpus path {source} is a directory with no .txt files",
                "pass a text file, a folder of .txt files, or a glob such as 'books/*.txt'",
            )
        return matches
    return [str(path)]


def _read_path(path: str, label: str, opts: ReadOptions, budget: int | None = None) -> Buffer:
    """The bytes of one file or stream, at most ``budget`` (default: the size limit)."""
    limit = opts.max_bytes if budget is None else budget
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise CorpusError(f"the corpus file {label} does not exist", "check the path") from None
    except OSError as exc:
        raise CorpusError(f"cannot read {label}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise CorpusError(f"the corpus path {label} is a directory, not a text file", "pass the path of a file")
    if is_stream_mode(mode):
        return read_stream_path(path, label, limit, opts.hooks)
    return _read_regular(path, label, limit, opts.hooks)


def _read_regular(path: str, label: str, max_bytes: int, hooks: LoadHooks) -> bytearray:
    """A regular file read in chunks into one buffer (its size as ``stat`` gave it)."""
    try:
        with open(path, "rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            if size > max_bytes:
                raise CorpusError(
                    f"{label} is {size} bytes, over the limit of {max_bytes} bytes", "use a smaller corpus"
                )
            buf = bytearray(size)
            done = _fill(f, buf, hooks)
    except OSError as exc:
        raise CorpusError(f"cannot read {label}: {exc.strerror or exc}") from None
    if done < size:  # the file shrank while we read it
        del buf[done:]
    return buf


def _fill(f, buf: bytearray, hooks: LoadHooks) -> int:  # type: ignore[no-untyped-def]
    done, size = 0, len(buf)
    with memoryview(buf) as view:
        while done < size:
            got = f.readinto(view[done : done + READ_CHUNK])
            if not got:
                break
            done += got
            hooks.step("reading", done, size)
    return done


def _decoded(raw: Buffer, name: str, opts: ReadOptions) -> Buffer:
    return to_utf8(raw, name, opts.encoding, opts.errors, opts.hooks)


def _read_url(url: str, scheme: str, opts: ReadOptions) -> SourceText:
    """Download ``url`` into a throwaway folder (no SHA-1 to check), read it, clean up."""
    if scheme not in ("http", "https"):
        raise CorpusError(
            f"unsupported corpus URL {url}: only http:// and https:// can be downloaded",
            "for a local file give its path instead of a URL",
        )
    with tempfile.TemporaryDirectory(prefix="lstm-tui-") as folder:
        path = download(
            url,
            Path(folder) / "corpus.txt",
            progress=opts.download_progress,
            max_bytes=opts.max_bytes,
            cancel=opts.hooks.cancelled,
        )
        data = _read_path(str(path), url, opts)
    return _finish([_decoded(data, url, opts)], url, opts)


def _finish(pieces: list[Buffer], label: str, opts: ReadOptions, files: int = 1) -> SourceText:
    data = pieces[0] if len(pieces) == 1 else _join(pieces)
    if len(data) > opts.max_bytes:
        raise CorpusError(f"the corpus {label} is over the limit of {opts.max_bytes} bytes", "use a smaller corpus")
    return SourceText(data=data, label=label, sha1=_sha1(data, opts.hooks), files=files)


def _join(pieces: list[Buffer]) -> bytes:
    """Files one after the other, a newline at each boundary (added where a file has none)."""
    parts: list[Buffer] = []
    for index, piece in enumerate(pieces):
        parts.append(piece)
        if index < len(pieces) - 1 and not piece.endswith(b"\n"):
            parts.append(b"\n")
    return b"".join(parts)


def _sha1(data: Buffer, hooks: LoadHooks) -> str:
    digest = hashlib.sha1()
    with memoryview(data) as view:
        for start in range(0, len(data), READ_CHUNK):
            digest.update(view[start : start + READ_CHUNK])
            hooks.step("checking", min(len(data), start + READ_CHUNK), len(data))
    return digest.hexdigest()


def read_corpus_text(
    source: str,
    data_dir: str | Path | None = None,
    progress: Progress | None = None,
    *,
    max_bytes: int = MAX_CORPUS_BYTES,
) -> str:
    """The text of a corpus (:func:`read_source`, UTF-8) as a ``str``."""
    options = ReadOptions(max_bytes=max_bytes, download_progress=progress)
    return read_source(source, data_dir, options).data.decode("utf-8")


def read_text_file(path: str | Path, *, max_bytes: int = MAX_CORPUS_BYTES, label: str | None = None) -> str:
    """One UTF-8 text file, refusing missing, empty, binary, non-UTF-8 and huge files."""
    name, options = label or str(path), ReadOptions(max_bytes=max_bytes)
    return _decoded(_read_path(str(path), name, options), name, options).decode("utf-8")
