"""The runs directory: one folder per training run.

A run folder (``<root>/20261126-183012-concise``) holds::

    config.toml     the RunConfig (written atomically; its presence makes the folder a run)
    metrics.jsonl   one JSON object per line, appended and fsync'd line by line
    samples.jsonl   generated samples, same format
    checkpoint.pt   the last good checkpoint (see checkpoint.py)
    summary.json    final metrics, device, wall time, status (running/finished/stopped/failed),
                    and ``created`` once the run was renamed (its folder name lost the stamp)
    .training.lock  while a trainer trains it: that process's pid and host (run_lock.py); a
                    "running" run whose lock is gone or names a dead process is "interrupted"

The root is ``$LSTM_TUI_RUNS_DIR`` or ``platformdirs.user_data_dir("lstm-tui") / "runs"``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import platformdirs
import tomli_w

from .atomic import append_line, atomic_write_text
from .config import ConfigError, RunConfig

if TYPE_CHECKING:
    from .checkpoint import Checkpoint

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "RUNS_ENV",
    "STATUSES",
    "RunError",
    "RunDir",
    "RunInfo",
    "default_runs_dir",
    "list_runs",
    "safe_name",
]

RUNS_ENV = "LSTM_TUI_RUNS_DIR"
CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
SUMMARY_FILE = "summary.json"
#: Held by the trainer while it trains the run (see run_lock.py); names its pid and host.
LOCK_FILE = ".training.lock"
#: The summary's record of when a renamed run was created (ISO 8601, local time).
CREATED_KEY = "created"
STATUSES = ("running", "finished", "stopped", "failed")
_STAMP = "%Y%m%d-%H%M%S"
_MAX_NAME = 60


class RunError(Exception):
    """A run folder is missing, not a run, or cannot be written; ``str()`` says which."""


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


def _root(root: str | os.PathLike | None) -> Path:
    return Path(root).expanduser() if root is not None else default_runs_dir()


class RunDir:
    """One run's folder. Make one with :meth:`create` or :meth:`open`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunDir) and self.path.resolve() == other.path.resolve()

    def __hash__(self) -> int:
        return hash(self.path.resolve())

    # ------------------------------------------------------------------ making / finding
    @classmethod
    def create(cls, root: str | os.PathLike | None = None, config: RunConfig | None = None, name: str | None = None) -> "RunDir":
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
            run.write_config(config)
            return run
        raise RunError(f"cannot find a free run folder name for {stem!r} in {base}")  # pragma: no cover

    @classmethod
    def open(cls, path_or_name: str | os.PathLike, root: str | os.PathLike | None = None) -> "RunDir":
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
        if _summary_created(summary) is not None or summary.get("status") not in (None, *STATUSES):
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

    def _read_toml(self) -> dict:
        try:
            with open(self.config_path, "rb") as handle:
                return tomllib.load(handle)
        except FileNotFoundError:
            raise RunError(f"{self.path} is not a run folder (it has no {CONFIG_FILE})") from None
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise RunError(f"cannot read {self.config_path}: {exc}") from exc

    # ------------------------------------------------------------------ metrics and samples
    def append_metric(self, record: dict) -> None:
        self._append(self.metrics_path, record)

    def read_metrics(self) -> list[dict]:
        return list(_read_jsonl(self.metrics_path))

    def append_sample(self, record: dict) -> None:
        self._append(self.samples_path, record)

    def read_samples(self) -> list[dict]:
        return list(_read_jsonl(self.samples_path))

    def _append(self, path: Path, record: dict) -> None:
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

    def save_checkpoint(self, payload: dict) -> Path:
        """Atomically replace ``checkpoint.pt`` (see :func:`checkpoint.save_checkpoint`)."""
        from .checkpoint import save_checkpoint  # late: listing runs need not import torch

        return save_checkpoint(self.checkpoint_path, payload)

    def load_checkpoint(self, map_location: Any = "cpu") -> "Checkpoint":
        """The run's checkpoint; raises ``CheckpointError`` when missing or unreadable."""
        from .checkpoint import load_checkpoint

        return load_checkpoint(self.checkpoint_path, map_location=map_location)

    # ------------------------------------------------------------------ summary
    def write_summary(self, summary: dict) -> Path:
        """Replace the summary; the creation time it recorded (see :meth:`keep_created`) is
        kept, since the trainer writes each summary afresh."""
        status = summary.get("status")
        if status is not None and status not in STATUSES:
            raise ValueError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        if CREATED_KEY not in summary:
            created = (self.read_summary() or {}).get(CREATED_KEY)
            summary = {**summary, CREATED_KEY: created} if created is not None else summary
        text = json.dumps(summary, indent=2, ensure_ascii=False, default=_json_default) + "\n"
        try:
            return atomic_write_text(self.summary_path, text)
        except OSError as exc:
            raise RunError(f"cannot write {self.summary_path}: {exc.strerror or exc}") from exc

    def read_summary(self) -> dict | None:
        """The summary, or ``None`` when there is none yet (or it cannot be read)."""
        try:
            data = json.loads(self.summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None


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


def _read_jsonl(path: Path) -> Iterator[dict]:
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


def _summary_created(summary: dict | None) -> datetime | None:
    """The creation time a summary recorded (after a rename), or ``None``."""
    try:
        return datetime.fromisoformat(str((summary or {})[CREATED_KEY]))
    except (KeyError, ValueError):
        return None


def _created(path: Path, summary: dict | None = None) -> datetime:
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


@dataclass(frozen=True)
class RunInfo:
    """What a run list shows; ``preset`` is None when the config cannot be read."""

    name: str
    path: Path
    created: datetime
    preset: str | None
    summary: dict | None

    @property
    def status(self) -> str:
        """The summary's status (see :func:`run_status`); "unknown" without a summary."""
        return run_status(self.path, self.summary) if self.summary else "unknown"

    @property
    def has_checkpoint(self) -> bool:
        return (self.path / CHECKPOINT_FILE).is_file()

    def open(self) -> RunDir:
        return RunDir(self.path)


def run_status(folder: Path, summary: dict) -> str:
    """The status a run's summary stands for: "interrupted" when it says "running" but no live
    trainer holds the folder's lock (its process was killed, crashed, ran out of memory: the
    lock it left names a process that is gone, see :mod:`.run_lock`); else what it says."""
    status = str(summary.get("status", "unknown"))
    if status == "running" and lock_holder(folder) is None:
        return "interrupted"
    return status


def lock_holder(folder: Path) -> dict | None:
    """``{"pid", "host"}`` of the live trainer holding the folder's lock, or None (no lock, a
    torn one, or its process is gone). A holder on another machine counts as live: it cannot
    be told from here."""
    try:
        held = json.loads((Path(folder) / LOCK_FILE).read_text() or "{}")
    except (OSError, ValueError):
        return None
    return held if isinstance(held, dict) and held and not owner_gone(held) else None


def owner_gone(summary: dict) -> bool:
    """Whether the process a lock names (pid, host) is gone; False when that cannot be told."""
    pid, host = summary.get("pid"), summary.get("host")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or host != socket.gethostname():
        return False  # no pid, or another machine: it cannot be told from here
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):  # it exists (another user's), or this OS cannot tell
        return False
    return False


def list_runs(root: str | os.PathLike | None = None) -> list[RunInfo]:
    """Runs under ``root``, newest first; folders without a ``config.toml`` are skipped."""
    base = _root(root)
    try:
        entries = list(base.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise RunError(f"cannot list runs in {base}: {exc.strerror or exc}") from exc
    found: list[tuple[tuple, RunInfo]] = []
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir() or not (entry / CONFIG_FILE).is_file():
            continue
        run = RunDir(entry)
        try:
            preset = run._read_toml().get("preset")
            preset = str(preset) if preset is not None else None
        except RunError:
            preset = None
        summary = run.read_summary()
        info = RunInfo(entry.name, entry, _created(entry, summary), preset, summary)
        try:
            mtime = (entry / CONFIG_FILE).stat().st_mtime_ns
        except OSError:  # pragma: no cover - raced with a deletion
            mtime = 0
        found.append(((info.created, mtime, _suffix_number(entry.name), entry.name), info))
    found.sort(key=lambda pair: pair[0], reverse=True)
    return [info for _, info in found]


def _suffix_number(name: str) -> int:
    """``-2`` style uniqueness suffix (later-created folders in the same second sort first)."""
    match = re.search(r"-(\d+)$", name)
    return int(match.group(1)) if match and len(match.group(1)) < 6 else 1

