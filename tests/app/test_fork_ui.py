"""Fork from the runs screen (k): a sibling of a run with a checkpoint, changes that keep the
model's shape, a shape change refused naming the field; the fork trains in the app and compare
overlays the two curves; and top-p in the generate box."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_helpers import DONE, wait_for
from textual.widgets import Input

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens.fork import fork_note, parse_changes
from lstm_tui.app.screens.prompt import Prompt
from lstm_tui.app.screens.runs import RunsScreen
from lstm_tui.app.session import LoadedRun
from lstm_tui.core.compare import curves, run_row
from lstm_tui.core.config import ConfigError


def make_app(config, runs_dir) -> LstmTuiApp:
    return LstmTuiApp(config, runs_dir=runs_dir, detect_devices=False)


def test_parse_changes_by_the_field_rules():
    assert parse_changes("lr=0.5, epochs=20 clip=0") == {"lr": 0.5, "epochs": 20, "clip": 0.0}
    assert parse_changes("") == {}
    with pytest.raises(ConfigError) as bad:
        parse_changes("lr=-1")
    assert bad.value.field == "lr"
    with pytest.raises(ConfigError) as bad:
        parse_changes("nonsense")
    assert bad.value.field == "fork"


async def type_answer(pilot, text: str) -> None:
    field = pilot.app.screen.query_one("#prompt-input", Input)
    field.value = text
    field.focus()
    await pilot.press("enter")
    await pilot.pause()


async def test_fork_from_the_runs_screen_trains_and_compares(tiny_config, runs_dir):
    app = make_app(tiny_config.replace(epochs=2), runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the parent run")
        parent = Path(app.session.run_path)
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen), 15, "the runs screen")
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, Prompt), 5, "the fork prompt")
        await type_answer(pilot, "hidden=64")  # a shape change: refused, naming the field
        assert isinstance(app.screen, Prompt) and "hidden" in (app.screen.error or "")
        await type_answer(pilot, "lr=0.5 epochs=4")
        await wait_for(
            pilot,
            lambda: app.session.run_path not in (None, str(parent)) and app.state in DONE,
            60,
            "the fork to train",
        )
        fork = Path(app.session.run_path)
        assert app.state == "finished", app.log_view.plain
        record = json.loads((fork / "fork.json").read_text())
        assert record["epoch"] == 2 and record["changes"] == {"lr": 0.5, "epochs": 4}
        row = run_row(fork)
        assert fork_note(row) == f"forked from {parent.name} at epoch 2"
        parent_curve, fork_curve = curves([parent, fork])
        # the fork's curve starts with its parent's history, then goes on
        assert parent_curve.xs == [1, 2] and fork_curve.xs == [1, 2, 3, 4]
        assert fork_curve.ys[:2] == parent_curve.ys


async def test_top_p_in_the_generate_box(tiny_config, runs_dir, monkeypatch):
    seen: dict = {}

    def fake_stream(model, vocab, prefix, length, **kwargs):
        seen.update(kwargs)
        yield "ok"

    import lstm_tui.core.generate as generate

    monkeypatch.setattr(generate, "stream", fake_stream)
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)  # (the app focuses the form once it is up)
        app.session.load(LoadedRun(None, None, tiny_config, "somewhere"))
        box = app.generate_box
        top_p = app.query_one("#gen-top-p", Input)
        assert top_p.value == "1"
        for bad in ("0", "1.5", "x"):
            top_p.value = bad
            with pytest.raises(ValueError, match="top-p"):
                box.request()
        top_p.value = "0.9"
        app.query_one("#gen-prefix", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: not box.busy and ("ok" in box.generated or box.error), 10, "the text")
        assert box.generated == "ok", box.error
        assert seen["top_p"] == 0.9
