"""Checkpoints of a run, as models: rebuild a checkpoint's model and say why weights do not fit.

The file format and its reading and writing live with the run folder (:mod:`.runs.payload`:
the payload dict; :mod:`.runs.checkpoint_io`: atomic save, ``weights_only`` load); they are
re-exported here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import RunConfig
from .runs.checkpoint_io import load_checkpoint, save_checkpoint
from .runs.files import BEST_FILE
from .runs.payload import FORMAT, REQUIRED_KEYS, Checkpoint, CheckpointError, make_payload

if TYPE_CHECKING:
    from .data.vocab import Vocab
    from .models.base import RecurrentLM

__all__ = [
    "FORMAT",
    "REQUIRED_KEYS",
    "CheckpointError",
    "Checkpoint",
    "make_payload",
    "save_checkpoint",
    "load_checkpoint",
    "load_model",
    "best_path",
    "model_from_checkpoint",
    "describe_state_mismatch",
]


# ----------------------------------------------------------------------------- models
def load_model(
    path: str | os.PathLike[str],
    device: Any = "cpu",
    best: bool = False,
) -> tuple[RecurrentLM, Vocab, RunConfig, Checkpoint]:
    """Rebuild the model of a checkpoint: ``(model, vocab, config, checkpoint)``, model in eval mode.

    ``best``: the run's ``best.pt`` instead (``path`` is its run folder or a file in it, e.g.
    its checkpoint.pt); a run without one raises :class:`CheckpointError` saying why.
    Weights that do not fit the model the checkpoint's config and vocabulary describe raise
    :class:`CheckpointError` saying what differs.
    """
    if best:
        path = best_path(path)
    checkpoint = load_checkpoint(path, map_location="cpu")
    model = model_from_checkpoint(checkpoint, device)
    return model, checkpoint.vocab, checkpoint.config, checkpoint


def best_path(path: str | os.PathLike[str]) -> Path:
    """The ``best.pt`` of the run that ``path`` (its folder, or a file in it) belongs to;
    :class:`CheckpointError` when it has none."""
    given = Path(path)
    target = given if given.name == BEST_FILE else (given if given.is_dir() else given.parent) / BEST_FILE
    if not target.is_file():
        raise CheckpointError(
            f"{target.parent} has no {BEST_FILE}: it is kept by runs with early stopping "
            "(early_stop_patience > 0 and val_split > 0)",
            target,
        )
    return target


def model_from_checkpoint(checkpoint: Checkpoint, device: Any = "cpu") -> RecurrentLM:
    """Build ``checkpoint.config``'s model for ``len(checkpoint.vocab)`` tokens and load the weights."""
    from .models import build_model

    config, vocab_size = checkpoint.config, len(checkpoint.vocab)
    try:
        model = build_model(config, vocab_size)
    except Exception as exc:
        raise CheckpointError(
            f"cannot build the model of checkpoint {checkpoint.path}: {exc}", checkpoint.path
        ) from exc
    problem = describe_state_mismatch(model.state_dict(), checkpoint.model_state, config, vocab_size)
    if problem:
        raise CheckpointError(f"checkpoint {checkpoint.path} does not fit its model: {problem}", checkpoint.path)
    try:
        model.load_state_dict(checkpoint.model_state, strict=True)
    except RuntimeError as exc:  # pragma: no cover - describe_state_mismatch catches these first
        raise CheckpointError(f"checkpoint {checkpoint.path} does not fit its model: {exc}", checkpoint.path) from exc
    model.to(device)
    model.eval()
    return model


def describe_state_mismatch(expected: dict[str, Any], found: dict[str, Any], config: RunConfig, vocab_size: int) -> str:
    """'' when ``found`` fits ``expected`` (a model's state_dict), else what differs, in words."""
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    shaped = [k for k in expected if k in found and tuple(expected[k].shape) != tuple(found[k].shape)]
    if not (missing or unexpected or shaped):
        return ""
    model_desc = _model_words(config, vocab_size)
    parts = []
    if shaped:
        inferred = _infer_sizes(expected, found, shaped, config, vocab_size)
        if inferred:
            ckpt = " / ".join(f"{name} {value}" for name, value in inferred.items())
            want = " / ".join(f"{name} {_expected_size(name, config, vocab_size)}" for name in inferred)
            parts.append(f"checkpoint has {ckpt}, this model expects {want}")
        listed = ", ".join(f"{k} {tuple(found[k].shape)} vs {tuple(expected[k].shape)}" for k in shaped[:4]) + (
            f" and {len(shaped) - 4} more" if len(shaped) > 4 else ""
        )
        parts.append(f"weights of another shape (checkpoint vs model): {listed}")
    if missing:
        parts.append("weights missing from the checkpoint: " + _names(missing))
    if unexpected:
        parts.append("weights this model does not have: " + _names(unexpected))
    return f"{'; '.join(parts)} (model: {model_desc})"


def _names(keys: list[str]) -> str:
    return ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")


def _model_words(config: RunConfig, vocab_size: int) -> str:
    direction = ", bidirectional" if config.bidirectional else ""
    return (
        f"{config.impl} {config.cell}, {config.layers} layer(s), hidden {config.hidden}, vocab {vocab_size}{direction}"
    )


def _expected_size(name: str, config: RunConfig, vocab_size: int) -> int:
    return vocab_size if name == "vocab" else config.hidden


def _infer_sizes(
    expected: dict[str, Any], found: dict[str, Any], keys: list[str], config: RunConfig, vocab_size: int
) -> dict[str, Any]:
    """Guess the checkpoint's vocab / hidden size from the dimensions that differ."""
    gates = {"lstm": 4, "gru": 3, "rnn": 1}.get(config.cell, 1)
    directions = 2 if config.bidirectional else 1
    sizes: dict[str, int] = {}
    for key in keys:
        want, have = tuple(expected[key].shape), tuple(found[key].shape)
        if len(want) != len(have):
            continue
        for w, h in zip(want, have):
            if w == h:
                continue
            if w == vocab_size and "vocab" not in sizes:
                sizes["vocab"] = h
            elif "hidden" not in sizes:
                for factor in (1, gates, directions, gates * directions):
                    if w == factor * config.hidden and h % factor == 0:
                        sizes["hidden"] = h // factor
                        break
    return dict(sorted(sizes.items(), key=lambda item: item[0] != "vocab"))
