"""Model sources beyond the session's own (see :mod:`.session`): a run folder read from disk
(a followed run, the lens's second run) and a weight snapshot of a run (the time-lapse).

Each has ``config`` and ``model_and_vocab()`` (called on a worker thread: torch loads there),
like :class:`~.session.TrainingRun` and :class:`~.session.LoadedRun`. :class:`TimeLapse` is the
position in a run's snapshots that ``[`` and ``]`` move (no Textual here).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from lstm_tui.core.config import RunConfig

__all__ = ["FolderRun", "SnapshotRun", "TimeLapse", "open_folder_run"]


@dataclass(frozen=True)
class FolderRun:
    """A run folder's checkpoint (read again when the file changes: a followed run moves on)."""

    path: str
    config: RunConfig
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def model_and_vocab(self) -> tuple[Any, Any]:
        from lstm_tui.core.checkpoint import load_model
        from lstm_tui.core.runs import CHECKPOINT_FILE

        target = Path(self.path) / CHECKPOINT_FILE
        if not target.is_file():
            raise RuntimeError(f"{self.path} has no checkpoint yet")
        stamp = os.stat(target).st_mtime_ns
        if self._cache.get("stamp") != stamp:
            model, vocab, _config, _ = load_model(target)
            self._cache.update(stamp=stamp, model=model, vocab=vocab)
        return self._cache["model"], self._cache["vocab"]


def open_folder_run(path: str | os.PathLike[str]) -> FolderRun:
    """A run folder (or its checkpoint file) as a source; RunError/ConfigError say why not."""
    from lstm_tui.core.runs import RunDir

    target = Path(path).expanduser()
    if target.is_file():
        target = target.parent
    run = RunDir.open(target)
    return FolderRun(str(run.path), run.read_config())


@dataclass(frozen=True)
class SnapshotRun:
    """The weights a run had at ``epoch`` (``snapshots/epoch-NNNNN.pt``)."""

    path: str
    epoch: int
    config: RunConfig

    def model_and_vocab(self) -> tuple[Any, Any]:
        from lstm_tui.core.timelapse import load_snapshot_with_vocab

        model, vocab, _config = load_snapshot_with_vocab(self.path, self.epoch)
        return model, vocab


class TimeLapse:
    """Where ``[`` / ``]`` are in a run's snapshots: ``epoch`` None is "latest" (the live model)."""

    def __init__(self, run_path: str | None) -> None:
        self.run_path = run_path
        self.epoch: int | None = None

    def epochs(self) -> list[int]:
        """The run's snapshot epochs, oldest first (none without a run folder)."""
        if not self.run_path:
            return []
        from lstm_tui.core.runs import RunError
        from lstm_tui.core.runs.snapshots import list_snapshot_files

        try:
            return [info.epoch for info in list_snapshot_files(self.run_path)]
        except RunError:
            return []

    def step(self, direction: int) -> str:
        """Move one snapshot back (-1) or on (+1); past the newest is "latest". Returns what to say."""
        epochs = self.epochs()
        if not epochs:
            self.epoch = None
            return "this run has no snapshots" if self.run_path else "no run folder: no snapshots"
        if self.epoch is None:
            self.epoch = epochs[-1] if direction < 0 else None
        else:
            later = [e for e in epochs if e > self.epoch]
            earlier = [e for e in epochs if e < self.epoch]
            if direction < 0:
                self.epoch = earlier[-1] if earlier else epochs[0]
            else:
                self.epoch = later[0] if later else None
        return self.label

    @property
    def label(self) -> str:
        return "latest" if self.epoch is None else f"as of epoch {self.epoch}"

    def source(self, latest: Any) -> Any:
        """The source to use: ``latest`` (the live one), or the snapshot chosen."""
        if self.epoch is None or not self.run_path or latest is None:
            return latest
        return SnapshotRun(self.run_path, self.epoch, latest.config)
