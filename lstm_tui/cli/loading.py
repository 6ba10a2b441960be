"""Loading a model for the CLI (``generate``, ``score``): a checkpoint file, a run folder or a
run name, a snapshot epoch or best.pt; every problem is a :class:`CliError`."""

from __future__ import annotations

import sys
from pathlib import Path

from .options import CliError


def resolve_checkpoint(text: str, runs_dir: str | None) -> Path:
    """A checkpoint file, a run folder (its checkpoint.pt) or a run name in the runs dir."""
    from ..core.runs import CHECKPOINT_FILE, CONFIG_FILE, RunDir, RunError, default_runs_dir

    given = Path(text).expanduser()
    if given.is_file():
        return given
    if given.is_dir():
        candidate = given / CHECKPOINT_FILE
        if candidate.is_file():
            return candidate
        if not (given / CONFIG_FILE).is_file():
            raise CliError(f"checkpoint: {given} is not a run folder (it has no {CONFIG_FILE} or {CHECKPOINT_FILE})")
        raise CliError(f"checkpoint: {given} has no {CHECKPOINT_FILE} (the run saved none yet)")
    try:
        run = RunDir.open(text, runs_dir)
    except RunError:
        root = Path(runs_dir) if runs_dir else default_runs_dir()
        raise CliError(
            f"checkpoint: no checkpoint file, run folder or run named {text!r} (runs are looked up in {root}; "
            "see 'lstm-tui runs')"
        ) from None
    if not run.has_checkpoint():
        raise CliError(f"checkpoint: run {run.name} has no checkpoint yet ({run.checkpoint_path})")
    return run.checkpoint_path


def load_for_cli(checkpoint: str, runs_dir: str | None, device_name: str, epoch: int | None = None, best: bool = False):
    """``(model, vocab, config, device)`` of ``--checkpoint`` (a file, a run folder or a run name),
    with ``--epoch N`` of that run's time-lapse snapshot of epoch N, with ``--best`` of its
    best.pt (kept by early stopping); problems are CliErrors."""
    if epoch is not None:
        device = _device(device_name)
        return (*_load_snapshot(checkpoint, runs_dir, device, epoch), device)
    path = resolve_checkpoint(checkpoint, runs_dir)
    device = _device(device_name)
    from ..core.checkpoint import CheckpointError, load_model

    try:
        model, vocab, config, loaded = load_model(path, device=device, best=best)
    except CheckpointError as exc:
        raise CliError(f"checkpoint: {exc}") from None
    note = "" if best else _older_checkpoint_note(path, loaded.epoch)
    if note:
        print(f"note: {note}", file=sys.stderr, flush=True)
    return model, vocab, config, device


def _load_snapshot(checkpoint: str, runs_dir: str | None, device, epoch: int):
    from ..core.runs import RunDir, RunError
    from ..core.timelapse import load_snapshot_with_vocab

    given = Path(checkpoint).expanduser()
    folder = given.parent if given.is_file() else given
    try:
        run = RunDir(folder) if folder.is_dir() else RunDir.open(checkpoint, runs_dir)
        return load_snapshot_with_vocab(run, epoch, device)
    except RunError as exc:
        raise CliError(f"--epoch: {exc}") from None


def _older_checkpoint_note(path: Path, epoch: int) -> str:
    """What to say when ``path`` is a run's checkpoint older than the run's last epoch (its
    later checkpoints could not be written): '' otherwise."""
    from ..core.runs import CHECKPOINT_FILE, ENDED_STATUSES, RunDir

    if path.name != CHECKPOINT_FILE:
        return ""
    summary = RunDir(path.parent).summary()
    if summary is None or summary.status not in ENDED_STATUSES or summary.epoch is None or epoch >= summary.epoch:
        return ""
    return (
        f"the checkpoint holds epoch {epoch}, not the run's last epoch {summary.epoch} "
        f"(later checkpoints could not be written); generating with epoch {epoch}'s weights"
    )


def _device(name: str):
    from ..core.config import ConfigError, parse_field
    from ..core.device import DeviceError, resolve_device

    try:
        return resolve_device(parse_field("device", name))
    except (ConfigError, DeviceError) as exc:
        raise CliError(
            f"device: {getattr(exc, 'message', exc)}" if isinstance(exc, ConfigError) else f"device: {exc}"
        ) from None
