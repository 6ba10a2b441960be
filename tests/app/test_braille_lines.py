"""The chart's fast lines (widgets/braille_lines.py) draw exactly what plotext draws.

For random lines, sizes, themes and vertical markers, plotext given every point and parsed by
``Text.from_ansi`` (what textual-plotext shows) is compared with plotext given one point a line
plus :func:`overlay` and :func:`matrix_text`, character by character and style by style.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from plotext import _utility as ut
from rich.console import Console
from rich.text import Text
from textual.app import App, ComposeResult
from textual.visual import Visual, visualize
from textual_plotext.plot import Plot

from lstm_tui.app.widgets.braille_lines import (
    MatrixVisual,
    Series,
    line_points,
    matrix_data,
    matrix_text,
    overlay,
    stub,
)
from lstm_tui.app.widgets.perplexity_chart import LINE_COLORS, PerplexityChart, epoch_ticks, log_y_axis


def _frame(plot: Plot, series: list[Series], width: int, height: int, theme: str, knobs: list[float]) -> None:
    plot.clear_data()
    plot.clear_figure()
    plot.plotsize(width, height)
    plot._set_size(width, height)
    plot.theme(theme)
    values = [10**y for line in series for y in line.ys]
    log_y_axis(plot, values)
    last_x = max(x for line in series for x in line.xs)
    for x in knobs:
        plot.vline(x, "orange")
    plot.xlim(0, max(last_x, 1))
    plot.xticks(epoch_ticks(0, last_x))


def plotext_text(series, width, height, theme, knobs) -> Text:
    plot = Plot()
    _frame(plot, series, width, height, theme, knobs)
    for line in series:
        plot.plot(list(line.xs), list(line.ys), label=line.label, marker="braille", color=line.color)
    return Text.from_ansi(plot.build())


def fast_text(series, width, height, theme, knobs) -> Text:
    plot = Plot()
    _frame(plot, series, width, height, theme, knobs)
    for line in series:
        plot.plot(*stub(line), label=line.label, marker="braille", color=line.color)
    plot._set_sizes()
    plot._build_matrix()
    overlay(plot.monitor, series)
    return matrix_text(plot.monitor.matrix, {})


def cells(text: Text, width: int) -> list[tuple[str, str]]:
    """Each character with the style it is drawn in."""
    console = Console(width=width + 5, color_system="truecolor", force_terminal=True, legacy_windows=False)
    return [(char, str(segment.style)) for segment in console.render(text) for char in segment.text if char != "\n"]


def random_series(rnd: random.Random, lines: int, points: int) -> list[Series]:
    out = []
    for index in range(lines):
        start = rnd.uniform(1.5, 30)
        xs = sorted({round(rnd.uniform(0, points), 3) for _ in range(points)}) if rnd.random() < 0.3 else None
        xs = xs or [float(e) for e in range(1, points + 1)]
        ys = [math.log10(max(1.01, start * math.exp(-x / rnd.uniform(5, 80)) + rnd.uniform(0, 2))) for x in xs]
        label = ["train", "val", f"run-{index}"][min(index, 2)] if rnd.random() < 0.9 else f"a-long-run-name-{index}"
        out.append(Series(tuple(xs), tuple(ys), LINE_COLORS[index % len(LINE_COLORS)], label))
    return out


CASES = [
    (seed, lines, points)
    for seed, (lines, points) in enumerate([(1, 2), (1, 40), (2, 180), (8, 90), (8, 180), (3, 1), (5, 500)])
]


@pytest.mark.parametrize("seed,lines,points", CASES)
@pytest.mark.parametrize("size", [(90, 18), (60, 12), (118, 26), (30, 8)])
def test_fast_lines_are_plotexts_own(seed, lines, points, size):
    rnd = random.Random(seed * 100 + size[0])
    series = random_series(rnd, lines, points)
    knobs = [rnd.uniform(0, points) for _ in range(rnd.randrange(3))]
    theme = rnd.choice(["default", "dark", "clear", "pro"])
    width, height = size
    expected = plotext_text(series, width, height, theme, knobs)
    got = fast_text(series, width, height, theme, knobs)
    assert got.plain == expected.plain
    assert cells(got, width) == cells(expected, width)


def test_matrix_data_matches_plotexts_rounding():
    rnd = random.Random(7)
    values = [rnd.uniform(-3, 3) for _ in range(2000)] + [0.0, 1.0, 2.5, -1.0, 0.1 + 0.2]
    for lim, bins in [((-3.0, 3.0), 180), ((0.0, 1.0), 7), ((0.1, 2.9), 1000)]:
        expected = ut.get_matrix_data(values, list(lim), bins)
        assert matrix_data(np.asarray(values), lim, bins).tolist() == expected


def test_line_points_match_plotexts_get_lines():
    rnd = random.Random(3)
    for _ in range(200):
        n = rnd.randrange(1, 30)
        x = [rnd.randrange(-5, 60) for _ in range(n)]
        y = [rnd.randrange(-5, 40) for _ in range(n)]
        expected_x, expected_y, _ = ut.get_lines(x, y, ["braille"] * n)
        got_x, got_y = line_points(np.asarray(x), np.asarray(y))
        assert (got_x.tolist(), got_y.tolist()) == (expected_x, expected_y)


class SelectableChart(PerplexityChart):
    ALLOW_SELECT = True


class ChartApp(App):
    CSS = "PerplexityChart { width: 90; height: 18; }"

    def __init__(self, chart: type[PerplexityChart] = PerplexityChart) -> None:
        super().__init__()
        self.chart_type = chart

    def compose(self) -> ComposeResult:
        yield self.chart_type()


def _without_offsets(strip) -> list:
    return [(segment.text, segment.style.clear_meta_and_links() if segment.style else None) for segment in strip]


@pytest.mark.parametrize("selectable", [True, False])
@pytest.mark.parametrize("theme", ["textual-dark", "textual-light", "nord"])
async def test_the_charts_visual_gives_the_strips_textual_makes_of_its_text(theme, selectable):
    """MatrixVisual's own strips are the ones Textual makes of the same Rich text, segment for
    segment (text, colours, and the offsets its selection reads where the chart can be
    selected; the app's chart cannot, and its strips carry none), in the chart as mounted."""
    app = ChartApp(SelectableChart if selectable else PerplexityChart)
    async with app.run_test(size=(100, 24)) as pilot:
        app.theme = theme
        chart = app.query_one(PerplexityChart)
        assert chart.allow_select is selectable
        rnd = random.Random(5)
        chart.set_lines(
            {
                f"run-{i}": [(float(e), 20 * math.exp(-e / 40) + 2 + rnd.random()) for e in range(1, 150)]
                for i in range(8)
            }
        )
        chart.add_knob(30.5, "lr")
        chart.redraw()
        await pilot.pause()
        visual = chart.render()
        assert isinstance(visual, MatrixVisual)
        width, height = chart.size
        fast = Visual.to_strips(chart, visual, width, height, chart.visual_style)
        slow = Visual.to_strips(chart, visualize(chart, visual.text()), width, height, chart.visual_style)
        assert len(fast) == height and any("⠉" in strip.text or "⣀" in strip.text for strip in fast)
        if selectable:
            assert [list(strip) for strip in fast] == [list(strip) for strip in slow]
        else:
            assert [_without_offsets(strip) for strip in fast] == [_without_offsets(strip) for strip in slow]
            assert not any(segment.style and segment.style.meta for strip in fast for segment in strip)
        # a width it was not built for (mid-resize): the text's own rendering
        narrow = Visual.to_strips(chart, visual, width - 7, height, chart.visual_style)
        assert [strip.text for strip in narrow] == [
            strip.text
            for strip in Visual.to_strips(chart, visualize(chart, visual.text()), width - 7, height, chart.visual_style)
        ]
