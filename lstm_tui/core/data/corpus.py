"""Where the corpus text comes from: The Time Machine (cached, verified), a local file, a URL.

The cache is re-verified on every use (180 KB: cheap) so a corrupt copy is never trained on,
and a good cached copy is used without touching the network, even in a read-only folder.
"""

from __future__ import annotations

import codecs
import os
import tempfile
from pathlib import Path

import platformdirs

from ..config import URL_SCHEME
from .download import DEFAULT_MAX_BYTES, Progress, download, sha1_of_file
from .errors import CorpusError

TIME_MACHINE_URL = "http://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt"
TIME_MACHINE_SHA1 = "090b5e7e70c295757f55df93cb0a180b9691891a"
CORPUS_FILENAME = "timemachine.txt"
DATA_DIR_ENV = "LSTM_TUI_DATA_DIR"
MAX_CORPUS_BYTES = DEFAULT_MAX_BYTES



def default_data_dir() -> Path:
    """``$LSTM_TUI_DATA_DIR``, else the platform's user cache dir / "data"."""
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("lstm-tui")) / "data"


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The data directory to use: ``data_dir`` itself, or the default for None / ""."""
    if data_dir is None or str(data_dir).strip() == "":
        return default_data_dir()
    return Path(data_dir).expanduser()


def fetch_time_machine(
    data_dir: str | Path | None = None,
    *,
    url: str = TIME_MACHINE_URL,
    progress: Progress | None = None,
    timeout: float = 30.0,
) -> Path:
    """Path of a verified ``timemachine.txt``: the cached copy if good, else a fresh download."""
    path = resolve_data_dir(data_dir) / CORPUS_FILENAME
    cached = _cached_sha1(path)
    if cached == TIME_MACHINE_SHA1:
        return path
    try:
        return download(url, path, sha1=TIME_MACHINE_SHA1, progress=progress, timeout=timeout)
    except CorpusError as exc:
        if cached is None:
            raise CorpusError(
                f"The Time Machine is not cached; {exc.reason}",
                f"put d2l's timemachine.txt at {path} or pass --corpus PATH",
            ) from None
        raise CorpusError(
            f"the cached copy {path} is corrupt (SHA-1 {cached}, expected {TIME_MACHINE_SHA1}) "
            f"and a fresh copy could not be downloaded: {exc.reason}",
            "replace it with d2l's timemachine.txt or pass --corpus PATH",
        ) from None


def _cached_sha1(path: Path) -> str | None:
    """SHA-1 of the cached file, None if there is none, "unreadable" if it cannot be read."""
    if not path.is_file():
        return None
    try:
        return sha1_of_file(path)
    except OSError:
        return "unreadable"


def read_corpus_text(
    source: str,
    data_dir: str | Path | None = None,
    progress: Progress | None = None,
    *,
    max_bytes: int = MAX_CORPUS_BYTES,
) -> str:
    """The text of a corpus: ``""`` is The Time Machine, an http(s) URL, or a local path."""
    source = (source or "").strip()
    if not source:
        return read_text_file(fetch_time_machine(data_dir, progress=progress), max_bytes=max_bytes)
    scheme = URL_SCHEME.match(source)  # (the same test absolute_paths makes)
    if scheme is None:
        return read_text_file(Path(source).expanduser(), max_bytes=max_bytes)
    if scheme.group(1).lower() not in ("http", "https"):
        raise CorpusError(
            f"unsupported corpus URL {source}: only http:// and https:// can be downloaded",
            "for a local file give its path instead of a URL",
        )
    return _read_url(source, progress, max_bytes)


def _read_url(url: str, progress: Progress | None, max_bytes: int) -> str:
    """Download ``url`` into a throwaway folder (no SHA-1 to check), read it, clean up."""
    with tempfile.TemporaryDirectory(prefix="lstm-tui-") as folder:
        path = download(url, Path(folder) / "corpus.txt", progress=progress, max_bytes=max_bytes)
        return read_text_file(path, max_bytes=max_bytes, label=url)


def read_text_file(path: str | Path, *, max_bytes: int = MAX_CORPUS_BYTES, label: str | None = None) -> str:
    """Read a UTF-8 text corpus, refusing missing, empty, binary, non-UTF-8 and huge files."""
    path = Path(path)
    name = label or str(path)
    data = _read_bounded(path, name, max_bytes)
    if not data:
        raise CorpusError(f"the corpus file {name} is empty", "pass a text file with some content")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise CorpusError(f"{name} looks binary: NUL byte at offset {nul}", "pass a plain UTF-8 text file")
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = bom + exc.start
        raise CorpusError(
            f"{name} is not UTF-8 text: byte 0x{data[offset]:02x} at offset {offset} cannot be decoded",
            "convert it to UTF-8 (e.g. iconv -t utf-8)",
        ) from None


def _read_bounded(path: Path, name: str, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of ``path``: memory stays bounded even for a file that grows."""
    if not path.exists():
        raise CorpusError(f"the corpus file {name} does not exist", "check the path")
    if path.is_dir():
        raise CorpusError(f"the corpus path {name} is a directory, not a text file", "pass the path of a file")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise CorpusError(f"{name} is {size} bytes, over the limit of {max_bytes} bytes", "use a smaller corpus")
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise CorpusError(f"cannot read {name}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise CorpusError(f"{name} is over the limit of {max_bytes} bytes", "use a smaller corpus")
    return data
