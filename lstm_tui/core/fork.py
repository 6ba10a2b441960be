"""Forking a run: a sibling run folder that starts from another run's last checkpoint (its
weights, optimizer and RNG state) with changed settings that keep the model's shape.

The parent may be running: only its checkpoint (replaced atomically by its trainer) and its
metrics/samples are read, its lock is not taken and nothing of it is written. The fork:

* ``checkpoint.pt``: the parent's payload as it is, with the changed config (an unchanged fork
  continues exactly as the parent does);
* ``metrics.jsonl`` / ``samples.jsonl``: the parent's, up to the fork point (epochs after the
  checkpoint and their samples left out, live-knob records the checkpoint holds kept), so the
  fork's own curve starts with the parent's history and compare overlays the two;
* ``fork.json`` (:data:`~lstm_tui.core.runs.files.FORK_FILE`): ``{"parent": <path>,
  "parent_name": <name>, "epoch": <completed epochs at the fork>, "batch": <batches into the
  next>, "changes": {<field>: <value>}}`` (read with :func:`read_fork`);
* ``summary.json``: status ``stopped`` at the fork point, so it is listed as resumable.

Then train it with :func:`~lstm_tui.core.session.prepare_resume` (``lstm-tui train --resume FORK``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .atomic import atomic_write_bytes, atomic_write_text
from .config import ConfigError, absolute_paths
from .runs import RunDir, RunError, RunStatus, Summary, repair_run_files
from .runs.files import FORK_FILE, METRICS_FILE, SAMPLES_FILE

__all__ = ["FORK_FILE", "fork_run", "read_fork"]


def fork_run(
    parent: RunDir | str | os.PathLike[str],
    changes: dict[str, Any] | None = None,
    *,
    runs_dir: str | os.PathLike[str] | None = None,
    name: str | None = None,
) -> RunDir:
    """A new run folder forked from ``parent``'s last checkpoint with ``changes`` to its config.

    ``runs_dir``: where the fork goes (default: beside the parent); ``name``: its name (default
    ``<parent's preset>-fork``). Raises :class:`ConfigError` naming the field for a change of the
    model's shape or a bad value, ``RunError`` / ``CheckpointError`` when the parent is not a
    run or has no readable checkpoint."""
    from .session import shape_refusal  # (late: compare reads fork records without torch)

    folder = parent if isinstance(parent, RunDir) else RunDir.open(parent, runs_dir)
    changes = dict(changes or {})
    refusal = shape_refusal(changes)
    if refusal is not None:
        raise ConfigError(refusal.field or "fork", f"{refusal.reason}: a fork keeps its parent's model")
    if not folder.has_checkpoint():
        raise RunError(f"run {folder.name} has no checkpoint to fork from ({folder.checkpoint_path})")
    checkpoint = folder.load_checkpoint()
    config = checkpoint.config.replace(**absolute_paths(changes))
    fork = RunDir.create(
        runs_dir if runs_dir is not None else folder.path.parent, config, name or f"{checkpoint.config.preset}-fork"
    )
    payload = {key: value for key, value in checkpoint.raw.items() if key not in ("format", "saved_at")}
    payload["config"] = config.to_dict()
    fork.save_checkpoint(payload)
    _copy_records(folder.path, fork.path)
    repair_run_files(fork.path, checkpoint.epoch, checkpoint.history, checkpoint.batch)
    record = {
        "parent": str(folder.path.resolve()),
        "parent_name": folder.name,
        "epoch": checkpoint.epoch,
        "batch": checkpoint.batch,
        "changes": {k: getattr(config, k) for k in changes},
    }
    atomic_write_text(fork.path / FORK_FILE, json.dumps(record, indent=1, default=list) + "\n")
    last = checkpoint.history[-1] if checkpoint.history else {}
    fork.write_summary(
        Summary(
            status=RunStatus.STOPPED,
            epoch=checkpoint.epoch,
            epochs=config.epochs,
            perplexity=last.get("perplexity"),
            val_perplexity=last.get("val_perplexity"),
            elapsed_s=checkpoint.elapsed_s,
            stopped=True,
            checkpoint_epoch=checkpoint.epoch,
            history_epochs=len(checkpoint.history),
        )
    )
    return fork


def _copy_records(source: Path, target: Path) -> None:
    for name in (METRICS_FILE, SAMPLES_FILE):
        try:
            data = (source / name).read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise RunError(f"cannot read {source / name}: {exc.strerror or exc}") from exc
        cut = data.rfind(b"\n") + 1  # a line the running parent is writing right now is left out
        atomic_write_bytes(target / name, data[:cut])


def read_fork(run: RunDir | str | os.PathLike[str]) -> dict[str, Any] | None:
    """The fork record of ``run`` (see the module docstring), or None when it is no fork."""
    path = (run.path if isinstance(run, RunDir) else Path(run)) / FORK_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
