"""A sweep on disk: ``<runs>/.sweeps/<name>.json`` and the tag in each of its run folders.

The record lists the sweep's runs in order (name, varying values, the whole config, and once
the run's process made it, the run folder's name) and its varying fields. Each run folder a
sweep made holds ``sweep.json`` (:data:`~lstm_tui.core.runs.files.SWEEP_TAG_FILE`): the sweep's
name, the run's index and values, so a runs screen can group runs by sweep without reading
every record. Both are written atomically; only the process running the sweep writes them.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_text
from ..config import ConfigError, RunConfig
from ..runs import RunDir, RunError, RunStatus, lock_holder, run_status, safe_name
from ..runs.files import CONFIG_FILE, SWEEP_TAG_FILE, SWEEPS_DIR
from ..runs.folder import _root
from .spec import SweepSpec

FORMAT = 1


@dataclass
class SweepRun:
    """One run of a recorded sweep; ``folder`` is the run folder's name once it exists."""

    index: int
    name: str
    values: dict[str, Any]
    config: RunConfig
    folder: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "values": self.values,
            "folder": self.folder,
            "config": self.config.to_dict(),
        }


@dataclass
class SweepRecord:
    """A sweep as ``.sweeps/<name>.json`` keeps it."""

    name: str
    varying: tuple[str, ...]
    runs: list[SweepRun]
    parallel: int = 1
    title: str = ""
    created: str = field(default_factory=lambda: datetime.now().isoformat(timespec="seconds"))
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "name": self.name,
            "title": self.title,
            "created": self.created,
            "varying": list(self.varying),
            "parallel": self.parallel,
            "meta": self.meta,
            "runs": [run.to_dict() for run in self.runs],
        }


class RunState(str, Enum):
    """Where one run of a sweep stands, for ``--resume``."""

    FINISHED = "finished"  # ended (finished, or failed while training): left as it is
    RESUMABLE = "resumable"  # stopped / interrupted with a checkpoint: ``train --resume``
    FRESH = "fresh"  # never started, or ended before its first checkpoint: started anew
    BUSY = "busy"  # a live process trains it right now: left alone


# ----------------------------------------------------------------------------- paths
def sweeps_dir(root: str | os.PathLike[str] | None = None) -> Path:
    return _root(root) / SWEEPS_DIR


def sweep_path(root: str | os.PathLike[str] | None, name: str) -> Path:
    return sweeps_dir(root) / f"{name}.json"


def work_dir(root: str | os.PathLike[str] | None, name: str) -> Path:
    """Where a sweep keeps each run's launch config and output log."""
    return sweeps_dir(root) / name


def default_sweep_name(spec: SweepSpec, root: str | os.PathLike[str] | None = None) -> str:
    """``<spec name or "sweep">-<mmdd-HHMM>``, with ``-2``, ``-3``... when that is taken."""
    stem = safe_name(f"{spec.name or 'sweep'}-{datetime.now().strftime('%m%d-%H%M')}")[:_SWEEP_NAME_MAX]
    for attempt in range(1, 1000):
        name = stem if attempt == 1 else f"{stem}-{attempt}"
        if not sweep_path(root, name).exists():
            return name
    raise RunError(f"too many sweeps named {stem}-N; pick a --name")


#: A run's name is ``<sweep>-NN-<values>``; the run folder adds a stamp and caps names at 60.
_SWEEP_NAME_MAX = 40
_RUN_NAME_MAX = 60


def run_name(sweep: str, index: int, values: dict[str, Any]) -> str:
    """``<sweep>-03-lr0.5-hidden128``: unique within the sweep (the index always survives the
    length cap), readable in ``lstm-tui runs``."""
    head = f"{sweep[:_SWEEP_NAME_MAX]}-{index + 1:02d}"
    slug = safe_name("-".join(f"{k}{v}" for k, v in values.items())) if values else ""
    room = _RUN_NAME_MAX - len(head) - 1
    name = f"{head}-{slug[:room]}" if slug and room > 0 else head
    return safe_name(name)


# ----------------------------------------------------------------------------- the record
def new_record(root: str | os.PathLike[str] | None, name: str, spec: SweepSpec, parallel: int) -> SweepRecord:
    """Record a new sweep; a name in use is a :class:`RunError` (continue it with ``--resume``)."""
    if safe_name(name) != name or len(name) > _SWEEP_NAME_MAX:
        raise RunError(
            f"sweep name {name!r} may hold only letters, digits, '.', '_' and '-', at most "
            f"{_SWEEP_NAME_MAX} characters (e.g. {safe_name(name)[:_SWEEP_NAME_MAX]!r})"
        )
    if sweep_path(root, name).exists():
        raise RunError(
            f"a sweep named {name!r} exists already (continue it with --resume {name}, or pick another --name)"
        )
    runs = [SweepRun(i, run_name(name, i, dict(p.values)), dict(p.values), p.config) for i, p in enumerate(spec.points)]
    record = SweepRecord(
        name=name, varying=spec.varying, runs=runs, parallel=parallel, title=spec.title, meta=dict(spec.meta)
    )
    save_record(root, record)
    return record


def save_record(root: str | os.PathLike[str] | None, record: SweepRecord) -> Path:
    path = sweep_path(root, record.name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(path, json.dumps(record.to_dict(), indent=1) + "\n")
    except OSError as exc:
        raise RunError(f"cannot write the sweep record {path}: {exc.strerror or exc}") from exc


def load_record(root: str | os.PathLike[str] | None, name: str) -> SweepRecord:
    path = sweep_path(root, name)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(r.name for r in list_records(root)) or "none"
        raise RunError(f"no sweep named {name!r} in {sweeps_dir(root)} (sweeps there: {known})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunError(f"cannot read the sweep record {path}: {exc}") from None
    try:
        return _from_dict(data)
    except (KeyError, TypeError, ValueError, ConfigError) as exc:
        raise RunError(f"{path}: not a sweep record this version can read ({exc})") from None


def _from_dict(data: dict[str, Any]) -> SweepRecord:
    runs = [
        SweepRun(
            int(r["index"]), str(r["name"]), dict(r["values"]), RunConfig.from_mapping(r["config"]), r.get("folder")
        )
        for r in data["runs"]
    ]
    return SweepRecord(
        name=str(data["name"]),
        varying=tuple(data["varying"]),
        runs=runs,
        parallel=int(data.get("parallel", 1)),
        title=str(data.get("title", "")),
        created=str(data.get("created", "")),
        meta=dict(data.get("meta") or {}),
    )


def list_records(root: str | os.PathLike[str] | None = None) -> list[SweepRecord]:
    """The readable sweeps under ``root``, newest first (unreadable records are skipped)."""
    found = []
    for path in sorted(sweeps_dir(root).glob("*.json")):
        try:
            found.append(load_record(root, path.stem))
        except RunError:
            continue
    return sorted(found, key=lambda r: r.created, reverse=True)


# ----------------------------------------------------------------------------- runs and their tags
def write_tag(folder: str | os.PathLike[str], record: SweepRecord, run: SweepRun) -> None:
    tag = {"sweep": record.name, "index": run.index, "values": run.values}
    atomic_write_text(Path(folder) / SWEEP_TAG_FILE, json.dumps(tag) + "\n")


def read_tag(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The sweep tag of a run folder (``{"sweep", "index", "values"}``), or None."""
    try:
        data = json.loads((Path(folder) / SWEEP_TAG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("sweep"), str) else None


def find_run_folder(root: str | os.PathLike[str] | None, run: SweepRun, claimed: set[str]) -> Path | None:
    """The folder ``train --name <run.name>`` made (``<stamp>-<name>``, maybe ``-2``), newest first."""
    pattern = re.compile(r"^\d{8}-\d{6}-" + re.escape(run.name) + r"(-\d+)?$")
    base = _root(root)
    try:
        candidates = [
            p for p in base.iterdir() if pattern.match(p.name) and p.name not in claimed and (p / CONFIG_FILE).is_file()
        ]
    except OSError:
        return None
    return max(candidates, key=lambda p: p.stat().st_mtime_ns, default=None)


def run_folder(root: str | os.PathLike[str] | None, run: SweepRun) -> RunDir | None:
    if not run.folder:
        return None
    path = _root(root) / run.folder
    return RunDir(path) if (path / CONFIG_FILE).is_file() else None


def run_state(root: str | os.PathLike[str] | None, run: SweepRun) -> RunState:
    """FINISHED, RESUMABLE, FRESH or BUSY (see :class:`RunState`)."""
    folder = run_folder(root, run)
    if folder is None:
        return RunState.FRESH
    if lock_holder(folder.path) is not None:
        return RunState.BUSY
    status = run_status(folder.path, folder.read_summary())
    if status is RunStatus.FINISHED:
        return RunState.FINISHED
    if folder.has_checkpoint() and status in (RunStatus.STOPPED, RunStatus.INTERRUPTED, RunStatus.RUNNING):
        return RunState.RESUMABLE
    if status is RunStatus.FAILED and folder.read_metrics():
        return RunState.FINISHED  # it trained and failed (diverged...): a result, not something to retry
    return RunState.FRESH


__all__ = [
    "RunState",
    "SweepRecord",
    "SweepRun",
    "default_sweep_name",
    "find_run_folder",
    "list_records",
    "load_record",
    "new_record",
    "read_tag",
    "run_folder",
    "run_name",
    "run_state",
    "save_record",
    "sweep_path",
    "sweeps_dir",
    "work_dir",
    "write_tag",
]
