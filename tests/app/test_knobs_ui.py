"""Live knobs from the app (ctrl+k): its own run (Trainer.set_knobs), a run another process
trains (the control file), a bad value marked in the dialog, markers on the chart, log lines."""

from __future__ import annotations

import json
import os
import socket
import time

from app_helpers import DONE, wait_for
from textual.widgets import Input

from lstm_tui.app.knobs import knob_line, knob_x
from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens.knobs import KnobsDialog
from lstm_tui.core.runs import RunDir
from lstm_tui.core.runs.files import LOCK_FILE


def make_app(config, runs_dir) -> LstmTuiApp:
    return LstmTuiApp(config, runs_dir=runs_dir, detect_devices=False)


async def set_field(pilot, app, name: str, text: str) -> None:
    field = app.screen.query_one(f"#knob-{name}", Input)
    field.value = text
    field.focus()
    await pilot.press("enter")
    await pilot.pause()


def test_knob_line_and_x():
    assert knob_line("lr", 1.0, 0.5, 3, 17) == "lr 1 -> 0.5 at epoch 3, batch 17"
    assert knob_x(3, 17, 34) == 2.5
    assert knob_x(3, 17, 0) == 2.0


async def check_the_dialog(pilot, app, tiny_config) -> None:
    await pilot.press("ctrl+k")
    await wait_for(pilot, lambda: isinstance(app.screen, KnobsDialog), 5, "the dialog")
    assert app.screen.query_one("#knob-lr", Input).value == f"{tiny_config.lr:g}"
    assert app.screen.query_one("#knob-clip", Input).value == f"{tiny_config.clip:g}"
    await set_field(pilot, app, "lr", "-1")  # a bad value: marked, the dialog stays
    assert isinstance(app.screen, KnobsDialog)
    assert app.screen.query_one("#knob-row-lr").has_class("-bad")
    assert "lr" in str(app.screen.query_one("#knobs-error").render())
    await set_field(pilot, app, "lr", "0.25")
    assert not isinstance(app.screen, KnobsDialog)


async def test_knob_change_on_the_apps_run(tiny_config, runs_dir):
    app = make_app(tiny_config.replace(epochs=5000), runs_dir)  # (long enough never to end before F6)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state == "training", 60, "training")
        await pilot.press("f6")
        await wait_for(pilot, lambda: app.state == "paused", 30, "the pause")
        try:
            await check_the_dialog(pilot, app, tiny_config)
        finally:
            if isinstance(app.screen, KnobsDialog):
                app.screen.dismiss(None)
            await pilot.press("f6")  # (never leave a paused trainer behind: teardown would wait on it)
        await wait_for(pilot, lambda: bool(app.chart.knobs), 30, "the change at the next batch")
        await pilot.press("f7")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the stop")
        assert app.chart.knobs and app.chart.knobs[0][1] == "lr"
        assert f"lr {tiny_config.lr:g} -> 0.25 at epoch" in app.log_view.plain
        lines = (RunDir(app.session.run_path).path / "metrics.jsonl").read_text().splitlines()
        knobs = [record for record in map(json.loads, lines) if "knob" in record]
        assert knobs and knobs[0]["value"] == 0.25


async def test_knobs_without_a_run_say_so(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+k")
        await pilot.pause()
        assert not isinstance(app.screen, KnobsDialog)
        assert any("No run is training" in n.message for n in app._notifications)


async def test_knobs_of_a_run_another_process_trains(tiny_config, runs_dir):
    run = RunDir.create(runs_dir, tiny_config)
    # the parent process (alive, not us) "holds" the run
    (run.path / LOCK_FILE).write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname()}))
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        app.session.run_path = str(run.path)
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: isinstance(app.screen, KnobsDialog), 5, "the dialog")
        await set_field(pilot, app, "clip", "0")
        assert not isinstance(app.screen, KnobsDialog)
        request = json.loads((run.path / "control.json").read_text())["requests"][-1]
        assert request["command"] == "set" and request["values"] == {"clip": 0.0}
        ack = {
            "id": request["id"],
            "command": "set",
            "outcome": "applied",
            "detail": "setting at the next batch: clip 0",
            "at": time.time(),
            "by": request["target"],
        }
        (run.path / "control.ack.json").write_text(json.dumps({"acks": [ack]}))
        await wait_for(pilot, lambda: any("applied" in n.message for n in app._notifications), 10, "the ack")
        app.chart.add_records([{"knob": "clip", "value": 0.0, "previous": 1.0, "epoch": 2, "batch": 5}], batches=10)
        assert app.chart.knobs == [(1.5, "clip")]
