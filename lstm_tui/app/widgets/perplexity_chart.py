"""Perplexity against epoch, log-scaled by hand (plotext 5's ``yscale("log")`` breaks on redraw).

Points are added cheaply (``add``); a timer redraws at most a few times a second, and only
when something changed. History is thinned to at most ``MAX_POINTS`` per line, and a named line
is drawn with about two points a column (``fit``). plotext draws the frame; the lines are
drawn into its matrix by :mod:`.braille_lines`, which also hands the result to Textual.
"""

from __future__ import annotations

import math
import time

from rich.style import Style
from textual.app import RenderResult
from textual.reactive import Reactive
from textual.timer import Timer
from textual_plotext import PlotextPlot

from .braille_lines import MatrixVisual, Series, matrix_runs, matrix_text, overlay, stub

MAX_POINTS = 500
#: Colours of the named lines (followed runs), in turn.
LINE_COLORS = ("green", "magenta", "cyan", "orange", "blue", "red", "yellow", "white")
_NICE = (1, 2, 5)


def thin(points: list[tuple[float, float]], limit: int = MAX_POINTS) -> list[tuple[float, float]]:
    """Every other point, keeping the newest, once ``limit`` is passed."""
    if len(points) <= limit:
        return points
    last = points[-1]
    kept = points[::2]
    if kept[-1] != last:
        kept.append(last)
    return kept


def fit(points: list[tuple[float, float]], columns: int) -> list[tuple[float, float]]:
    """At most about ``2 * columns`` of ``points`` (every n-th, and the newest): what a braille
    line of that many cells can show apart. plotext's cost grows with the points it is given;
    no limit (``columns`` 0) before the chart has a size."""
    most = 2 * columns
    if columns <= 0 or len(points) <= most:
        return points
    step = -(-len(points) // most)
    kept = points[::step]
    if kept[-1] != points[-1]:
        kept.append(points[-1])
    return kept


def epoch_ticks(lo: float, hi: float, most: int = 6) -> list[int]:
    """Whole-number x ticks (epochs) at a 1-2-5 step, at most ``most`` of them."""
    span, scale = max(hi - lo, 1), 1
    while True:
        for step in (scale, 2 * scale, 5 * scale):
            if span / step <= most - 1:
                first = math.ceil(lo / step) * step
                return list(range(int(first), int(hi) + 1, step))
        scale *= 10


def log_ticks(lo: float, hi: float) -> list[float]:
    """Readable perplexity ticks (1, 2, 5, 10, 20 ...) that cover [lo, hi]."""
    lo, hi = max(lo, 1e-9), max(hi, 1e-9)
    ticks: list[float] = []
    start = math.floor(math.log10(lo)) - 1
    stop = math.ceil(math.log10(hi)) + 1
    for exp in range(start, stop + 1):
        for step in _NICE:
            value = step * 10.0**exp
            if lo <= value <= hi:
                ticks.append(value)
    if len(ticks) < 2:  # a narrow range: finer steps
        ticks = []
        for exp in range(start, stop + 1):
            for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9):
                value = step * 10.0**exp
                if lo <= value <= hi:
                    ticks.append(value)
    if len(ticks) < 2:
        ticks = [lo, hi] if hi > lo else [lo]
    return ticks


def tick_label(value: float) -> str:
    if value >= 1000:
        return f"{value:.0e}".replace("e+0", "e").replace("e+", "e")
    if value >= 10 or float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.3g}"


def _series(points: list[tuple[float, float]], color: str, label: str) -> Series:
    """A line of (x, perplexity) points as plotted: y is log10 of the perplexity."""
    return Series(tuple(x for x, _ in points), tuple(math.log10(y) for _, y in points), color, label)


def log_y_axis(plt, values: list[float]) -> None:
    """Set plotext's y axis for perplexities plotted as ``log10(value)``: limits with a little
    padding and readable tick labels in perplexity units. ``values`` must be positive."""
    lo, hi = min(values), max(values)
    ticks = log_ticks(lo, hi)
    plt.yticks([math.log10(t) for t in ticks], [tick_label(t) for t in ticks])
    ylo, yhi = math.log10(lo), math.log10(hi)
    pad = max((yhi - ylo) * 0.05, 0.01)
    plt.ylim(ylo - pad, yhi + pad)


class PerplexityChart(PlotextPlot):
    """x: epoch, y: perplexity (log scale); train and validation lines."""

    can_focus = False
    #: No text selection and no links in a chart: its strips carry no selection offsets and are
    #: not searched for links each frame (~2 ms a frame of 8 lines at 90x18 on a slow machine).
    ALLOW_SELECT = False
    auto_links = Reactive(False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.train: list[tuple[float, float]] = []
        self.val: list[tuple[float, float]] = []
        self.total_epochs: int = 0
        self.grad: list[tuple[float, float]] = []  # (epoch, mean pre-clip gradient norm)
        self.show_grad = False  # the gradient-norm series (g on the main screen)
        self.knobs: list[tuple[float, str]] = []  # live-knob changes: (x, knob name), a vertical marker each
        #: Named lines drawn besides train/val (followed runs: one per run, labelled with its name).
        self.lines: dict[str, list[tuple[float, float]]] = {}
        self._line_seen: dict[str, tuple] = {}  # set_line's last (length, last point) by label
        self._dirty = True
        self._drawn_at = 0.0
        self._soon: Timer | None = None  # a redraw_soon() waiting for its turn
        self._fitted = False  # whether the last redraw thinned a line to the chart's width
        self.draws = 0
        self._series: list[Series] = []  # the lines of the last redraw, drawn by render()
        self._styles: dict[tuple, Style | None] = {}  # (matrix_text's cache)

    #: Seconds between redraws of new points: a redraw and render is ~10-15 ms of UI-thread (GIL)
    #: time at 90x18 with 8 lines on a slow 2-core machine (more with a bigger chart), and the
    #: training thread needs the GIL too.
    REDRAW_S = 1.0

    def render(self) -> RenderResult:
        """plotext's frame (axes, ticks, legend) with the lines drawn in by :mod:`.braille_lines`:
        the same cells as ``PlotextPlot.render`` shows, several times faster."""
        plot, (width, height) = self._plot, self.size
        plot.plotsize(width, height)
        plot._set_size(width, height)  # (as PlotextPlot.render does: plotext needs both)
        plot.theme(self._get_plotext_theme_name(self.app.theme))
        plot._set_sizes()
        plot._build_matrix()
        overlay(plot.monitor, self._series)
        matrix = plot.monitor.matrix
        return MatrixVisual(
            matrix_runs(matrix, self._styles), lambda: matrix_text(matrix, self._styles), offsets=self.allow_select
        )

    def on_mount(self) -> None:
        super().on_mount()
        self.redraw()
        self.set_interval(self.REDRAW_S, self._tick)

    def reset(self, total_epochs: int = 0) -> None:
        self.train.clear()
        self.val.clear()
        self.grad.clear()
        self.knobs.clear()
        self.lines = {}
        self._line_seen = {}
        self.total_epochs = total_epochs
        self._dirty = True

    def add_knob(self, x: float, name: str) -> None:
        """A vertical marker at ``x`` (epoch - 1 + batch / batches) for a live-knob change."""
        self.knobs.append((x, name))
        self._dirty = True

    def set_lines(self, lines: dict[str, list[tuple[float, float]]]) -> None:
        """Replace the named lines (``{label: [(epoch, perplexity), ...]}``; bad points dropped)."""
        self.lines = {
            label: thin([(x, y) for x, y in points if math.isfinite(y) and y > 0]) for label, points in lines.items()
        }
        self._line_seen = {}
        self._dirty = True

    def set_line(self, label: str, points: list[tuple[float, float]]) -> None:
        """Replace (or add) one named line; the list is kept as given (its owner thins it, and
        may append to it in place). Marks the chart dirty only when the line changed since it
        was last set (the same points again cost no redraw)."""
        if not points and label not in self.lines:
            return
        signature = (len(points), points[-1] if points else None)
        if self.lines.get(label) is points and self._line_seen.get(label) == signature:
            return
        self.lines[label] = points
        self._line_seen[label] = signature
        self._dirty = True

    @property
    def points(self) -> int:
        """How many points are plotted, all lines together."""
        return len(self.train) + len(self.val) + sum(len(points) for points in self.lines.values())

    def add_records(self, records: list[dict], batches: int = 0) -> dict[int, tuple]:
        """Plot a run's metrics.jsonl records (a resumed or loaded run's past epochs; its knob
        records as markers, placed within their epoch when ``batches`` per epoch is known);
        returns ``{epoch: (perplexity, val_perplexity)}`` of those plotted."""
        plotted = {}
        for record in records:
            if "knob" in record and isinstance(record.get("epoch"), int) and isinstance(record.get("batch"), int):
                self.add_knob(
                    record["epoch"] - 1 + (record["batch"] / batches if batches > 0 else 0.0), str(record["knob"])
                )
                continue
            epoch, ppl, val = record.get("epoch"), record.get("perplexity"), record.get("val_perplexity")
            if isinstance(epoch, int) and not isinstance(epoch, bool) and isinstance(ppl, (int, float)):
                val = val if isinstance(val, (int, float)) else None
                self.add(epoch, ppl, val)
                plotted[epoch] = (ppl, val)
                self.add_grad(epoch, record.get("grad_norm"))
        return plotted

    def add(self, x: float, perplexity: float, val: float | None = None) -> None:
        if perplexity is not None and math.isfinite(perplexity) and perplexity > 0:
            if self.train and x <= self.train[-1][0]:
                # an epoch-end value replaces within-epoch progress at the same x
                while self.train and x <= self.train[-1][0]:
                    self.train.pop()
            self.train.append((x, perplexity))
            self.train = thin(self.train)
        if val is not None and math.isfinite(val) and val > 0:
            self.val.append((x, val))
            self.val = thin(self.val)
        self._dirty = True

    def add_grad(self, epoch: float, norm: float | None) -> None:
        """An epoch's gradient norm (drawn while :attr:`show_grad`, on the same log scale)."""
        if isinstance(norm, (int, float)) and math.isfinite(norm) and norm > 0:
            self.grad.append((epoch, float(norm)))
            self._dirty = self._dirty or self.show_grad

    def on_resize(self) -> None:
        if self._fitted:  # (lines thinned to the old width: thin them to the new one)
            self.redraw()

    def toggle_grad(self) -> bool:
        self.show_grad = not self.show_grad
        self.redraw()
        return self.show_grad

    def _tick(self) -> None:
        if self._dirty and self._soon is None:
            self.redraw()

    def redraw_soon(self, min_s: float) -> None:
        """Redraw what changed: at once when the last draw is ``min_s`` old (the first change
        after a quiet spell shows without delay), else once it is (a burst of changes costs one
        draw per ``min_s``, and none waits longer). New points of followed runs."""
        if not self._dirty or self._soon is not None:
            return
        wait = self._drawn_at + min_s - time.monotonic()
        if wait <= 0:
            self.redraw()
        else:
            self._soon = self.set_timer(wait, self._soon_due)

    def _soon_due(self) -> None:
        self._soon = None
        if self._dirty:
            self.redraw()

    def redraw(self) -> None:
        self._drawn_at = time.monotonic()
        self._dirty = False
        self.draws += 1
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        grad = self.grad if self.show_grad else []
        named = [points for points in self.lines.values() if points]
        values = (
            [p for _, p in self.train]
            + [p for _, p in self.val]
            + [g for _, g in grad]
            + [p for points in named for _, p in points]
        )
        self._series = []
        if not values:
            plt.xlim(0, max(self.total_epochs, 1))
            plt.ylim(0, 1)
            plt.yticks([0, 1], ["1", "10"])
            self.refresh()
            return
        log_y_axis(plt, values)
        series = []
        if self.train:
            series.append(_series(self.train, "cyan", "train"))
        if self.val:
            series.append(_series(self.val, "orange", "val"))
        if grad:
            series.append(_series(grad, "magenta", "grad norm"))
        self._fitted = False
        for index, (label, points) in enumerate(item for item in self.lines.items() if item[1]):
            shown = fit(points, self.size.width)
            self._fitted = self._fitted or shown is not points
            series.append(_series(shown, LINE_COLORS[index % len(LINE_COLORS)], label))
        for line in series:  # (plotext draws the frame and legend; render() draws the lines)
            plt.plot(*stub(line), label=line.label, marker="braille", color=line.color)
        self._series = series
        last_x = max(
            [x for x, _ in self.train]
            + [x for x, _ in self.val]
            + [x for x, _ in grad]
            + [x for points in named for x, _ in points]
            + [1]
        )
        for x, _name in self.knobs:
            plt.vline(x, "orange")
        plt.xlim(0, max(last_x, 1))
        plt.xticks(epoch_ticks(0, last_x))
        self.refresh()
