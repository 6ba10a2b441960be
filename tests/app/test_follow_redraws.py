"""What following costs the chart (issue 13's benchmark target): a followed run's message with a
new epoch is drawn at once after a quiet spell, or once the chart's spacing has passed when it
comes right after a draw (within REDRAW_MIN_S, not the chart's 1 s tick); a message with nothing
new for the chart (a sample, the same status again) costs no redraw; the status line's numbers
are drawn just after the chart, in a frame of their own. The follow worker is replaced by
messages posted here, so what arrives and when is the test's."""

from __future__ import annotations

import json
import time
from pathlib import Path

from app_helpers import wait_for

from lstm_tui.app.following import REDRAW_MIN_S, FollowingMixin, FollowUpdate
from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.widgets.status_bar import StatusBar
from lstm_tui.core.follow import RunUpdate


def _metric(epoch: int, ppl: float) -> dict:
    return {"epoch": epoch, "perplexity": ppl, "tokens_per_s": 1000.0, "elapsed_s": float(epoch)}


def _run(root: Path) -> Path:
    run = root / "by-hand"
    run.mkdir(parents=True)
    (run / "config.toml").write_text('preset = "scratch"\n')
    (run / "summary.json").write_text(json.dumps({"status": "running", "epoch": 0, "epochs": 10}))
    return run


class Drawn:
    """The chart's redraws: how many points of ``label`` each one drew."""

    def __init__(self, chart, label: str) -> None:
        self.points: list[int] = []
        original = chart.redraw

        def redraw() -> None:
            self.points.append(len(chart.lines.get(label, [])))
            original()

        chart.redraw = redraw


async def test_a_new_epoch_is_drawn_within_the_spacing_and_nothing_new_costs_no_redraw(tmp_path, monkeypatch):
    monkeypatch.setattr(FollowingMixin, "_follow", lambda self, paths, generation, stop: None)
    run = _run(tmp_path / "runs")
    app = LstmTuiApp(runs_dir=tmp_path / "runs", detect_devices=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.follow_runs([run])
        drawn = Drawn(app.chart, run.name)

        def post(*updates: RunUpdate) -> None:
            app.post_message(FollowUpdate(app._follow_generation, list(updates)))

        await pilot.pause(REDRAW_MIN_S + 0.1)  # quiet: the last draw is old enough
        post(RunUpdate(run.absolute(), metrics=(_metric(1, 20.0),), status="running", reset=True))
        await wait_for(pilot, lambda: drawn.points[-1:] == [1], 2, "the first epoch drawn")
        assert len(drawn.points) == 1, "one message, one draw"

        began = time.monotonic()  # right after that draw: a second epoch waits its turn only
        post(RunUpdate(run.absolute(), metrics=(_metric(2, 15.0),)))
        await wait_for(pilot, lambda: drawn.points[-1:] == [2], 2, "the second epoch drawn")
        waited = time.monotonic() - began
        assert waited < REDRAW_MIN_S + 0.3, f"the new epoch waited {waited:.2f} s (the 1 s tick, not its turn)"
        assert len(drawn.points) == 2

        await pilot.pause(REDRAW_MIN_S + 0.1)
        sample = {"epoch": 2, "prefix": "the", "text": " time"}
        post(RunUpdate(run.absolute(), samples=(sample,), status="running"))  # nothing new to plot
        await wait_for(pilot, lambda: "time" in app.log_view.plain, 2, "the sample logged")
        await pilot.pause(1.2)  # (past the chart's 1 s tick too)
        assert drawn.points == [1, 2], "nothing new on the chart, yet it drew again"


async def test_the_status_numbers_come_with_the_charts_draw(tmp_path, monkeypatch):
    monkeypatch.setattr(FollowingMixin, "_follow", lambda self, paths, generation, stop: None)
    monkeypatch.setattr(StatusBar, "FLUSH_S", 100.0)  # (its own once-a-second flush out of the way)
    run = _run(tmp_path / "runs")
    app = LstmTuiApp(runs_dir=tmp_path / "runs", detect_devices=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.follow_runs([run])
        await pilot.pause(REDRAW_MIN_S + 0.1)
        flushes: list[int] = []
        original = app.status_bar.flush
        monkeypatch.setattr(app.status_bar, "flush", lambda: (flushes.append(app.chart.draws), original())[1])
        draws = app.chart.draws
        app.post_message(
            FollowUpdate(app._follow_generation, [RunUpdate(run.absolute(), metrics=(_metric(1, 20.0),), reset=True)])
        )
        await wait_for(pilot, lambda: app.chart.draws > draws, 2, "the draw")
        assert flushes == [draws + 1], "the status line was not drawn with the chart"
        assert app.status_bar.status.epoch == 1


async def test_a_follow_message_handled_as_the_app_closes_is_dropped(tmp_path, monkeypatch):
    """Quitting while busy runs are followed: an update the worker posted just before is
    handled after the screens are gone; it is dropped, not a NoMatches traceback on exit."""
    monkeypatch.setattr(FollowingMixin, "_follow", lambda self, paths, generation, stop: None)
    run = _run(tmp_path / "runs")
    app = LstmTuiApp(runs_dir=tmp_path / "runs", detect_devices=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.follow_runs([run])
        await pilot.pause()
    assert not app.is_running
    sample = {"epoch": 1, "prefix": "time", "text": "time traveller"}
    late = RunUpdate(run.absolute(), metrics=(_metric(1, 20.0),), samples=(sample,), status="running", reset=True)
    # (as in the moment between Textual pruning the screens and the app's unmount, which ends
    # the follow worker: the update is of the current worker)
    app.on_follow_update(FollowUpdate(app._follow_generation, [late]))  # (raised NoMatches before)
