"""Compare runs: their perplexity curves on one chart, a legend with the final numbers.

``t`` switches x between epochs and wall-clock seconds, ``v`` shows/hides validation curves,
``x`` / ``ctrl+s`` saves the screen as an SVG picture. Escape goes back.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from lstm_tui.core.compare import RunRow, curves, format_cell, run_row
from lstm_tui.core.runs import RunError

from ..widgets.compare_chart import CompareChart, run_colour
from ..widgets.footer import KeyFooter


def legend_text(rows: list[RunRow]) -> Text:
    """One line per run in its colour: name, train / validation / generation perplexity first
    (what matters stays visible when the line is cut at the screen's edge), then preset, epochs
    and wall time."""
    text = Text(no_wrap=True, overflow="ellipsis")
    width = max((len(row.name) for row in rows), default=0)
    for index, row in enumerate(rows):
        if index:
            text.append("\n")
        text.append("■ ", style=f"bold {run_colour(index)[1]}")
        text.append(row.name.ljust(width), style="bold")
        text.append(f"  train {format_cell(row, 'train_ppl'):>6}")
        text.append(f"  val {format_cell(row, 'val_ppl'):>6}", style="bold" if row.val_ppl is not None else "dim")
        text.append(f"  gen {format_cell(row, 'gen_ppl'):>6}")
        text.append(
            f"  {format_cell(row, 'preset')} · {row.epochs_done}/{format_cell(row, 'epochs')} epochs"
            f" · {format_cell(row, 'wall_s')}",
            style="dim",
        )
    return text


class CompareScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    CompareScreen { background: $background; }
    #compare-title { height: 1; padding: 0 1; text-style: bold; background: $panel; }
    #compare-chart { height: 1fr; min-height: 8; border: round $primary 60%; }
    #compare-legend { height: auto; max-height: 10; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="compare.back"),
        Binding(
            "t", "toggle_x", "Epochs/time", id="compare.toggle_x", tooltip="Plot against epochs or wall-clock seconds"
        ),
        Binding(
            "v",
            "toggle_val",
            "Val curves",
            id="compare.toggle_val",
            tooltip="Show or hide the validation curves (dotted)",
        ),
        Binding("x", "save_svg", "Save SVG", id="compare.save_svg", tooltip="Save this chart as an SVG picture"),
        Binding("ctrl+s", "save_svg", "Save SVG", id="compare.save_svg.alt", show=False),
    ]

    def __init__(
        self, runs: list[str | os.PathLike], exports_dir: str | os.PathLike | None = None, title: str = ""
    ) -> None:
        super().__init__()
        self.runs = [Path(r) for r in runs]
        self.exports_dir = Path(exports_dir) if exports_dir is not None else None
        self.heading = title
        self.x_axis = "epoch"
        self.rows: list[RunRow] = []
        self.saved: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="compare-title")
        chart = CompareChart(id="compare-chart")
        chart.border_title = "Perplexity (log scale) · lines: train · dots: validation"
        yield chart
        yield Static("", id="compare-legend")
        yield KeyFooter(compact=True)

    @property
    def chart(self) -> CompareChart:
        return self.query_one(CompareChart)

    def on_mount(self) -> None:
        rows = []
        for path in self.runs:
            try:
                rows.append(run_row(path))
            except (RunError, OSError) as exc:
                self.notify(f"cannot read {path.name}: {exc}", severity="warning", markup=False)
        self.rows = rows
        self.runs = [row.path for row in rows]
        count = len(rows)
        self.query_one("#compare-title", Static).update(
            Text(self.heading or f"Comparing {count} run{'s' if count != 1 else ''}")
        )
        self.query_one("#compare-legend", Static).update(legend_text(rows))
        self._plot()

    def _plot(self) -> None:
        chart = self.chart
        chart.set_curves(curves(self.runs, x=self.x_axis), self.x_axis)
        chart.border_subtitle = (
            "x: wall-clock seconds (t: epochs)" if self.x_axis == "time" else "x: epoch (t: seconds)"
        )

    def action_toggle_x(self) -> None:
        self.x_axis = "time" if self.x_axis == "epoch" else "epoch"
        self._plot()

    def action_toggle_val(self) -> None:
        chart = self.chart
        chart.show_val = not chart.show_val
        chart.redraw()

    def action_save_svg(self) -> None:
        folder = self.exports_dir or Path.cwd()
        name = f"comparison-{datetime.now():%Y%m%d-%H%M%S}.svg"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = self.app.save_screenshot(name, str(folder))
        except OSError as exc:
            self.notify(
                f"cannot save the picture in {folder}: {exc.strerror or exc}",
                title="Not saved",
                severity="error",
                markup=False,
            )
            return
        self.saved.append(path)
        self.notify(f"chart saved to {path}", title="Saved", markup=False)

    def action_back(self) -> None:
        self.dismiss(None)
