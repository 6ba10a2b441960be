"""Several runs' perplexity curves on one chart: each run its own colour, log-scale y.

The y axis is log-scaled by hand with the main chart's helper (:func:`log_y_axis`), because
plotext 5's ``yscale("log")`` breaks on redraw. Validation curves are dotted in the run's colour.
"""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from lstm_tui.core.compare import Curve

from .perplexity_chart import epoch_ticks, log_y_axis

#: plotext colour names, one per run (cycled), and the Rich colour of each for the legend.
PALETTE: tuple[tuple[str, str], ...] = (
    ("cyan", "cyan"),
    ("orange", "dark_orange"),
    ("green", "green"),
    ("magenta", "magenta"),
    ("blue", "dodger_blue1"),
    ("red", "red"),
    ("yellow", "yellow"),
    ("white", "white"),
)


def run_colour(index: int) -> tuple[str, str]:
    """``(plotext colour, rich colour)`` of the ``index``-th run."""
    return PALETTE[index % len(PALETTE)]


def _positive(xs: list[float], ys: list[float | None]) -> tuple[list[float], list[float]]:
    pairs = [(x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y) and y > 0]
    return [x for x, _ in pairs], [y for _, y in pairs]


class CompareChart(PlotextPlot):
    """``curves`` (from :func:`lstm_tui.core.compare.curves`) against ``x_axis`` ("epoch" | "time")."""

    can_focus = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.curves: list[Curve] = []
        self.x_axis = "epoch"
        self.show_val = True
        self.draws = 0

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def set_curves(self, curves: list[Curve], x_axis: str = "epoch") -> None:
        self.curves = list(curves)
        self.x_axis = x_axis
        self.redraw()

    @property
    def series(self) -> list[tuple[str, list[float], list[float]]]:
        """What is plotted: ``(label, xs, perplexities)`` per line (train, then val if shown)."""
        lines = []
        for curve in self.curves:
            xs, ys = _positive(curve.xs, curve.ys)
            lines.append((curve.name, xs, ys))
        if self.show_val:
            for curve in self.curves:
                if curve.val_ys is not None:
                    xs, ys = _positive(curve.xs, curve.val_ys)
                    if ys:
                        lines.append((f"{curve.name} (val)", xs, ys))
        return lines

    def redraw(self) -> None:
        self.draws += 1
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        values = [y for _, _, ys in self.series for y in ys]
        if not values:
            if self.curves:
                plt.title("no epoch has finished in these runs yet")
            plt.xlim(0, 1)
            plt.ylim(0, 1)
            plt.yticks([0, 1], ["1", "10"])
            self.refresh()
            return
        log_y_axis(plt, values)
        all_xs = [x for _, xs, _ in self.series for x in xs]
        first_x = 0.0 if self.x_axis == "time" else min(all_xs)
        last_x = max(max(all_xs), first_x + 1)
        for index, curve in enumerate(self.curves):
            colour = run_colour(index)[0]
            xs, ys = _positive(curve.xs, curve.ys)
            if xs:
                plt.plot(xs, [math.log10(y) for y in ys], marker="braille", color=colour)
                if len(xs) == 1:  # a lone point draws no line
                    plt.scatter(xs, [math.log10(ys[0])], marker="●", color=colour)
            if self.show_val and curve.val_ys is not None:
                vxs, vys = _positive(curve.xs, curve.val_ys)
                if vxs:
                    plt.scatter(vxs, [math.log10(y) for y in vys], marker="dot", color=colour)
        plt.xlim(first_x, last_x)
        plt.xticks(epoch_ticks(first_x, last_x))
        self.refresh()
