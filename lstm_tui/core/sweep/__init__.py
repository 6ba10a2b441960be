"""Sweeps: many runs of one experiment with some fields varied, each an ordinary run folder.

- ``spec``: what to train (:func:`grid`, :func:`zipped`, :func:`book_sweep`, :func:`place`)
- ``record``: ``<runs>/.sweeps/<name>.json`` and each run's ``sweep.json`` tag; :func:`run_state`
- ``runner``: :class:`SweepRunner` (a ``train`` process per run, ``parallel`` at a time, clean stop)
- ``results``: :func:`sweep_results`, :func:`sort_results`, markdown and JSON tables

No torch is imported here (placing a sweep's threads asks :mod:`..device` for the cores).
"""

from __future__ import annotations

from .record import (
    RunState,
    SweepRecord,
    SweepRun,
    default_sweep_name,
    list_records,
    load_record,
    new_record,
    read_tag,
    run_state,
    sweep_path,
)
from .results import (
    SweepResult,
    group_by_sweep,
    result_of,
    results_json,
    results_markdown,
    results_table,
    sort_results,
    sweep_curves,
    sweep_folders,
    sweep_results,
)
from .runner import SweepNote, SweepOutcome, SweepRunner
from .spec import (
    BOOK_PRESETS,
    BOOK_SHARED_FIELDS,
    SweepPoint,
    SweepSpec,
    book_sweep,
    default_threads,
    grid,
    parse_values,
    place,
    zipped,
)

__all__ = [
    "BOOK_PRESETS",
    "BOOK_SHARED_FIELDS",
    "RunState",
    "SweepNote",
    "SweepOutcome",
    "SweepPoint",
    "SweepRecord",
    "SweepResult",
    "SweepRun",
    "SweepRunner",
    "SweepSpec",
    "book_sweep",
    "default_sweep_name",
    "default_threads",
    "grid",
    "group_by_sweep",
    "list_records",
    "load_record",
    "new_record",
    "parse_values",
    "place",
    "read_tag",
    "result_of",
    "results_json",
    "results_markdown",
    "results_table",
    "run_state",
    "sort_results",
    "sweep_curves",
    "sweep_folders",
    "sweep_path",
    "sweep_results",
    "zipped",
]
