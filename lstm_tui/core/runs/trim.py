"""Mending a run folder when a trainer takes it over: metrics and samples back in step with the
checkpoint it resumes from, and the temporary files a killed write left removed."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..atomic import TEMP_SUFFIX, atomic_write_bytes
from .files import (
    BEST_FILE,
    CHECKPOINT_FILE,
    CONFIG_FILE,
    METRICS_FILE,
    SAMPLES_FILE,
    SNAPSHOTS_DIR,
    SUMMARY_FILE,
    is_knob_record,
)

#: The files whose atomic writes may leave a temporary file behind when the process is killed.
_ATOMIC_FILES = (CHECKPOINT_FILE, BEST_FILE, SUMMARY_FILE, METRICS_FILE, SAMPLES_FILE, CONFIG_FILE)


def remove_stale_temp_files(folder: str | os.PathLike[str]) -> list[Path]:
    """Delete ``.checkpoint.pt.*.tmp`` (and the other run files' temporaries) in ``folder``: left
    by a kill during an atomic write (snapshots/'s ``.epoch-*.pt.*.tmp`` too). Call it only while
    holding the folder's lock; returns them."""
    prefixes = tuple(f".{name}." for name in _ATOMIC_FILES)  # atomic.py's temporary names: .NAME.XXXX.tmp
    return _remove_temps(Path(folder), prefixes) + _remove_temps(Path(folder) / SNAPSHOTS_DIR, (".epoch-",))


def _remove_temps(folder: Path, prefixes: tuple[str, ...]) -> list[Path]:
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(prefixes) and entry.name.endswith(TEMP_SUFFIX):
            try:
                entry.unlink()
                removed.append(entry)
            except OSError:
                pass
    return removed


def repair_run_files(
    folder: str | os.PathLike[str], epoch: int, history: Iterable[dict[str, Any]], batch: int = 0
) -> None:
    """Put metrics.jsonl and samples.jsonl in step with a checkpoint at ``epoch`` (``batch``
    batches into the next one) whose history is ``history``: every history epoch once, in
    order (a line torn by a kill comes back from the history), lines of epochs after ``epoch``
    dropped (they are trained again), torn lines dropped. Live-knob records stay in place when
    the checkpoint holds their change (before its epoch, or before its batch), else they go.
    Files are rewritten (atomically) only when something changes."""
    base = Path(folder)
    _rewrite_metrics(base / METRICS_FILE, epoch, list(history), batch)
    _rewrite_samples(base / SAMPLES_FILE, epoch)


def _records(path: Path) -> tuple[list[tuple[bytes, object]], bool]:
    """``([(line, record or None)], torn)``: the file's lines; ``torn`` when one did not parse."""
    try:
        lines = path.read_bytes().split(b"\n")
    except FileNotFoundError:
        return [], False
    out, torn = [], False
    for line in lines:
        if not line.strip():
            continue
        try:
            out.append((line, json.loads(line)))
        except ValueError:
            torn = True
    return out, torn


def _epoch_of(record: object) -> int | None:
    value = record.get("epoch") if isinstance(record, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _knob_kept(record: object, epoch: int, batch: int) -> tuple[int, int] | None:
    """A knob record's place ``(epoch, batch)`` when the checkpoint holds its change, else None."""
    number, done = _epoch_of(record), record.get("batch") if isinstance(record, dict) else None
    if number is None or not isinstance(done, int):
        return None
    if number <= epoch or (number == epoch + 1 and batch > 0 and done <= batch):
        return number, done
    return None


def _rewrite_metrics(path: Path, epoch: int, history: list[dict[str, Any]], batch: int = 0) -> None:
    records, torn = _records(path)
    by_epoch: dict[int, bytes] = {}
    knobs: list[tuple[tuple[int, int], bytes]] = []  # during epoch N: before epoch N's line
    others = []  # lines without an epoch: kept, after the epochs
    for line, record in records:
        number = _epoch_of(record)
        if is_knob_record(record):
            place = _knob_kept(record, epoch, batch)
            if place is not None:
                knobs.append((place, line))
        elif number is None:
            others.append(line)
        elif number <= epoch:
            by_epoch.setdefault(number, line)
    for row in history:
        number = _epoch_of(row)
        if number is not None and number <= epoch and number not in by_epoch:
            by_epoch[number] = json.dumps(row, ensure_ascii=False).encode("utf-8")
    places = [((number, 1, 0), line) for number, line in by_epoch.items()]
    places += [((number, 0, done), line) for (number, done), line in knobs]
    keep = [line for _, line in sorted(places, key=lambda item: item[0])] + others
    if (torn or keep != [line for line, _ in records]) and (keep or path.exists()):
        atomic_write_bytes(path, b"".join(line + b"\n" for line in keep))


def _rewrite_samples(path: Path, epoch: int) -> None:
    records, torn = _records(path)
    keep = [line for line, record in records if isinstance(record, dict) and (_epoch_of(record) or 0) <= epoch]
    if torn or len(keep) != len(records):
        atomic_write_bytes(path, b"".join(line + b"\n" for line in keep))
