"""Comparing runs: the rows of the runs screen, their curves, renaming and deleting runs.

Everything here reads the small text files of a run folder (``config.toml``,
``summary.json``, ``metrics.jsonl``) and never imports torch or loads a checkpoint, so a
runs screen with many runs opens at once. A run that is still training, crashed or was
written by another version shows what it has; missing numbers are ``None`` ("n/a").
"""

from __future__ import annotations

import math
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from .config import RunConfig
from .fork import read_fork
from .numbers import format_perplexity
from .runs import (
    RunDir,
    RunError,
    RunInfo,
    RunStatus,
    checkpoint_note,
    default_runs_dir,
    list_runs,
    run_status,
    safe_name,
)

__all__ = [
    "COLUMNS",
    "Curve",
    "RunRow",
    "curves",
    "delete_run",
    "format_cell",
    "format_duration",
    "rename_run",
    "run_folder",
    "run_row",
    "run_rows",
    "sort_rows",
]


@dataclass(frozen=True)
class RunRow:
    """One row of the runs screen; numbers a run does not have (yet) are ``None``."""

    name: str
    path: Path
    preset: str | None
    cell: str | None
    impl: str | None
    layers: int | None
    hidden: int | None
    epochs_done: int
    epochs: int | None
    train_ppl: float | None
    val_ppl: float | None
    gen_ppl: float | None
    tokens_per_s: float | None
    wall_s: float | None
    device: str | None
    created: datetime
    status: RunStatus
    #: "checkpoint holds epoch 1 of 6" when the run ended with an older checkpoint (a full disk);
    #: None when the checkpoint holds the last epoch (or the run is still going)
    checkpoint_note: str | None = None
    #: a fork's parent run (its folder name) and the completed epochs it forked at; None: no fork
    forked_from: str | None = None
    forked_at: int | None = None


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RunRow))

#: Anything that names a run folder: a listing entry, a folder object, a row or a path.
RunLike = RunInfo | RunDir | RunRow | str | os.PathLike[str]


@dataclass(frozen=True)
class Curve:
    """A run's training perplexity (``ys``) and validation perplexity (``val_ys``) over ``xs``.

    ``xs`` are epochs or wall-clock seconds since the run started; ``val_ys`` is ``None``
    when the run held out no validation data, else aligned with ``xs`` (``None`` gaps).
    """

    name: str
    xs: list[float]
    ys: list[float]
    val_ys: list[float | None] | None


# ----------------------------------------------------------------------------- rows
def run_rows(root: str | os.PathLike[str] | None = None) -> list[RunRow]:
    """A row per run under ``root`` (default: the runs directory), newest first."""
    return [run_row(info) for info in list_runs(root)]


def run_row(run: RunLike) -> RunRow:
    """The row of one run, from its config, summary and last metrics record."""
    info = _info(run)
    folder = info.open()
    config = _config(folder)
    summary = info.summary or {}
    last = _last_metrics(folder)

    def number(key: str, from_metrics: bool = True) -> float | None:
        """The summary's value; while training (or after a crash) the last epoch's record."""
        value = _finite(summary.get(key))
        return _finite(last.get(key)) if value is None and from_metrics else value

    return RunRow(
        name=info.name,
        path=info.path,
        preset=config.preset if config else info.preset,
        cell=config.cell if config else None,
        impl=config.impl if config else None,
        layers=config.layers if config else None,
        hidden=config.hidden if config else None,
        epochs_done=_int(summary.get("epoch"), _int(last.get("epoch"), 0)) or 0,
        epochs=_int(summary.get("epochs"), config.epochs if config else None),
        train_ppl=number("perplexity"),
        val_ppl=number("val_perplexity"),
        gen_ppl=number("generation_perplexity", from_metrics=False),
        tokens_per_s=number("tokens_per_s"),
        wall_s=number("elapsed_s"),
        device=str(summary["device"]) if summary.get("device") else None,
        created=info.created,
        status=info.status,
        checkpoint_note=checkpoint_note(summary),
        **_fork_fields(folder),
    )


def _fork_fields(folder: RunDir) -> dict[str, Any]:
    record = read_fork(folder) or {}
    parent = record.get("parent_name")
    return {"forked_from": str(parent) if parent else None, "forked_at": _int(record.get("epoch"), None)}


def _info(run: RunLike) -> RunInfo:
    """A :class:`RunInfo` for anything naming a run (a listing entry is used as it is; the
    preset is left to :func:`run_row`, which reads the config anyway)."""
    if isinstance(run, RunInfo):
        return run
    folder = run_folder(run)
    return RunInfo(folder.name, folder.path, folder.created, None, folder.read_summary())


def run_folder(run: RunLike) -> RunDir:
    """The :class:`RunDir` of anything naming a run (no check that it is one)."""
    if isinstance(run, RunDir):
        return run
    return RunDir(run.path if isinstance(run, (RunInfo, RunRow)) else Path(run))


def _config(folder: RunDir) -> RunConfig | None:
    """The run's config, or ``None`` when it cannot be read (another version, damaged)."""
    try:
        return folder.read_config()
    except RunError:
        return None


def _last_metrics(folder: RunDir) -> dict[str, Any]:
    try:
        records = folder.read_metrics()
    except RunError:
        return {}
    return records[-1] if records else {}


def _finite(value: Any) -> float | None:
    """A number as float; NaN, text and missing values as ``None`` (infinity is kept)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def _int(value: Any, default: int | None) -> int | None:
    number = _finite(value)
    return int(number) if number is not None and math.isfinite(number) else default


# ----------------------------------------------------------------------------- sorting and display
def sort_rows(rows: Iterable[RunRow], key: str, reverse: bool = False) -> list[RunRow]:
    """``rows`` sorted by the column ``key`` (a :class:`RunRow` field); ``None`` values go last.

    Texts sort case-insensitively; rows with equal values keep their order.
    """
    if key not in COLUMNS:
        raise ValueError(f"cannot sort by {key!r}; columns are: {', '.join(COLUMNS)}")
    rows = list(rows)
    present = [row for row in rows if getattr(row, key) is not None]
    missing = [row for row in rows if getattr(row, key) is None]
    present.sort(key=lambda row: _sort_value(getattr(row, key)), reverse=reverse)
    return present + missing


def _sort_value(value: Any) -> Any:
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, Path):
        return str(value).casefold()
    return value


def format_cell(row: RunRow, column: str) -> str:
    """The text a table shows for ``column`` of ``row`` ("n/a" for a missing value)."""
    value = getattr(row, column)
    if value is None:
        return "n/a"
    if column in ("train_ppl", "val_ppl", "gen_ppl"):
        return format_perplexity(value)
    if column == "tokens_per_s":
        return f"{value:,.0f}"
    if column == "wall_s":
        return format_duration(value)
    if column == "created":
        return str(value.strftime("%Y-%m-%d %H:%M"))
    return str(value)


def format_duration(seconds: float) -> str:
    """``4.2 s``, ``3 min 05 s``, ``2 h 07 min``: wall times as people read them."""
    if not math.isfinite(seconds):
        return "n/a"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


# ----------------------------------------------------------------------------- curves
def curves(runs: Iterable[RunLike], x: str = "epoch") -> list[Curve]:
    """The perplexity curves of ``runs`` against ``x``: "epoch" or "time" (``elapsed_s``)."""
    if x not in ("epoch", "time"):
        raise ValueError(f"x must be 'epoch' or 'time', not {x!r}")
    return [_curve(run_folder(run), "epoch" if x == "epoch" else "elapsed_s") for run in runs]


def _curve(folder: RunDir, x_key: str) -> Curve:
    try:
        records = folder.read_metrics()
    except RunError:
        records = []
    points = [r for r in records if _finite(r.get(x_key)) is not None and _finite(r.get("perplexity")) is not None]
    val_ys = [_finite(r.get("val_perplexity")) for r in points]
    return Curve(
        name=folder.name,
        xs=[float(r[x_key]) for r in points],
        ys=[float(r["perplexity"]) for r in points],
        val_ys=val_ys if any(v is not None for v in val_ys) else None,
    )


# ----------------------------------------------------------------------------- rename / delete
def rename_run(root: str | os.PathLike[str] | None, old: RunLike, new: str, *, force: bool = False) -> RunDir:
    """Rename run ``old`` in ``root`` to ``safe_name(new)``; returns the renamed run.

    Refuses a name that is taken and a run that is training (status "running"); ``force``
    renames a "running" run anyway -- for one whose training process is gone. The run's
    creation time is recorded first (:meth:`RunDir.keep_created`): the new name has no stamp.
    """
    base = _base(root)
    run = _run_in(base, old)
    if not isinstance(new, str) or not new.strip():
        raise RunError("give the run a new name")
    name = safe_name(new)
    if name == run.name:
        return run
    _refuse_running(run, "rename", force)
    target = base / name
    if target.exists() or target.is_symlink():
        raise RunError(f"cannot rename {run.name} to {name}: that name is taken in {base}")
    try:
        run.keep_created()
        os.rename(run.path, target)
    except OSError as exc:
        raise RunError(f"cannot rename {run.name} to {name}: {exc.strerror or exc}") from exc
    return RunDir(target)


def delete_run(root: str | os.PathLike[str] | None, name: RunLike, *, force: bool = False) -> Path:
    """Delete run ``name`` (a folder directly inside ``root``); returns the path it had.

    Only run folders inside ``root`` are deleted, never a path outside it or a link. The
    folder is first renamed to a hidden name (so a half-deleted run never shows in a list),
    then removed. A training run is refused unless ``force``, as in :func:`rename_run`.
    """
    base = _base(root)
    run = _run_in(base, name)
    _refuse_running(run, "delete", force)
    trash = base / f".deleting-{run.name}-{uuid.uuid4().hex[:8]}"
    try:
        os.rename(run.path, trash)
    except OSError as exc:
        raise RunError(f"cannot delete {run.name}: {exc.strerror or exc}") from exc
    try:
        shutil.rmtree(trash)
    except OSError as exc:
        raise RunError(f"{run.name} is gone from the runs list, but {trash} could not be removed fully: {exc}") from exc
    return run.path


def _base(root: str | os.PathLike[str] | None) -> Path:
    return Path(root).expanduser() if root is not None else default_runs_dir()


def _run_in(base: Path, run: RunLike) -> RunDir:
    """The run folder ``run`` names, checked to be a real run folder directly inside ``base``."""
    if isinstance(run, str) and (not run or Path(run).name != run or run in (".", "..")):
        raise RunError(f"{run!r} is not the name of a run in {base}")
    path = base / run if isinstance(run, str) else run_folder(run).path
    if path.is_symlink():
        raise RunError(f"{path} is a link; only run folders inside {base} are renamed or deleted")
    try:
        inside = path.resolve().parent == base.resolve()
    except OSError:
        inside = False
    if not inside:
        raise RunError(f"{path} is not inside the runs folder {base}")
    if not path.is_dir():
        raise RunError(f"no run named {path.name!r} in {base}")
    folder = RunDir(path)
    if not folder.config_path.is_file():
        raise RunError(f"{path} is not a run folder (it has no {folder.config_path.name})")
    return folder


def _refuse_running(run: RunDir, action: str, force: bool) -> None:
    summary = run.read_summary() or {}
    if run_status(run.path, summary) is RunStatus.RUNNING and not force:
        raise RunError(
            f"cannot {action} {run.name}: it is training (status 'running'); stop it first "
            "(a run whose training process is gone can be forced)"
        )
