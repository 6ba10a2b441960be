"""The chart's redraw_soon (followed runs' new points): the first change after a quiet spell is
drawn at once; a change right after a draw is drawn once the spacing has passed, without waiting
for the chart's 1 s tick; a burst of changes costs one draw."""

from __future__ import annotations

import time

from textual.app import App

from lstm_tui.app.widgets.perplexity_chart import PerplexityChart


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
