"""A sweep's results (``v`` on the runs screen): the table ``lstm-tui sweep --results`` prints
(:func:`~lstm_tui.core.sweep.results_table`: the varying fields, then the numbers, sorted by
validation perplexity) above the sweep's overlaid curves. While a run of the sweep trains (or
has yet to start) it is read again every :data:`REFRESH_S` seconds, on a thread.

``w`` follows the sweep on the main screen, ``t`` plots against seconds, escape goes back.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from lstm_tui.core.runs import RunError
from lstm_tui.core.sweep import SweepRecord, SweepResult, load_record, results_table, sweep_results
from lstm_tui.core.sweep.results import RESULT_COLUMNS, sweep_curves

from ..widgets.compare_chart import CompareChart
from ..widgets.footer import KeyFooter

REFRESH_S = 1.0
#: Statuses after which a run's numbers no longer change.
ENDED = frozenset({"finished", "failed", "stopped", "interrupted"})
NUMERIC = frozenset(RESULT_COLUMNS) - {"status"}


class SweepResultsScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    SweepResultsScreen { background: $background; }
    #sweep-title { height: 1; padding: 0 1; text-style: bold; background: $panel; }
    #sweep-table { height: auto; max-height: 50%; border: round $primary 60%; scrollbar-size: 1 1; }
    #sweep-chart { height: 1fr; min-height: 6; border: round $primary 60%; }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="sweep_results.back", tooltip="Back to the runs"),
        Binding(
            "w",
            "follow",
            "Follow sweep",
            id="sweep_results.follow",
            tooltip="Follow every run of this sweep live on the main screen (and those it starts later)",
        ),
        Binding("t", "toggle_x", "Epochs/time", id="sweep_results.toggle_x", tooltip="Plot against epochs or seconds"),
    ]

    def __init__(self, root: str | Path, name: str, host: Any = None) -> None:
        super().__init__()
        self.root, self.sweep, self.host = Path(root), name, host
        self.record: SweepRecord | None = None
        self.results: list[SweepResult] = []
        self.header: list[str] = []
        self.cells: list[list[str]] = []
        self.x_axis = "epoch"

    def compose(self) -> ComposeResult:
        yield Static("", id="sweep-title")
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="sweep-table")
        table.border_title = "Results · sorted by validation perplexity"
        yield table
        chart = CompareChart(id="sweep-chart")
        chart.border_title = "Perplexity (log scale) · lines: train · dots: validation"
        yield chart
        yield KeyFooter(compact=True)

    @property
    def table(self) -> DataTable:
        return self.query_one("#sweep-table", DataTable)

    def on_mount(self) -> None:
        self.show(*read_sweep(self.root, self.sweep, self.x_axis))
        self.set_interval(REFRESH_S, self._refresh_if_live)

    def _refresh_if_live(self) -> None:
        if self.is_current and any(r.status not in ENDED for r in self.results):
            self._scan()

    @work(thread=True, exclusive=True, group="sweep-scan", exit_on_error=False)
    def _scan(self) -> None:
        found = read_sweep(self.root, self.sweep, self.x_axis)
        self.app.call_from_thread(lambda: self.show(*found) if self.is_mounted else None)

    def show(self, record: SweepRecord | None, results: list[SweepResult], curves: list, problem: str) -> None:
        """Draw the table (the cells of :func:`results_table`) and the curves."""
        title = self.query_one("#sweep-title", Static)
        if record is None:
            title.update(Text(problem, style="bold red"))
            return
        self.record, self.results = record, results
        self.header, self.cells = results_table(record, results)
        done = sum(r.status in ENDED for r in results)
        title.update(
            Text(
                f"sweep {record.name}"
                + (f": {record.title}" if record.title else "")
                + f" · {done}/{len(results)} done"
            )
        )
        self._fill()
        self.query_one(CompareChart).set_curves(curves, self.x_axis)

    def _fill(self) -> None:
        table = self.table
        row = table.cursor_row
        table.clear(columns=True)
        for index, header in enumerate(self.header):
            table.add_column(Text(header, justify="right" if header in NUMERIC else "left"), key=str(index))
        for cells in self.cells:
            shown = [short_run(cells[0], self.sweep), *cells[1:]]
            table.add_row(*(self._cell(h, c) for h, c in zip(self.header, shown)), key=cells[0])
        if self.cells:
            table.move_cursor(row=min(row, len(self.cells) - 1), animate=False)

    @staticmethod
    def _cell(header: str, text: str) -> Text:
        style = "dim" if text == "-" else "yellow" if header == "val ppl" else ""
        if header == "status":
            style = "bold red" if text.startswith("failed") else "bold yellow" if text == "running" else ""
        return Text(text, style=style, justify="right" if header in NUMERIC else "left", no_wrap=True)

    def action_toggle_x(self) -> None:
        self.x_axis = "time" if self.x_axis == "epoch" else "epoch"
        self._scan()

    def action_follow(self) -> None:
        if self.host is not None and self.host.follow_sweep(self.sweep):
            self.app.pop_screen()  # this screen
            if isinstance(self.app.screen, ModalScreen):
                self.app.screen.dismiss(None)  # and the runs screen under it

    def action_back(self) -> None:
        self.dismiss(None)


def short_run(name: str, sweep: str) -> str:
    """``20261201-100000-lrs-01-lr0.5`` -> ``01-lr0.5``: the folder's stamp and the sweep's name
    say nothing here (the markdown table keeps the whole name)."""
    name = re.sub(r"^\d{8}-\d{6}-", "", name)
    return name[len(sweep) + 1 :] if name.startswith(f"{sweep}-") and len(name) > len(sweep) + 1 else name


def read_sweep(root: Path, name: str, x_axis: str = "epoch") -> tuple[SweepRecord | None, list, list, str]:
    """(record, results, curves, "") or (None, [], [], the reason)."""
    try:
        record = load_record(root, name)
        return record, sweep_results(root, record), sweep_curves(root, record, x=x_axis), ""
    except (RunError, OSError) as exc:
        return None, [], [], str(exc)
