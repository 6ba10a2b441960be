"""The checkpoint payload: the one place that builds the dict a checkpoint file holds
(:func:`make_payload`) and reads it back, checked, as a :class:`Checkpoint`
(:func:`checkpoint_from_payload`). The file itself (atomic save, safe load) is checkpoint_io.py.

The keys (``format`` and ``saved_at`` are added when saving):

==============  ==============================================================================
``format``      ``"lstm-tui/1"``; a file without it (or with another value) is not ours
``saved_at``    ISO 8601 time of saving (UTC)
``config``      ``RunConfig.to_dict()``
``vocab``       the vocabulary as a list of tokens (``Vocab.to_list()``; index = token id)
``model``       the model's ``state_dict()``
``optimizer``   the optimizer's ``state_dict()`` (or ``None``)
``epoch``       completed epochs
``batch``       batches done in the current epoch (0 at an epoch boundary)
``history``     list of dicts: ``epoch, perplexity, val_perplexity, tokens_per_s, elapsed_s``
``rng``         dict: ``"torch"`` (ByteTensor from ``torch.get_rng_state()``), ``"python_epoch"``
                (``random.getstate()`` at the start of the current epoch, a tuple), optional
                ``"cuda"`` (list of ByteTensors)
``carry``       tuple of tensors (the hidden state carried by sequential sampling) or ``None``
``accum``       dict ``loss_sum: float, tokens: int`` for the partial epoch
``elapsed_s``   training wall time so far, seconds (float)
==============  ==============================================================================

"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import ConfigError, RunConfig

FORMAT = "lstm-tui/1"
REQUIRED_KEYS: tuple[str, ...] = ("format", "config", "vocab", "model")


class CheckpointError(Exception):
    """A checkpoint could not be written or read; ``str()`` says why in plain words."""

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None):
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None


@dataclass
class Checkpoint:
    """Typed access to a loaded checkpoint; ``raw`` is the payload dict as loaded."""

    path: Path
    config: RunConfig
    vocab: Any  # lstm_tui.core.data.Vocab
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None
    epoch: int
    batch: int
    history: list[dict[str, Any]]
    rng: dict[str, Any]
    carry: tuple[torch.Tensor, ...] | None
    accum: dict[str, Any]
    elapsed_s: float
    saved_at: str
    format: str = FORMAT
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def make_payload(
    *,
    config: RunConfig,
    vocab: Any,
    model_state: dict[str, Any],
    optimizer_state: dict[str, Any] | None,
    epoch: int,
    batch: int,
    history: list[dict[str, Any]],
    rng: dict[str, Any],
    carry: tuple[Any, ...] | None,
    accum: dict[str, Any] | None,
    elapsed_s: float,
) -> dict[str, Any]:
    """The dict a checkpoint holds (``carry`` and ``accum`` count only mid-epoch: ``batch`` > 0)."""
    mid_epoch = batch > 0
    return {
        "config": config.to_dict(),
        "vocab": vocab.to_list(),
        "model": model_state,
        "optimizer": optimizer_state,
        "epoch": epoch,
        "batch": batch,
        "history": [dict(row) for row in history],
        "rng": rng,
        "carry": carry if mid_epoch else None,
        "accum": dict(accum) if mid_epoch and accum else {"loss_sum": 0.0, "tokens": 0},
        "elapsed_s": elapsed_s,
    }


def checkpoint_from_payload(raw: dict[str, Any], source: str | os.PathLike[str]) -> Checkpoint:
    """The payload ``raw`` (read from ``source``) checked and typed; :class:`CheckpointError` says
    what is wrong (not ours, another format, missing keys, a config that no longer validates...)."""
    source = Path(source)
    fmt = raw.get("format")
    if fmt is None:
        hint = (
            " (it looks like a bare state_dict)"
            if raw and all(isinstance(v, torch.Tensor) for v in raw.values())
            else ""
        )
        raise CheckpointError(f"{source} is a PyTorch file but not an lstm-tui checkpoint{hint}", source)
    if fmt != FORMAT:
        raise CheckpointError(
            f"{source} has checkpoint format {fmt!r}; this version of lstm-tui reads {FORMAT!r}", source
        )
    missing = [key for key in REQUIRED_KEYS if key not in raw]
    if missing:
        raise CheckpointError(f"checkpoint {source} is incomplete: missing {', '.join(missing)}", source)

    config_map = raw["config"]
    if not isinstance(config_map, dict):
        raise CheckpointError(f"checkpoint {source} has a broken config ({type(config_map).__name__})", source)
    try:
        config = RunConfig.from_mapping(config_map)
    except ConfigError as exc:
        raise CheckpointError(
            f"the config in checkpoint {source} is no longer valid ({exc}); start a new run", source
        ) from exc

    tokens = raw["vocab"]
    if not isinstance(tokens, (list, tuple)) or not tokens or not all(isinstance(t, str) for t in tokens):
        raise CheckpointError(f"checkpoint {source} has a broken vocabulary (expected a list of tokens)", source)
    from ..data import Vocab  # late: the data package imports heavier things

    try:
        vocab = Vocab.from_list(list(tokens))
    except Exception as exc:
        raise CheckpointError(f"checkpoint {source} has a broken vocabulary: {exc}", source) from exc

    model_state = raw["model"]
    if not isinstance(model_state, dict) or not all(isinstance(v, torch.Tensor) for v in model_state.values()):
        raise CheckpointError(f"checkpoint {source} has no usable model weights", source)

    optimizer_state = raw.get("optimizer")
    if optimizer_state is not None and not isinstance(optimizer_state, dict):
        raise CheckpointError(f"checkpoint {source} has a broken optimizer state", source)

    try:
        epoch = _int(raw.get("epoch", 0), "epoch")
        batch = _int(raw.get("batch", 0), "batch")
        elapsed = _float(raw.get("elapsed_s", 0.0), "elapsed_s")
        history = _history(raw.get("history") or [])
        rng = _rng(raw.get("rng") or {})
        carry = _carry(raw.get("carry"))
        accum = _accum(raw.get("accum") or {})
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {source} is damaged: {exc}", source) from exc

    return Checkpoint(
        path=source,
        config=config,
        vocab=vocab,
        model_state=model_state,
        optimizer_state=optimizer_state,
        epoch=epoch,
        batch=batch,
        history=history,
        rng=rng,
        carry=carry,
        accum=accum,
        elapsed_s=elapsed,
        saved_at=str(raw.get("saved_at", "")),
        format=fmt,
        raw=raw,
    )


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} should be a whole number >= 0, not {value!r}")
    return value


def _float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} should be a finite number, not {value!r}")
    return float(value)


def _history(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(row, dict) for row in value):
        raise ValueError("history should be a list of dicts")
    return [dict(row) for row in value]


def _python_random_state(value: Any) -> tuple[Any, ...]:
    """``random.getstate()`` back to the exact shape ``random.setstate`` takes."""
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ValueError("rng.python_epoch is not a Python random state")
    version, internal, gauss = value
    if isinstance(internal, torch.Tensor):
        internal = internal.tolist()
    if not isinstance(internal, (list, tuple)) or not all(isinstance(i, int) for i in internal):
        raise ValueError("rng.python_epoch is not a Python random state")
    return (int(version), tuple(int(i) for i in internal), gauss)


def _rng(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("rng should be a dict")
    rng = dict(value)
    if rng.get("torch") is not None and not isinstance(rng["torch"], torch.Tensor):
        raise ValueError("rng.torch should be a ByteTensor")
    if rng.get("python_epoch") is not None:
        rng["python_epoch"] = _python_random_state(rng["python_epoch"])
    return rng


def _carry(value: Any) -> tuple[torch.Tensor, ...] | None:
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return (value,)
    if not isinstance(value, (list, tuple)) or not all(isinstance(t, torch.Tensor) for t in value):
        raise ValueError("carry should be a tuple of tensors")
    return tuple(value)


def _accum(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("accum should be a dict")
    return dict(value)
