"""The Time Machine: cached, verified, downloaded when missing (other sources: :mod:`.sources`).

The cache is re-verified on every use (180 KB: cheap) so a corrupt copy is never trained on,
and a good cached copy is used without touching the network, even in a read-only folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

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
