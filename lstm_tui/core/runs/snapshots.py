"""The time-lapse's files: small weight snapshots in ``<run>/snapshots/epoch-00010.pt``.

A snapshot is the model's weights (a CPU state dict), its epoch and the vocabulary (a few dozen
tokens, so a snapshot can be read before the run has a checkpoint), written atomically. A run
keeps about :data:`SNAPSHOT_CAP` of them: when there are more, every other older one is removed
(the newest stays), so the spacing doubles and the count stays near the cap. torch is imported
only by the functions that read or write a snapshot's contents.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_bytes
from .files import SNAPSHOT_PATTERN, SNAPSHOTS_DIR, RunError

#: The most snapshots a run keeps (thinned past it).
SNAPSHOT_CAP = 50
SNAPSHOT_FORMAT = "lstm-tui-snapshot/1"
_NAME = re.compile(r"^epoch-(\d+)\.pt$")


@dataclass(frozen=True)
class SnapshotInfo:
    epoch: int
    path: Path
    bytes: int


def snapshots_dir(run_path: str | os.PathLike[str]) -> Path:
    return Path(run_path) / SNAPSHOTS_DIR


def list_snapshot_files(run_path: str | os.PathLike[str]) -> list[SnapshotInfo]:
    """The run's snapshots, oldest first (none: an empty list)."""
    folder = snapshots_dir(run_path)
    found = []
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise RunError(f"cannot list {folder}: {exc.strerror or exc}") from exc
    for entry in entries:
        match = _NAME.match(entry.name)
        if match and entry.is_file():
            found.append(SnapshotInfo(int(match.group(1)), Path(entry.path), entry.stat().st_size))
    return sorted(found, key=lambda info: info.epoch)


def write_snapshot(
    run_path: str | os.PathLike[str], epoch: int, model_state: dict[str, Any], vocab: list[str], cap: int = SNAPSHOT_CAP
) -> Path:
    """Write epoch ``epoch``'s weights atomically, then thin the folder to about ``cap``."""
    import torch

    folder = snapshots_dir(run_path)
    path = folder / SNAPSHOT_PATTERN.format(epoch=epoch)
    buffer = io.BytesIO()
    state = {k: v.detach().to("cpu", copy=True) for k, v in model_state.items()}
    torch.save({"format": SNAPSHOT_FORMAT, "epoch": int(epoch), "model_state": state, "vocab": list(vocab)}, buffer)
    try:
        folder.mkdir(exist_ok=True)
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as exc:
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from exc
    thin_snapshots(run_path, cap)
    return path


def thin_snapshots(run_path: str | os.PathLike[str], cap: int = SNAPSHOT_CAP) -> list[int]:
    """Over ``cap`` snapshots: remove every other one (the 2nd, 4th... oldest; never the newest).
    Returns the epochs removed."""
    infos = list_snapshot_files(run_path)
    if len(infos) <= cap:
        return []
    doomed = [info for i, info in enumerate(infos[:-1]) if i % 2 == 1]
    for info in doomed:
        try:
            info.path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise RunError(f"cannot remove {info.path}: {exc.strerror or exc}") from exc
    return [info.epoch for info in doomed]


def read_snapshot(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A snapshot's dict (``epoch``, ``model_state``, ``vocab``), read with ``weights_only``."""
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise RunError(f"no snapshot {path}") from None
    except Exception as exc:  # noqa: BLE001 - a torn or foreign file: say which
        raise RunError(f"cannot read snapshot {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != SNAPSHOT_FORMAT:
        raise RunError(f"{path} is not an lstm-tui snapshot")
    return data
