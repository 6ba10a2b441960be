"""Checkpoints of a run: atomic save, safe load (``torch.load(weights_only=True)`` only).

A checkpoint is one ``torch.save``'d dict of plain values and tensors. The engine writes these
keys (``format`` and ``saved_at`` are added by :func:`save_checkpoint`):

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

Loading never executes code from the file: ``torch.load`` runs with ``weights_only=True``, so a
pickle that names a function or class is refused. Every problem (missing file, a folder,
truncated or corrupt bytes, not a PyTorch file, a PyTorch file that is not ours, missing keys,
a config that no longer validates, weights of another shape) raises :class:`CheckpointError`
with a readable reason.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_write_bytes
from .config import ConfigError, RunConfig

__all__ = [
    "FORMAT",
    "REQUIRED_KEYS",
    "CheckpointError",
    "Checkpoint",
    "save_checkpoint",
    "load_checkpoint",
    "load_model",
    "model_from_checkpoint",
    "describe_state_mismatch",
]

FORMAT = "lstm-tui/1"
REQUIRED_KEYS: tuple[str, ...] = ("format", "config", "vocab", "model")

_ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(Exception):
    """A checkpoint could not be written or read; ``str()`` says why in plain words."""

    def __init__(self, message: str, path: str | os.PathLike | None = None):
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
    optimizer_state: dict | None
    epoch: int
    batch: int
    history: list[dict]
    rng: dict
    carry: tuple[torch.Tensor, ...] | None
    accum: dict
    elapsed_s: float
    saved_at: str
    format: str = FORMAT
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def at_epoch_boundary(self) -> bool:
        return self.batch == 0


# ----------------------------------------------------------------------------- saving
def save_checkpoint(path: str | os.PathLike, payload: dict) -> Path:
    """Write ``payload`` (plus ``format`` and ``saved_at``) to ``path`` atomically.

    On failure (disk full, permission denied, a value that would not load back safely) the
    previous file at ``path`` is untouched, no temporary file is left, and
    :class:`CheckpointError` is raised.
    """
    target = Path(path)
    if not isinstance(payload, dict):
        raise CheckpointError(f"a checkpoint payload must be a dict, not {type(payload).__name__}", target)
    data = {key: _plain(value, key) for key, value in payload.items()}
    data["format"] = FORMAT
    data["saved_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    buffer = io.BytesIO()
    try:
        torch.save(data, buffer)
    except Exception as exc:  # pragma: no cover - _plain already rejects what torch cannot save
        raise CheckpointError(f"could not serialise the checkpoint: {exc}", target) from exc
    if target.is_dir():
        raise CheckpointError(f"cannot save a checkpoint to {target}: it is a folder", target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, buffer.getvalue())
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CheckpointError(
            f"could not write checkpoint {target}: {reason}; the previous checkpoint (if any) is kept", target
        ) from exc
    return target


_SCALARS = (str, int, float, bool, bytes, type(None))


def _plain(value: Any, where: str) -> Any:
    """Check that ``value`` will load back under ``weights_only=True``; unwrap numpy scalars."""
    if type(value) in _SCALARS or isinstance(value, (torch.Tensor, torch.Size, torch.dtype, torch.device)):
        return value
    if isinstance(value, bool):  # numpy.bool_ is not a bool subclass; this covers odd subclasses
        return bool(value)
    for plain in (int, float, str, bytes):  # subclasses (numpy.float64, IntEnum, ...) as plain values
        if isinstance(value, plain):
            return plain(value)
    if isinstance(value, dict):
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(_plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, list):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    item = getattr(value, "item", None)  # numpy scalars (np.float64 and friends)
    if type(value).__module__ == "numpy" and callable(item) and getattr(value, "shape", None) == ():
        return item()
    raise CheckpointError(
        f"cannot save {type(value).__module__}.{type(value).__qualname__} at {where!r} in a checkpoint; "
        "only tensors, numbers, texts, lists, tuples and dicts load back safely"
    )


# ----------------------------------------------------------------------------- loading
def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> Checkpoint:
    """Read and check a checkpoint written by :func:`save_checkpoint`."""
    source = Path(path)
    raw = _read_payload(source, map_location)
    fmt = raw.get("format")
    if fmt is None:
        hint = " (it looks like a bare state_dict)" if raw and all(isinstance(v, torch.Tensor) for v in raw.values()) else ""
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
    from .data import Vocab  # late: the data package imports heavier things

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


def _read_payload(source: Path, map_location: Any) -> dict:
    if not source.exists():
        raise CheckpointError(f"no checkpoint at {source}", source)
    if source.is_dir():
        raise CheckpointError(f"{source} is a folder, not a checkpoint file", source)
    try:
        with open(source, "rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {source}: {exc.strerror or exc}", source) from exc
    if not head:
        raise CheckpointError(f"checkpoint {source} is empty", source)
    if head != _ZIP_MAGIC:
        raise CheckpointError(f"{source} is not a PyTorch checkpoint file (unknown file type)", source)
    damaged = f"checkpoint {source} is truncated or corrupt"
    try:
        with zipfile.ZipFile(source) as archive:
            bad_member = archive.testzip()  # CRC of every member: catches truncation and bit rot
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise CheckpointError(f"{damaged} ({exc})", source) from exc
    if bad_member is not None:
        raise CheckpointError(f"{damaged} (bad data in {bad_member})", source)
    try:
        payload = torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = _unsafe_detail(str(exc))
        raise CheckpointError(
            f"refusing to load {source}: it holds Python objects other than tensors and plain data{detail}; "
            "it is not an lstm-tui checkpoint or it was tampered with",
            source,
        ) from exc
    except Exception as exc:  # RuntimeError, EOFError, KeyError, ValueError... from damaged archives
        raise CheckpointError(f"{damaged} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})", source) from exc
    if not isinstance(payload, dict):
        raise CheckpointError(
            f"{source} is a PyTorch file but not an lstm-tui checkpoint (it holds a {type(payload).__name__})", source
        )
    return payload


def _unsafe_detail(message: str) -> str:
    for line in message.splitlines():
        line = line.strip()
        if "GLOBAL" in line or "Unsupported" in line or "unsupported" in line:
            return f" ({line.rstrip('.')})"
    return ""


def _int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} should be a whole number >= 0, not {value!r}")
    return value


def _float(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} should be a finite number, not {value!r}")
    return float(value)


def _history(value: Any) -> list[dict]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(row, dict) for row in value):
        raise ValueError("history should be a list of dicts")
    return [dict(row) for row in value]


def _python_random_state(value: Any) -> tuple:
    """``random.getstate()`` back to the exact shape ``random.setstate`` takes."""
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise ValueError("rng.python_epoch is not a Python random state")
    version, internal, gauss = value
    if isinstance(internal, torch.Tensor):
        internal = internal.tolist()
    if not isinstance(internal, (list, tuple)) or not all(isinstance(i, int) for i in internal):
        raise ValueError("rng.python_epoch is not a Python random state")
    return (int(version), tuple(int(i) for i in internal), gauss)


def _rng(value: Any) -> dict:
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


def _accum(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError("accum should be a dict")
    return dict(value)


# ----------------------------------------------------------------------------- models
def load_model(path: str | os.PathLike, device: Any = "cpu"):
    """Rebuild the model of a checkpoint: ``(model, vocab, config, checkpoint)``, model in eval mode.

    Weights that do not fit the model the checkpoint's config and vocabulary describe raise
    :class:`CheckpointError` saying what differs.
    """
    checkpoint = load_checkpoint(path, map_location="cpu")
    model = model_from_checkpoint(checkpoint, device)
    return model, checkpoint.vocab, checkpoint.config, checkpoint


def model_from_checkpoint(checkpoint: Checkpoint, device: Any = "cpu"):
    """Build ``checkpoint.config``'s model for ``len(checkpoint.vocab)`` tokens and load the weights."""
    from .models import build_model

    config, vocab_size = checkpoint.config, len(checkpoint.vocab)
    try:
        model = build_model(config, vocab_size)
    except Exception as exc:
        raise CheckpointError(f"cannot build the model of checkpoint {checkpoint.path}: {exc}", checkpoint.path) from exc
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


def describe_state_mismatch(expected: dict, found: dict, config: RunConfig, vocab_size: int) -> str:
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
        listed = ", ".join(
            f"{k} {tuple(found[k].shape)} vs {tuple(expected[k].shape)}" for k in shaped[:4]
        ) + (f" and {len(shaped) - 4} more" if len(shaped) > 4 else "")
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
    return f"{config.impl} {config.cell}, {config.layers} layer(s), hidden {config.hidden}, vocab {vocab_size}{direction}"


def _expected_size(name: str, config: RunConfig, vocab_size: int) -> int:
    return vocab_size if name == "vocab" else config.hidden


def _infer_sizes(expected: dict, found: dict, keys: list[str], config: RunConfig, vocab_size: int) -> dict:
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
