"""Exports for other tools and for people: metrics as CSV/JSON, a comparison as markdown.

The files are written atomically (see :mod:`.atomic`), so an export that fails half-way
never leaves a truncated file where a good one was. Like :mod:`.compare`, nothing here
imports torch: exporting reads the run folder's text files only.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from .atomic import atomic_write_text
from .compare import RunLike, RunRow, format_cell, run_folder, run_row
from .runs import RunError

__all__ = [
    "METRIC_COLUMNS",
    "comparison_report",
    "export_run",
    "final_samples",
    "metrics_to_csv",
    "metrics_to_json",
]

#: The columns of a metrics export, in order (a run's ``metrics.jsonl`` records).
METRIC_COLUMNS = ("epoch", "perplexity", "val_perplexity", "tokens_per_s", "elapsed_s")

# Report table: (header, RunRow column or "epochs" for done/planned).
_REPORT_COLUMNS = (
    ("name", "name"),
    ("preset", "preset"),
    ("cell", "cell"),
    ("impl", "impl"),
    ("layers", "layers"),
    ("hidden", "hidden"),
    ("epochs", "epochs"),
    ("train ppl", "train_ppl"),
    ("val ppl", "val_ppl"),
    ("gen ppl", "gen_ppl"),
    ("tokens/s", "tokens_per_s"),
    ("wall time", "wall_s"),
    ("device", "device"),
    ("date", "created"),
)


# ----------------------------------------------------------------------------- metrics
def metrics_to_csv(rows: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write ``rows`` (metrics records) as CSV with :data:`METRIC_COLUMNS`; missing cells empty."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(METRIC_COLUMNS)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in METRIC_COLUMNS])
    return _write(path, out.getvalue())


def metrics_to_json(rows: Iterable[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """Write ``rows`` as a JSON list of objects with :data:`METRIC_COLUMNS` (missing: ``null``).

    JSON has no NaN or infinity; such values are written as ``null`` too.
    """
    table = [{c: _json_number(row.get(c)) for c in METRIC_COLUMNS} for row in rows]
    return _write(path, json.dumps(table, indent=2, allow_nan=False) + "\n")


def export_run(run_dir: RunLike, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write ``<run name>-metrics.csv`` and ``<run name>-metrics.json`` into ``out_dir``."""
    folder = run_folder(run_dir)
    if not folder.config_path.is_file():
        raise RunError(f"{folder.path} is not a run folder (it has no {folder.config_path.name})")
    rows = folder.read_metrics()
    out = Path(out_dir).expanduser()
    return [
        metrics_to_csv(rows, out / f"{folder.name}-metrics.csv"),
        metrics_to_json(rows, out / f"{folder.name}-metrics.json"),
    ]


def _json_number(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _write(path: str | os.PathLike[str], text: str) -> Path:
    target = Path(path).expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        return atomic_write_text(target, text)
    except OSError as exc:
        raise RunError(f"cannot write {target}: {exc.strerror or exc}") from exc


# ----------------------------------------------------------------------------- comparison report
def comparison_report(runs: Iterable[RunLike], path: str | os.PathLike[str]) -> Path:
    """Write a markdown comparison of ``runs``: a table of their numbers, then their final samples."""
    rows = [run_row(run) for run in runs]
    lines = [
        "# Run comparison",
        "",
        f"{len(rows)} run{'s' if len(rows) != 1 else ''}, written {datetime.now():%Y-%m-%d %H:%M}. "
        "Perplexities are the last epoch's; gen ppl is measured one character at a time, as the model writes.",
        "",
        *_table(rows),
        "",
        "## Final samples",
    ]
    for row in rows:
        lines += ["", *_samples_section(row)]
    return _write(path, "\n".join(lines) + "\n")


def _table(rows: list[RunRow]) -> list[str]:
    header = [title for title, _ in _REPORT_COLUMNS]
    body = [[_report_cell(row, column) for _, column in _REPORT_COLUMNS] for row in rows]
    return [_md_row(header), _md_row(["---"] * len(header)), *(_md_row(cells) for cells in body)]


def _report_cell(row: RunRow, column: str) -> str:
    if column == "epochs":
        return f"{row.epochs_done}/{format_cell(row, 'epochs')}"
    return format_cell(row, column)


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def final_samples(run: RunLike) -> tuple[int | None, list[dict[str, Any]]]:
    """The samples of a run's last sampled epoch (repeats dropped): ``(epoch, records)``, ``(None, [])`` if none."""
    try:
        records = run_folder(run).read_samples()
    except RunError:
        return None, []
    records = [r for r in records if isinstance(r.get("epoch"), int) and isinstance(r.get("text"), str)]
    if not records:
        return None, []
    last = max(_sample_position(r) for r in records)  # a stop inside epoch e + 1 comes after epoch e's samples
    unique = {(r.get("prefix"), r["text"]): r for r in records if _sample_position(r) == last}
    return last[0], list(unique.values())


def _sample_position(record: dict[str, Any]) -> tuple[int, int]:
    batch = record.get("batch")
    return record["epoch"], batch if isinstance(batch, int) else 0


def _samples_section(row: RunRow) -> list[str]:
    epoch, samples = final_samples(row.path)
    if not samples:
        return [f"### {row.name}", "", "n/a (no samples)"]
    lines = [f"### {row.name} (epoch {epoch})"]
    for sample in samples:
        lines += ["", _fenced(sample["text"])]
    return lines


def _fenced(text: str) -> str:
    """``text`` in a fenced code block whose fence no backtick run in the text can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"
