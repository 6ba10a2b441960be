"""One run's folder (:class:`RunDir`) and the runs directory it lives in.

A run folder (``<root>/20261126-183012-concise``) holds::

    config.toml     the RunConfig (written atomically; its presence makes the folder a run)
    metrics.jsonl   one JSON object per line, appended and fsync'd line by line
    samples.jsonl   generated samples, same format
    checkpoint.pt   the last good checkpoint (see checkpoint_io.py and payload.py)
    summary.json    the run's :class:`~.summary.Summary` (status, final numbers, the epoch its
                    checkpoint holds, ``created`` once the run was renamed)
    .training.lock  while a trainer trains it: that process's pid and host (lock.py); a
                    "running" run whose lock is gone or names a dead process is "interrupted"

The root is ``$LSTM_TUI_RUNS_DIR`` or ``platformdirs.user_data_dir("lstm-tui") / "runs"``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs
import tomli_w

from ..atomic import append_line, atomic_write_text
from ..config import ConfigError, RunConfig
from .files import (
    BEST_FILE,
    CHECKPOINT_FILE,
    CONFIG_FILE,
    CREATED_KEY,
    METRICS_FILE,
    RUNS_ENV,
    SAMPLES_FILE,
    SUMMARY_FILE,
    RunError,
    is_knob_record,
)
from .summary import WRITTEN_STATUSES, Summary

if TYPE_CHECKING:
    from .payload import Checkpoint

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

_STAMP = "%Y%m%d-%H%M%S"
_MAX_NAME = 60


def default_runs_dir() -> Path:
    """``$LSTM_TUI_RUNS_DIR``, else the platform's user data dir / "runs"."""
    env = os.environ.get(RUNS_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("lstm-tui")) / "runs"


def safe_name(name: str) -> str:
    """A folder-name-safe version of ``name``: ASCII letters, digits, ``.``, ``_`` and ``-``."""
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._")
    text = re.sub(r"-{2,}", "-", text)[:_MAX_NAME].strip("-._")
    return text or "run"


def _root(root: str | os.PathLike[str] | None) -> Path:
    return Path(root).expanduser() if root is not None else default_runs_dir()


#: What to do about :meth:`RunDir.corpus_change`.
CORPUS_CHANGE_HINT = "resume over the same text, or pass --allow-corpus-change to train on the new one"


class RunDir:
    """One run's folder. Make one with :meth:`create` or :meth:`open`."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunDir) and self.path.resolve() == other.path.resolve()

    def __hash__(self) -> int:
        return hash(self.path.resolve())

    # ------------------------------------------------------------------ making / finding
    @classmethod
    def create(
        cls, root: str | os.PathLike[str] | None = None, config: RunConfig | None = None, name: str | None = None
    ) -> RunDir:
        """A new, uniquely named run folder under ``root`` with ``config.toml`` written.

        The folder is named ``<YYYYmmdd-HHMMSS>-<name or preset>``; ``-2``, ``-3``... is added
        when that exists already.
        """
        if config is None:
            raise RunError("a run needs a config")
        base = _root(root)
        try:
            base.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"cannot create the runs folder {base}: {exc.strerror or exc}") from exc
        stem = f"{datetime.now().strftime(_STAMP)}-{safe_name(name if name else config.preset)}"
        for attempt in range(1, 10_000):
            path = base / (stem if attempt == 1 else f"{stem}-{attempt}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise RunError(f"cannot create run folder {path}: {exc.strerror or exc}") from exc
            run = cls(path)
            try:
                run.write_config(config)
            except RunError:  # (a full disk): leave no empty folder behind
                shutil.rmtree(path, ignore_errors=True)
                raise
            return run
        raise RunError(f"cannot find a free run folder name for {stem!r} in {base}")  # pragma: no cover

    @classmethod
    def open(cls, path_or_name: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> RunDir:
        """An existing run: a folder name inside ``root`` or a path to the folder."""
        text = os.fspath(path_or_name)
        if not text.strip():
            raise RunError("no run given")
        given = Path(text).expanduser()
        looks_like_path = given.is_absolute() or len(given.parts) > 1 or text.startswith(".")
        candidates = [given] if looks_like_path else [_root(root) / text, given]
        for candidate in candidates:
            if candidate.is_dir():
                if not (candidate / CONFIG_FILE).is_file():
                    raise RunError(f"{candidate} is not a run folder (it has no {CONFIG_FILE})")
                return cls(candidate)
        if looks_like_path:
            raise RunError(f"no run folder at {given}")
        raise RunError(f"no run named {text!r} in {_root(root)}")

    # ------------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def samples_path(self) -> Path:
        return self.path / SAMPLES_FILE

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT_FILE

    @property
    def best_path(self) -> Path:
        """``best.pt``: the checkpoint of the best validation perplexity (early stopping)."""
        return self.path / BEST_FILE

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def created(self) -> datetime:
        return _created(self.path, self.read_summary())

    def keep_created(self) -> None:
        """Record the creation time in the summary, where a rename cannot lose it.

        It is otherwise read from the folder name's stamp, which a rename drops; the config
        file's time (the last fallback) changes whenever a resume rewrites the config. A
        summary that exists but cannot be read, or has a status this version does not know,
        is left alone rather than replaced.
        """
        summary = self.read_summary()
        if summary is None and self.summary_path.exists():
            return
        summary = summary or {}
        if _summary_created(summary) is not None or summary.get("status") not in (None, *WRITTEN_STATUSES):
            return
        self.write_summary({**summary, CREATED_KEY: _created(self.path, summary).isoformat(timespec="seconds")})

    # ------------------------------------------------------------------ config
    def write_config(self, config: RunConfig) -> Path:
        try:
            text = tomli_w.dumps(config.to_dict())
            return atomic_write_text(self.config_path, text)
        except OSError as exc:
            raise RunError(f"cannot write {self.config_path}: {exc.strerror or exc}") from exc

    def read_config(self) -> RunConfig:
        data = self._read_toml()
        try:
            return RunConfig.from_mapping(data)
        except ConfigError as exc:
            raise RunError(f"{self.config_path} is not a valid config: {exc}") from exc

    def _read_toml(self) -> dict[str, Any]:
        try:
            with open(self.config_path, "rb") as handle:
                data: dict[str, Any] = tomllib.load(handle)
                return data
        except FileNotFoundError:
            raise RunError(f"{self.path} is not a run folder (it has no {CONFIG_FILE})") from None
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise RunError(f"cannot read {self.config_path}: {exc}") from exc

    # ------------------------------------------------------------------ metrics and samples
    def append_metric(self, record: dict[str, Any]) -> None:
        self._append(self.metrics_path, record)

    def read_metrics(self) -> list[dict[str, Any]]:
        """The epoch records (live-knob records are left out: see :meth:`read_knobs`)."""
        return [record for record in _read_jsonl(self.metrics_path) if not is_knob_record(record)]

    def read_knobs(self) -> list[dict[str, Any]]:
        """The live-knob records: ``{"knob", "value", "previous", "epoch", "batch"}``, in order."""
        return [record for record in _read_jsonl(self.metrics_path) if is_knob_record(record)]

    def append_sample(self, record: dict[str, Any]) -> None:
        self._append(self.samples_path, record)

    def read_samples(self) -> list[dict[str, Any]]:
        return list(_read_jsonl(self.samples_path))

    def _append(self, path: Path, record: dict[str, Any]) -> None:
        if not isinstance(record, dict):
            raise TypeError(f"a record must be a dict, not {type(record).__name__}")
        line = json.dumps(record, ensure_ascii=False, default=_json_default)
        try:
            append_line(path, line)
        except OSError as exc:
            raise RunError(f"cannot append to {path}: {exc.strerror or exc}") from exc

    # ------------------------------------------------------------------ checkpoints
    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.is_file()

    def save_checkpoint(self, payload: dict[str, Any]) -> Path:
        """Atomically replace ``checkpoint.pt`` (see :func:`.checkpoint_io.save_checkpoint`)."""
        from .checkpoint_io import (
            save_checkpoint,  # late: listing runs need not import torch
        )

        return save_checkpoint(self.checkpoint_path, payload)

    def save_best(self, payload: dict[str, Any]) -> Path:
        """Atomically replace ``best.pt`` (the same format as the checkpoint)."""
        from .checkpoint_io import save_checkpoint

        return save_checkpoint(self.best_path, payload)

    def load_checkpoint(self, map_location: Any = "cpu", best: bool = False) -> Checkpoint:
        """The run's checkpoint (``best``: its ``best.pt``); raises ``CheckpointError`` when
        missing or unreadable."""
        from .checkpoint_io import load_checkpoint

        return load_checkpoint(self.best_path if best else self.checkpoint_path, map_location=map_location)

    # ------------------------------------------------------------------ summary
    def write_summary(self, summary: Summary | dict[str, Any]) -> Path:
        """Replace the summary; the creation time it recorded (see :meth:`keep_created`) is
        kept, since the trainer writes each summary afresh."""
        if isinstance(summary, Summary):
            summary = summary.to_dict()
        status = summary.get("status")
        if status is not None and status not in WRITTEN_STATUSES:
            raise ValueError(f"status {status!r} is not one of {', '.join(map(str, WRITTEN_STATUSES))}")
        if CREATED_KEY not in summary:
            created = (self.read_summary() or {}).get(CREATED_KEY)
            summary = {**summary, CREATED_KEY: created} if created is not None else summary
        text = json.dumps(summary, indent=2, ensure_ascii=False, default=_json_default) + "\n"
        try:
            return atomic_write_text(self.summary_path, text)
        except OSError as exc:
            raise RunError(f"cannot write {self.summary_path}: {exc.strerror or exc}") from exc

    def read_summary(self) -> dict[str, Any] | None:
        """The summary as its file holds it, or ``None`` when there is none yet (or it cannot be read)."""
        try:
            data = json.loads(self.summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def summary(self) -> Summary | None:
        """The summary as a :class:`Summary`, or ``None`` (see :meth:`read_summary`)."""
        data = self.read_summary()
        return Summary.from_dict(data) if data is not None else None

    def corpus_change(self, sha1: str, nbytes: int) -> str | None:
        """Why a corpus of this SHA-1 and size is not the text the run recorded, or ``None`` when
        it is (or the run recorded none). Every resume asks this (see CORPUS_CHANGE_HINT)."""
        recorded = self.summary()
        if recorded is None or not recorded.corpus_sha1 or recorded.corpus_sha1 == sha1:
            return None
        size = f", {recorded.corpus_bytes:,} bytes" if recorded.corpus_bytes is not None else ""
        return (
            f"the corpus has changed since run {self.name} was trained on it: it was "
            f"SHA-1 {recorded.corpus_sha1}{size}, it is now SHA-1 {sha1}, {nbytes:,} bytes"
        )


def _json_default(value: Any) -> Any:
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item):
        try:
            return item()
        except (ValueError, RuntimeError):
            pass
    if isinstance(value, (Path, datetime)):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records from a JSON-lines file; torn or damaged lines (from a crash) are skipped."""
    try:
        with open(path, "rb") as handle:
            raw_lines = handle.read().split(b"\n")
    except FileNotFoundError:
        return
    except OSError as exc:
        raise RunError(f"cannot read {path}: {exc.strerror or exc}") from exc
    for raw in raw_lines:
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(record, dict):
            yield record


def _summary_created(summary: dict[str, Any] | None) -> datetime | None:
    """The creation time a summary recorded (after a rename), or ``None``."""
    try:
        return datetime.fromisoformat(str((summary or {})[CREATED_KEY]))
    except (KeyError, ValueError):
        return None


def _created(path: Path, summary: dict[str, Any] | None = None) -> datetime:
    """When the run was created: the time its summary recorded (a renamed run), the stamp
    in its folder name, else the config file's time."""
    recorded = _summary_created(summary)
    if recorded is not None:
        return recorded
    stamp = path.name[: len("YYYYmmdd-HHMMSS")]
    try:
        return datetime.strptime(stamp, _STAMP)
    except ValueError:
        pass
    for candidate in (path / CONFIG_FILE, path):
        try:
            return datetime.fromtimestamp(candidate.stat().st_mtime)
        except OSError:
            continue
    return datetime.fromtimestamp(0)


def as_run_dir(run_dir: RunDir | str | os.PathLike[str] | None) -> RunDir | None:
    """``run_dir`` as a :class:`RunDir` (its folder made), or ``None``."""
    if run_dir is None or isinstance(run_dir, RunDir):
        return run_dir
    path = Path(run_dir).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return RunDir(path)
