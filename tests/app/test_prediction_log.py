"""The prediction log: batches of lines laid out once, and the heads of several runs' samples."""

from __future__ import annotations

from textual.app import App, ComposeResult

from lstm_tui.app.widgets.prediction_log import PredictionLog


class LogApp(App):
    CSS = "PredictionLog { height: 8; width: 60; }"

    def compose(self) -> ComposeResult:
        yield PredictionLog()


async def test_a_batch_of_lines_follows_the_end_once():
    app = LogApp()
    async with app.run_test(size=(70, 12)) as pilot:
        log = app.query_one(PredictionLog)
        updates = []
        original = log._scroll_update
        log._scroll_update = lambda size: (updates.append(size), original(size))  # type: ignore[method-assign]
        with log.batched_lines():
            for index in range(30):
                log.add(f"line {index}")
            assert log.scroll_y == 0  # (laid out at the end of the batch, not a line at a time)
        assert len(updates) == 1
        await pilot.pause()
        assert log.max_scroll_y > 0 and log.scroll_y == log.max_scroll_y
        assert "line 29" in log.lines[-1].text
        before = len(updates)
        log.add("one more")  # (outside a batch: at once, as before)
        assert len(updates) == before + 1 and log.scroll_y == log.max_scroll_y


async def test_a_batch_keeps_the_place_of_a_log_scrolled_up():
    app = LogApp()
    async with app.run_test(size=(70, 12)) as pilot:
        log = app.query_one(PredictionLog)
        for index in range(30):
            log.add(f"line {index}")
        await pilot.pause()
        log.scroll_to(y=3, animate=False, immediate=True)
        with log.batched_lines():
            for index in range(10):
                log.add(f"new {index}")
        await pilot.pause()
        assert log.scroll_y == 3 and log.max_scroll_y > 30


async def test_each_runs_samples_have_a_head_with_its_name_and_perplexity():
    """Two followed runs at the same epoch: each sample under its own run's head (one line:
    the run, the epoch, its perplexity); a run's second sample of an epoch shares its head."""
    app = LogApp()
    async with app.run_test(size=(70, 12)):
        log = app.query_one(PredictionLog)
        with log.batched_lines():
            log.sample(12, 5.5, None, "time", "time traveller", run="run-a")
            log.sample(12, 7.25, None, "time", "time machine", run="run-b")
            log.sample(12, 7.25, None, "the", "the thing", run="run-b")
            log.sample(13, 5.0, None, "time", "time was")  # (one run: no name)
        lines = log.plain.splitlines()
        assert lines == [
            "run-a  epoch 12  perplexity 5.50",
            "  time traveller",
            "run-b  epoch 12  perplexity 7.25",
            "  time machine",
            "  the thing",
            "epoch 13  perplexity 5.00",
            "  time was",
        ]
