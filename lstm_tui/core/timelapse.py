"""Time-lapse: a run's weight snapshots every K epochs, reloaded as models, and the flip-book
(the same prefix written greedily at every snapshot: how "time traveller" emerged from noise).

The trainer writes the snapshots (``snapshot_every`` epochs; 0 is auto: about
:data:`~.runs.snapshots.SNAPSHOT_CAP` per run); their files are :mod:`.runs.snapshots`'s.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .config import RunConfig
from .runs import RunDir, RunError
from .runs.snapshots import SNAPSHOT_CAP, SnapshotInfo, list_snapshot_files, read_snapshot

if TYPE_CHECKING:
    from .data.vocab import Vocab
    from .models.base import RecurrentLM

__all__ = [
    "SnapshotInfo",
    "snapshot_interval",
    "snapshot_plan",
    "list_snapshots",
    "load_snapshot",
    "load_snapshot_with_vocab",
    "flip_book",
]

RunLike = RunDir | str | os.PathLike[str]


def snapshot_interval(config: RunConfig) -> int:
    """Epochs between snapshots: ``snapshot_every``, or for 0 (auto) ``max(1, epochs // cap)``."""
    return config.snapshot_every or max(1, config.epochs // SNAPSHOT_CAP)


def snapshot_plan(config: RunConfig, parameters: int) -> str:
    """The disk use, in words: 'snapshots: every 10 epochs, about 50 x 0.9 MB'."""
    every = snapshot_interval(config)
    count = min(SNAPSHOT_CAP, max(1, config.epochs // every))
    size = parameters * 4  # float32 weights
    each = f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} KB"
    return f"snapshots: every {every} epoch{'s' if every != 1 else ''}, about {count} x {each}"


def _run(run: RunLike) -> RunDir:
    return run if isinstance(run, RunDir) else RunDir.open(run)


def list_snapshots(run: RunLike) -> list[SnapshotInfo]:
    """The run's snapshots, oldest first: ``SnapshotInfo(epoch, path, bytes)``."""
    return list_snapshot_files(_run(run).path)


def load_snapshot_with_vocab(run: RunLike, epoch: int, device: Any = "cpu") -> tuple[RecurrentLM, Vocab, RunConfig]:
    """``(model in eval mode, vocab, config)`` of the snapshot at ``epoch``; RunError if none."""
    from .checkpoint import describe_state_mismatch
    from .data.vocab import Vocab
    from .models import build_model

    folder = _run(run)
    infos = {info.epoch: info for info in list_snapshot_files(folder.path)}
    if epoch not in infos:
        have = ", ".join(str(e) for e in sorted(infos)) or "none"
        raise RunError(f"run {folder.name} has no snapshot of epoch {epoch} (snapshots: {have})")
    data = read_snapshot(infos[epoch].path)
    config = folder.read_config()
    vocab = Vocab.from_list(list(data["vocab"]))
    model = build_model(config, len(vocab))
    problem = describe_state_mismatch(model.state_dict(), data["model_state"], config, len(vocab))
    if problem:
        raise RunError(f"snapshot {infos[epoch].path} does not fit the run's model: {problem}")
    model.load_state_dict(data["model_state"], strict=True)
    model.to(device)
    model.eval()
    return model, vocab, config


def load_snapshot(run: RunLike, epoch: int, device: Any = "cpu") -> RecurrentLM:
    """The model as it was at ``epoch`` (bit-identical weights), in eval mode."""
    return load_snapshot_with_vocab(run, epoch, device)[0]


def flip_book(
    run: RunLike, prefix: str | None = None, length: int | None = None, device: Any = "cpu"
) -> list[tuple[int, str]]:
    """``(epoch, text)`` for every snapshot: ``prefix`` (default: the run's first) continued
    greedily by ``length`` tokens (default: its predict_length). Bad prefixes raise
    :class:`~.generate.GenerationError`."""
    from .generate import predict

    out = []
    for info in list_snapshots(run):
        model, vocab, config = load_snapshot_with_vocab(run, info.epoch, device)
        text = predict(
            model,
            vocab,
            prefix if prefix is not None else config.prefix[0],
            length if length is not None else config.predict_length,
        )
        out.append((info.epoch, text))
    return out
