"""The status line draws numbers once a second and state changes at once."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import ProgressBar

from lstm_tui.app.widgets.status_bar import StatusBar, StatusText


class StatusApp(App):
    def compose(self) -> ComposeResult:
        yield StatusBar()


async def test_numbers_are_drawn_on_the_next_flush_and_a_state_change_at_once(monkeypatch):
    app = StatusApp()
    async with app.run_test(size=(100, 3)) as pilot:
        bar = app.query_one(StatusBar)
        text = app.query_one(StatusText)
        refreshes = []
        monkeypatch.setattr(text, "refresh", lambda *a, **k: refreshes.append(1))
        bar.set_progress(0, 10)  # a new run: at once
        assert app.query_one(ProgressBar).total == 10
        for epoch in range(1, 6):  # five fast epochs
            bar.update_status(epoch=epoch, perplexity=20.0 - epoch, tokens_per_s=1000.0 * epoch)
            bar.set_progress(epoch, 10)
        assert refreshes == [] and app.query_one(ProgressBar).progress == 0  # not drawn yet
        assert bar.status.epoch == 5  # the data is current; only the drawing waits
        bar.flush()
        assert len(refreshes) == 1 and app.query_one(ProgressBar).progress == 5  # one redraw for five updates
        bar.update_status(state="paused")
        assert len(refreshes) == 2  # a state change shows at once
        await pilot.pause()
        assert "paused" in bar.text
