"""Gradient through time: ``||dL_T/dh_{T-k}||`` against ``k`` steps back, log-scale y, one line
per run (the compare chart's colours). A plain RNN's line falls fast; an LSTM's much less."""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from .compare_chart import run_colour
from .perplexity_chart import epoch_ticks

__all__ = ["GradientChart", "decade_ticks"]

MAX_TICKS = 6


def decade_ticks(lo: float, hi: float, most: int = MAX_TICKS) -> list[int]:
    """Exponents of the powers of ten to label between ``lo`` and ``hi`` (positive), at most
    ``most`` of them, evenly spaced (a gradient spans many decades: 1, 1e-5, 1e-10...)."""
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    step = max(1, math.ceil((last - first) / max(most - 1, 1)))
    return list(range(last, first - 1, -step))[::-1]


class GradientChart(PlotextPlot):
    """``series``: ``(label, norms)`` with ``norms[k]`` the gradient ``k`` steps back."""

    can_focus = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.series: list[tuple[str, list[float]]] = []

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()

    def set_series(self, series: list[tuple[str, list[float]]]) -> None:
        self.series = [(label, list(norms)) for label, norms in series]
        self.redraw()

    def points(self, norms: list[float]) -> tuple[list[int], list[float]]:
        """The plotted ``(k, log10 norm)`` (zero and non-finite norms are left out)."""
        pairs = [(k, math.log10(v)) for k, v in enumerate(norms) if math.isfinite(v) and v > 0]
        return [k for k, _ in pairs], [y for _, y in pairs]

    def redraw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        values = [v for _, norms in self.series for v in norms if math.isfinite(v) and v > 0]
        if not values:
            plt.xlim(0, 1)
            plt.ylim(0, 1)
            self.refresh()
            return
        exponents = decade_ticks(min(values), max(values))
        plt.yticks(exponents, [f"1e{e}" if e else "1" for e in exponents])
        plt.ylim(min(exponents[0], math.log10(min(values))), max(exponents[-1], math.log10(max(values))))
        last = max(len(norms) for _, norms in self.series) - 1
        for index, (_label, norms) in enumerate(self.series):
            xs, ys = self.points(norms)
            if xs:
                plt.plot(xs, ys, marker="braille", color=run_colour(index)[0])
        plt.xlim(0, max(last, 1))
        plt.xticks(epoch_ticks(0, max(last, 1)))
        self.refresh()
