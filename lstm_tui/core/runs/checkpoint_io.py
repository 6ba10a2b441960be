"""Checkpoint files: atomic save, safe load (``torch.load(weights_only=True)`` only).

Loading never executes code from the file: ``torch.load`` runs with ``weights_only=True``, so a
pickle that names a function or class is refused. Every problem (missing file, a folder,
truncated or corrupt bytes, not a PyTorch file, a PyTorch file that is not ours, missing keys,
a config that no longer validates, weights of another shape) raises :class:`CheckpointError`
with a readable reason. What the file holds is payload.py's.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write_bytes
from .payload import FORMAT, Checkpoint, CheckpointError, checkpoint_from_payload

_ZIP_MAGIC = b"PK\x03\x04"


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
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
    plains: tuple[type[Any], ...] = (int, float, str, bytes)
    for plain in plains:  # subclasses (numpy.float64, IntEnum, ...) as plain values
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
def load_checkpoint(path: str | os.PathLike[str], map_location: Any = "cpu") -> Checkpoint:
    """Read and check a checkpoint written by :func:`save_checkpoint`."""
    source = Path(path)
    return checkpoint_from_payload(_read_payload(source, map_location), source)


def _read_payload(source: Path, map_location: Any) -> dict[str, Any]:
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
        raise CheckpointError(
            f"{damaged} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})", source
        ) from exc
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
