"""The chart's redraw_soon (followed runs' new points): the first change after a quiet spell is
drawn at once; a change right after a draw is drawn once the spacing has passed, without waiting
for the chart's 1 s tick; a burst of changes costs one draw."""

from __future__ import annotations

import time

from textual.app import App

from lstm_tui.app.widgets.perplexity_chart import PerplexityChart, fit


class ChartApp(App):
    def compose(self):
        yield PerplexityChart(id="chart")


async def test_redraw_soon_draws_at_once_then_spaced():
    app = ChartApp()
    async with app.run_test(size=(80, 20)) as pilot:
        chart = app.query_one(PerplexityChart)
        await pilot.pause(0.6)  # quiet: the mount's draw is old enough
        before = chart.draws
        chart.set_line("run-a", [(1.0, 20.0)])
        chart.redraw_soon(0.45)
        assert chart.draws == before + 1, "the first change after a quiet spell waited"
        began = time.monotonic()
        for epoch in (2.0, 3.0, 4.0):  # a burst right after that draw
            chart.set_line("run-a", [(1.0, 20.0), (epoch, 15.0)])
            chart.redraw_soon(0.45)
        assert chart.draws == before + 1
        while chart.draws == before + 1 and time.monotonic() - began < 2:
            await pilot.pause(0.02)
        waited = time.monotonic() - began
        assert chart.draws == before + 2, "the burst was not drawn"
        assert waited < 0.8, f"the burst waited {waited:.2f} s (the 1 s tick, not its turn)"
        await pilot.pause(1.1)
        assert chart.draws == before + 2, "nothing changed, yet it drew again"


def test_fit_keeps_about_two_points_a_column_and_the_newest():
    points = [(float(x), 10.0 + x) for x in range(1, 1001)]
    kept = fit(points, 80)
    assert len(kept) <= 2 * 80 + 1 and kept[0] == points[0] and kept[-1] == points[-1]
    short = points[:160]
    assert fit(short, 80) is short
    assert fit(points, 0) is points  # (no size yet: as given)


async def test_the_same_line_again_is_not_a_change_and_a_long_line_is_drawn_fitted():
    app = ChartApp()
    async with app.run_test(size=(80, 20)) as pilot:
        chart = app.query_one(PerplexityChart)
        points = [(1.0, 20.0)]
        chart.set_line("run-a", points)
        chart.redraw()
        chart.set_line("run-a", points)  # a poll with nothing new for this run
        assert not chart._dirty
        points.append((2.0, 15.0))  # (its owner appends in place)
        chart.set_line("run-a", points)
        assert chart._dirty
        chart.set_line("run-a", [(float(x), 30.0 - x / 100) for x in range(1, 2001)])
        chart.redraw()
        assert chart._fitted
        drawn = len(chart.plt._active.monitor.x[0])  # (what plotext was given)
        assert drawn <= 2 * chart.size.width + 1
        draws = chart.draws
        await pilot.resize_terminal(100, 20)
        await pilot.pause()
        assert chart.draws > draws, "a fitted line was not fitted again to the new width"
