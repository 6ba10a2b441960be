"""The runs directory's listing: :class:`RunInfo` per run folder and the status each stands for."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .files import CHECKPOINT_FILE, CONFIG_FILE, RunError
from .folder import RunDir, _created, _root
from .lock import lock_holder
from .summary import RunStatus, Summary


@dataclass(frozen=True)
class RunInfo:
    """What a run list shows; ``preset`` is None when the config cannot be read."""

    name: str
    path: Path
    created: datetime
    preset: str | None
    summary: dict[str, Any] | None

    @property
    def status(self) -> RunStatus:
        """The summary's status (see :func:`run_status`); UNKNOWN without a summary."""
        return run_status(self.path, self.summary) if self.summary else RunStatus.UNKNOWN

    @property
    def record(self) -> Summary | None:
        """The summary as a :class:`Summary` (None without one)."""
        return Summary.from_dict(self.summary) if self.summary is not None else None

    @property
    def has_checkpoint(self) -> bool:
        return (self.path / CHECKPOINT_FILE).is_file()

    def open(self) -> RunDir:
        return RunDir(self.path)


def run_status(folder: str | os.PathLike[str], summary: dict[str, Any] | Summary | None) -> RunStatus:
    """The status a run's summary stands for: INTERRUPTED when it says "running" but no live
    trainer holds the folder's lock (its process was killed, crashed, ran out of memory: the
    lock it left names a process that is gone, see :mod:`.lock`); else what it says."""
    if summary is None:
        return RunStatus.UNKNOWN
    status = summary.status if isinstance(summary, Summary) else RunStatus.parse(summary.get("status"))
    if status is RunStatus.RUNNING and lock_holder(folder) is None:
        return RunStatus.INTERRUPTED
    return status


def list_runs(root: str | os.PathLike[str] | None = None) -> list[RunInfo]:
    """Runs under ``root``, newest first; folders without a ``config.toml`` are skipped."""
    base = _root(root)
    try:
        entries = list(base.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise RunError(f"cannot list runs in {base}: {exc.strerror or exc}") from exc
    found: list[tuple[tuple[Any, ...], RunInfo]] = []
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
