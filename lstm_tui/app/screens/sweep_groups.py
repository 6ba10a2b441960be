"""The runs screen's sweeps: runs of one sweep sit together under a row with the sweep's name
(newest sweep first in the default order; runs of no sweep after them), ``v`` opens the
selected run's sweep results (:mod:`.sweep_results`), ``w`` follows the sweep live.

The sweep of a run is its folder's tag (:func:`~lstm_tui.core.sweep.read_tag`); a found tag is
kept (a tag never changes once the sweep wrote it), a missing one is looked for again.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rich.text import Text
from textual.binding import Binding

from lstm_tui.core.compare import RunRow
from lstm_tui.core.sweep import read_tag

from ...core.numbers import format_perplexity

#: A group row's key: this prefix and the sweep's name ("" for the runs of no sweep).
GROUP_KEY = "\x00sweep:"
OTHER_RUNS = "other runs"

SWEEP_BINDINGS = [
    Binding(
        "v",
        "sweep_results",
        "Sweep",
        id="runs.sweep_results",
        show=False,  # (the table's subtitle names v and w on a sweep's run; F1 and ctrl+p list them)
        tooltip="The highlighted run's sweep: its results table (sorted by validation perplexity) and curves",
    ),
    Binding(
        "w",
        "follow_sweep",
        "Follow sweep",
        id="runs.follow_sweep",
        show=False,
        tooltip="Follow every run of the highlighted run's sweep live on the main screen (and those it starts later)",
    ),
]


def group_key(sweep: str | None) -> str:
    return GROUP_KEY + (sweep or "")


def group_of(key: str | None) -> str | None:
    """The sweep a group row's key names ("" for the other runs); None for a run's row."""
    return key[len(GROUP_KEY) :] if key is not None and key.startswith(GROUP_KEY) else None


def grouped(rows: Iterable[RunRow], sweep_of: dict[str, str]) -> list[tuple[str | None, list[RunRow]]]:
    """``rows`` as (sweep, its runs) in the order each sweep first shows up; runs of no sweep last."""
    groups: dict[str | None, list[RunRow]] = {}
    loose: list[RunRow] = []
    for row in rows:
        sweep = sweep_of.get(str(row.path))
        (groups.setdefault(sweep, []) if sweep else loose).append(row)
    return [*groups.items(), *([(None, loose)] if loose else [])]


def header_cells(sweep: str | None, runs: list[RunRow], columns: Iterable[str], width: int) -> list[Text]:
    """A group row: the sweep's name, how many runs (and how many train), its best validation
    perplexity."""
    name = f"▾ sweep {sweep}" if sweep else f"▾ {OTHER_RUNS}"
    running = sum(row.status.value == "running" for row in runs)
    count = f"{len(runs)} run{'s' if len(runs) != 1 else ''}" + (f", {running} on" if running else "")
    vals = [row.val_ppl for row in runs if row.val_ppl is not None]
    cells = {
        "name": Text(name if len(name) <= width else name[: width - 1] + "…", style="bold magenta", no_wrap=True),
        "status": Text(count, style="magenta"),
        "val_ppl": Text(
            f"best {format_perplexity(min(vals))}" if vals and sweep else "", style="magenta", justify="right"
        ),
    }
    return [cells.get(column, Text("")) for column in columns]


class SweepGroupsMixin:
    """For the runs screen (it provides rows, marked, table, root, host, cursor_key, notify)."""

    _sweep_of: dict[str, str]

    def read_sweeps(self, rows: Iterable[RunRow]) -> dict[str, str]:
        """Each tagged run's sweep (run path -> sweep name)."""
        known = getattr(self, "_sweep_of", {})
        found = {}
        for row in rows:
            key = str(row.path)
            sweep = known.get(key)
            if sweep is None:
                tag = read_tag(row.path)
                sweep = tag["sweep"] if tag else None
            if sweep:
                found[key] = sweep
        self._sweep_of = found
        return found

    def group_rows(self, rows: list[RunRow]) -> list[RunRow]:
        """``rows`` (sorted) with each sweep's runs together; the table shows a row above each group."""
        sweep_of = self.read_sweeps(rows)
        if not sweep_of:
            return rows
        return [row for _, runs in grouped(rows, sweep_of) for row in runs]

    def table_entries(self) -> list[tuple[str, RunRow | None, list[RunRow]]]:
        """What the table shows, top to bottom: (row key, the run or None for a group row, the group's runs)."""
        rows: list[RunRow] = self.rows  # type: ignore[attr-defined]
        if not self._sweep_of:
            return [(str(row.path), row, [row]) for row in rows]
        entries: list[tuple[str, RunRow | None, list[RunRow]]] = []
        for sweep, runs in grouped(rows, self._sweep_of):
            entries.append((group_key(sweep), None, runs))
            entries += [(str(row.path), row, runs) for row in runs]
        return entries

    def group_runs(self, key: str | None) -> list[RunRow]:
        """The runs under the group row ``key`` (none for a run's key)."""
        sweep = group_of(key)
        if sweep is None:
            return []
        rows: list[RunRow] = self.rows  # type: ignore[attr-defined]
        return [row for row in rows if self._sweep_of.get(str(row.path), "") == sweep]

    def selected_sweep(self) -> str | None:
        """The sweep of the highlighted run (or group row), None when it is of no sweep."""
        key = self.cursor_key()  # type: ignore[attr-defined]
        sweep = group_of(key)
        if sweep is not None:
            return sweep or None
        return self._sweep_of.get(key) if key is not None else None

    def mark_group(self, key: str) -> None:
        """Space on a group row marks its runs (or unmarks them when all are marked)."""
        paths = {str(row.path) for row in self.group_runs(key)}
        marked: set[str] = self.marked  # type: ignore[attr-defined]
        if paths <= marked:
            marked -= paths
        else:
            marked |= paths
        self._fill()  # type: ignore[attr-defined]

    def sweep_note(self) -> str | None:
        sweep = self.selected_sweep()
        return f"sweep {sweep}: v results, w follow it" if sweep else None

    def _which_sweep(self) -> str | None:
        sweep = self.selected_sweep()
        if sweep is None:
            self.notify("The highlighted run is of no sweep (`lstm-tui sweep` makes them).", severity="warning")  # type: ignore[attr-defined]
        return sweep

    def action_sweep_results(self) -> None:
        sweep = self._which_sweep()
        if sweep is None:
            return
        from .sweep_results import SweepResultsScreen

        root: Path = self.root  # type: ignore[attr-defined]
        self.app.push_screen(SweepResultsScreen(root, sweep, self.host))  # type: ignore[attr-defined]

    def action_follow_sweep(self) -> None:
        sweep = self._which_sweep()
        if sweep is None:
            return
        if self.host.follow_sweep(sweep):  # type: ignore[attr-defined]
            self.dismiss(None)  # type: ignore[attr-defined]
