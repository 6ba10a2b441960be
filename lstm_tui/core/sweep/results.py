"""A sweep's results: one row per run (its varying values and numbers), sorted, as markdown or JSON.

Rows sort by validation perplexity when the sweep held out data, else by training perplexity;
runs without a number (failed, not started) come last. The numbers are the runs-table's
(:func:`~lstm_tui.core.compare.run_row`); ``metrics`` keeps each epoch's record for verdicts
and curves.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..compare import Curve, curves, run_row
from ..numbers import LARGE, format_perplexity
from ..runs import RunError, RunStatus
from .record import SweepRecord, SweepRun, read_tag, run_folder

NOT_STARTED = "not started"


@dataclass(frozen=True)
class SweepResult:
    """One run's outcome. ``status`` is a RunStatus value or "not started"."""

    name: str
    values: dict[str, Any]
    status: str
    epochs_done: int = 0
    epochs: int | None = None
    train_ppl: float | None = None
    val_ppl: float | None = None
    tokens_per_s: float | None = None
    reason: str | None = None
    #: The epoch the run failed in (a failed run's summary epoch), else None.
    failed_epoch: int | None = None
    folder: Path | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)

    @property
    def score(self) -> float | None:
        """The number the table sorts by: validation perplexity, else training perplexity."""
        return self.val_ppl if self.val_ppl is not None else self.train_ppl

    @property
    def bpc(self) -> float | None:
        """Bits per token of the score (log2 of its perplexity), None without one."""
        score = self.score
        return math.log2(score) if score is not None and math.isfinite(score) and score > 0 else None


def result_of(root: str | os.PathLike[str] | None, run: SweepRun) -> SweepResult:
    folder = run_folder(root, run)
    if folder is None:
        return SweepResult(run.name, dict(run.values), NOT_STARTED, epochs=run.config.epochs)
    row = run_row(folder)
    summary = folder.summary()
    try:
        metrics = folder.read_metrics()
    except RunError:
        metrics = []
    failed = row.status is RunStatus.FAILED
    return SweepResult(
        name=row.name,
        values=dict(run.values),
        status=row.status.value,
        epochs_done=row.epochs_done,
        epochs=row.epochs,
        train_ppl=row.train_ppl,
        val_ppl=row.val_ppl,
        tokens_per_s=row.tokens_per_s,
        reason=summary.reason if summary is not None and failed else None,
        failed_epoch=summary.epoch if summary is not None and failed else None,
        folder=folder.path,
        metrics=metrics,
    )


def sweep_results(root: str | os.PathLike[str] | None, record: SweepRecord) -> list[SweepResult]:
    """The sweep's results in run order (see :func:`sort_results`)."""
    return [result_of(root, run) for run in record.runs]


def sort_results(results: Sequence[SweepResult]) -> list[SweepResult]:
    """By validation perplexity when any run has one, else by training perplexity; None last."""
    by_val = any(r.val_ppl is not None for r in results)

    def key(result: SweepResult) -> tuple[bool, float]:
        value = result.val_ppl if by_val else result.train_ppl
        usable = value is not None and math.isfinite(value) and result.status != RunStatus.FAILED.value
        return (not usable, value if usable and value is not None else math.inf)

    return sorted(results, key=key)


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 100:
        return f"{value:.3f}"
    return f"{value:,.1f}" if value < LARGE else format_perplexity(value)


def _status(result: SweepResult) -> str:
    return f"{result.status}: {result.reason}" if result.reason else result.status


#: The results table's fixed columns (after "run" and the varying fields).
RESULT_COLUMNS: tuple[str, ...] = ("val ppl", "train ppl", "bpc", "tok/s", "epochs", "status")


def _speed(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def results_table(record: SweepRecord, results: Sequence[SweepResult]) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)``: the varying fields, then the numbers, sorted (:func:`sort_results`);
    the markdown table and the app's sweep results screen both show these cells."""
    header = ["run", *record.varying, *RESULT_COLUMNS]
    rows = []
    for r in sort_results(results):
        epochs = f"{r.epochs_done}/{r.epochs}" if r.epochs else str(r.epochs_done)
        rows.append(
            [
                r.name,
                *(str(r.values.get(f, "")) for f in record.varying),
                _number(r.val_ppl),
                _number(r.train_ppl),
                "-" if r.bpc is None else f"{r.bpc:.3f}",
                _speed(r.tokens_per_s),
                epochs,
                _status(r),
            ]
        )
    return header, rows


def results_markdown(record: SweepRecord, results: Sequence[SweepResult]) -> str:
    """A markdown table of :func:`results_table`: the varying fields, then the numbers."""
    header, rows = results_table(record, results)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |" for cells in rows]
    title = f"sweep {record.name}" + (f": {record.title}" if record.title else "")
    return title + "\n\n" + "\n".join(lines)


def results_json(record: SweepRecord, results: Sequence[SweepResult]) -> dict[str, Any]:
    """``{"sweep", "title", "varying", "sort", "results": [...]}`` with the rows sorted."""
    rows = sort_results(results)
    by = "val_ppl" if any(r.val_ppl is not None for r in results) else "train_ppl"
    return {
        "sweep": record.name,
        "title": record.title,
        "varying": list(record.varying),
        "sort": by,
        "results": [
            {
                "run": r.name,
                "values": r.values,
                "status": r.status,
                "epochs_done": r.epochs_done,
                "epochs": r.epochs,
                "val_ppl": r.val_ppl,
                "train_ppl": r.train_ppl,
                "bpc": r.bpc,
                "tokens_per_s": r.tokens_per_s,
                "reason": r.reason,
                "folder": str(r.folder) if r.folder else None,
            }
            for r in rows
        ],
    }


def sweep_folders(root: str | os.PathLike[str] | None, record: SweepRecord) -> list[Path]:
    """The run folders the sweep has made so far, in run order (for curves: compare.curves)."""
    return [folder.path for run in record.runs if (folder := run_folder(root, run)) is not None]


def sweep_curves(root: str | os.PathLike[str] | None, record: SweepRecord, x: str = "epoch") -> list[Curve]:
    """Each started run's curve (training and validation perplexity), re-read on every call: a
    front end following a live sweep calls it again (or follows the folders with core/follow.py)."""
    return curves(sweep_folders(root, record), x=x)


def group_by_sweep(folders: Sequence[str | os.PathLike[str]]) -> dict[str | None, list[Path]]:
    """Run folders grouped by the sweep their tag names (``None``: not from a sweep), order kept."""
    groups: dict[str | None, list[Path]] = {}
    for folder in folders:
        tag = read_tag(folder)
        groups.setdefault(tag["sweep"] if tag else None, []).append(Path(folder))
    return groups


__all__ = [
    "NOT_STARTED",
    "RESULT_COLUMNS",
    "results_table",
    "group_by_sweep",
    "sweep_curves",
    "sweep_folders",
    "SweepResult",
    "result_of",
    "results_json",
    "results_markdown",
    "sort_results",
    "sweep_results",
]
