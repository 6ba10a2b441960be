"""The gate inspector (F3) driven through Pilot, on the trained fixture runs and on built models."""

from __future__ import annotations

import pytest
import torch
from app_helpers import wait_for
from textual.widgets import Input, Select

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.messages import RunLoaded
from lstm_tui.app.screens.gates import DEFAULT_TEXT, NO_MODEL, GateScreen
from lstm_tui.app.session import LoadedRun
from lstm_tui.app.widgets.gate_strip import GateStrip, gate_colour, text_colour, unit_colour
from lstm_tui.core.checkpoint import load_model
from lstm_tui.core.gates import gate_activations
from lstm_tui.core.models import build_model
from lstm_tui.core.presets import PRESETS


def make_app(config=None) -> LstmTuiApp:
    config = config or PRESETS["scratch"].config.replace(device="cpu", seed=0)
    return LstmTuiApp(config, runs_dir="/nonexistent-runs-dir-for-gate-tests", detect_devices=False)


def load_run(root, name: str):
    """A run of ``trained_runs_root`` by its name (the folders are named <date>-<time>-<name>)."""
    (folder,) = root.glob(f"*-{name}")
    model, vocab, config, _ = load_model(folder / "checkpoint.pt")
    return model, vocab, config


async def open_inspector(pilot) -> GateScreen:
    await pilot.press("f3")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, GateScreen), 5, "the inspector")
    screen = pilot.app.screen
    await wait_for(pilot, lambda: screen.is_mounted and not screen.computing, 20, "the gates")
    return screen


async def post_model(pilot, model, vocab, config, path: str = "/runs/test-model") -> None:
    pilot.app.post_message(RunLoaded(LoadedRun(model, vocab, config, path)))
    await wait_for(
        pilot, lambda: pilot.app.state == "loaded" and pilot.app.session.loaded.model is model, 5, "the model to load"
    )


def assert_matches(strip: GateStrip, expected) -> None:
    trace = strip.trace
    assert trace is not None
    assert strip.cell_count == len(expected.chars) == len(trace.chars)
    assert trace.chars == expected.chars
    rows = dict(strip.rows)
    shown = len(rows) - 3  # the unit rows that fit the height, most varying first
    assert shown >= 4
    assert list(rows) == ["input", "forget", "output", *(f"h{u}" for u in expected.units[:shown])]
    for label, values in (
        ("input", expected.input_gate),
        ("forget", expected.forget_gate),
        ("output", expected.output_gate),
    ):
        assert len(rows[label]) == len(trace.chars)
        assert rows[label] == pytest.approx(values, abs=1e-6)
    assert trace.units == expected.units
    for unit, values in zip(expected.units[:shown], expected.unit_values):
        assert rows[f"h{unit}"] == pytest.approx(values, abs=1e-6)


async def test_scratch_run_strips_cursor_and_unknown_characters(trained_runs_root):
    """A loaded scratch LSTM at 80x24: the strips equal gate_activations, the cursor moves the detail
    line and scrolls a long text, unknown characters are shown in place and fixing the text recovers."""
    model, vocab, config = load_run(trained_runs_root, "small")
    expected = gate_activations(model, vocab, DEFAULT_TEXT, top_units=8)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await post_model(pilot, model, vocab, config, "/runs/small")
        screen = await open_inspector(pilot)
        assert screen.error == ""
        assert screen.query_one("#gates-text", Input).value == DEFAULT_TEXT
        assert_matches(screen.strip, expected)
        assert not screen.query("#gates-layer")  # one layer: no layer selector
        assert app.focused is screen.strip

        n = len(DEFAULT_TEXT)
        assert screen.detail.startswith(f"'t' 1/{n} input {expected.input_gate[0]:.3f}")
        await pilot.press("right", "right")
        assert screen.strip.cursor == 2
        assert screen.detail.startswith(
            f"'m' 3/{n} input {expected.input_gate[2]:.3f} "
            f"forget {expected.forget_gate[2]:.3f} output {expected.output_gate[2]:.3f}"
        )
        assert f"h{expected.units[0]} {expected.unit_values[0][2]:+.2f}" in screen.detail
        await pilot.press("left")
        assert screen.detail.startswith(f"'i' 2/{n}")
        await pilot.press("right", "right", "right")
        assert screen.detail.startswith(f"space 5/{n}")
        await pilot.press("end")  # the text is longer than 80 columns: the strip scrolls with the cursor
        assert screen.strip.cursor == n - 1 and screen.detail.startswith(f"'s' {n}/{n}")
        await pilot.pause()
        assert screen.strip.scroll_start > 0 and "▼" in str(screen.strip.render())
        await pilot.press("home")
        await pilot.pause()
        assert screen.strip.cursor == 0 and screen.strip.scroll_start == 0
        await pilot.press("left")  # stays at the first character
        assert screen.strip.cursor == 0
        await pilot.press("u")  # hide the unit rows
        assert [label for label, _ in screen.strip.rows] == ["input", "forget", "output"]

        box = screen.query_one("#gates-text", Input)
        box.value = "Time 42"  # typing recomputes after a short pause
        await wait_for(pilot, lambda: screen.error, 10, "the error")
        assert "'T'" in screen.error and "'4'" in screen.error and "not in the vocabulary" in screen.error
        assert "unknown='unk'" not in screen.error  # the core's advice to Python callers is dropped
        assert "try 'time '" in screen.error  # its suggestion, made of characters the model reads, stays
        assert screen.strip.trace is None and screen.strip.cell_count == 0
        assert "not in the vocabulary" in str(screen.strip.render())
        box.value = "time"  # fixing the text brings the strips back
        await wait_for(pilot, lambda: screen.strip.trace is not None, 10, "the strips")
        assert screen.error == "" and screen.strip.cell_count == 4
        await pilot.press("escape")
        assert not isinstance(app.screen, GateScreen)


async def test_torch_run_new_text_and_a_deep_bidirectional_model(trained_runs_root):
    model, vocab, config = load_run(trained_runs_root, "held-out")
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await post_model(pilot, model, vocab, config, "/runs/held-out")
        screen = await open_inspector(pilot)
        assert_matches(screen.strip, gate_activations(model, vocab, DEFAULT_TEXT, top_units=8))
        box = screen.query_one("#gates-text", Input)
        await pilot.press("tab")  # from the strips back to the text box
        assert app.focused is box
        box.value = ""
        await pilot.press(*"the time machine", "enter")
        await wait_for(
            pilot,
            lambda: (
                screen.strip.trace is not None
                and not screen.computing
                and "".join(screen.strip.trace.chars) == "the time machine"
            ),
            10,
            "the new text",
        )
        assert app.focused is screen.strip  # Enter goes back to the strips
        assert_matches(screen.strip, gate_activations(model, vocab, "the time machine", top_units=8))
        await pilot.press("escape")

        # A 2-layer bidirectional LSTM: a layer selector, and the note on what is shown.
        deep_config = config.replace(layers=2, bidirectional=True, hidden=8)
        torch.manual_seed(0)
        deep = build_model(deep_config, len(vocab)).eval()
        await post_model(pilot, deep, vocab, deep_config)
        screen = await open_inspector(pilot)
        note = screen.query_one("#gates-note")
        assert note.display and "bidirectional" in str(note.render())
        assert_matches(screen.strip, gate_activations(deep, vocab, DEFAULT_TEXT, top_units=8))
        screen.query_one("#gates-layer", Select).value = 1
        await wait_for(
            pilot,
            lambda: screen.strip.trace is not None and screen.strip.trace.layer == 1 and not screen.computing,
            10,
            "layer 1",
        )
        assert_matches(screen.strip, gate_activations(deep, vocab, DEFAULT_TEXT, layer=1, top_units=8))
        assert "layer 1" in str(note.render())


async def test_without_a_model_then_a_gru_model(trained_runs_root):
    _, vocab, config = load_run(trained_runs_root, "small")
    gru_config = config.replace(cell="gru")
    torch.manual_seed(0)
    gru = build_model(gru_config, len(vocab)).eval()
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_inspector(pilot)
        assert screen.error == NO_MODEL
        assert "No model yet" in str(screen.strip.render())
        await pilot.press("right", "u", "c", "r")  # keys do nothing harmful without a trace
        await pilot.press("f3")  # F3 closes it again
        assert not isinstance(app.screen, GateScreen)

        await post_model(pilot, gru, vocab, gru_config)
        screen = await open_inspector(pilot)
        assert "GRU" in screen.error and "LSTM gates" in screen.error
        assert "GRU" in str(screen.strip.render())


async def test_inspector_while_training_uses_a_snapshot(tiny_config, runs_dir):
    app = LstmTuiApp(tiny_config.replace(epochs=2000, predict_every=0), runs_dir=runs_dir, detect_devices=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state == "training", 30, "training")
        screen = await open_inspector(pilot)
        assert screen.error == "", screen.error
        assert "training run" in screen.query_one("#gates-dialog").border_subtitle
        strip = screen.strip
        assert strip.cell_count == len(DEFAULT_TEXT)
        for label, values in strip.rows[:3]:
            assert len(values) == len(DEFAULT_TEXT) and all(0.0 <= v <= 1.0 for v in values), label
        await pilot.press("r")  # read again on a newer snapshot
        await wait_for(pilot, lambda: not screen.computing, 10, "the second reading")
        assert strip.cell_count == len(DEFAULT_TEXT)
        await pilot.press("escape")
        await pilot.press("f7")
        await wait_for(pilot, lambda: app.state in ("stopped", "finished", "failed"), 30, "the stop")
        await app.workers.wait_for_complete()


def test_colour_scales_are_readable():
    assert gate_colour(0.0) == "#440154" and gate_colour(1.0) == "#fde725"
    assert text_colour(gate_colour(0.0)) == "#ffffff" and text_colour(gate_colour(1.0)) == "#000000"
    assert unit_colour(0.0) == "#303030" and text_colour(unit_colour(0.0)) == "#ffffff"
    assert gate_colour(-3) == gate_colour(0) and gate_colour(7) == gate_colour(1)  # clamped
    assert gate_colour(float("nan")) == "#000000"


def test_snapshot_of_the_inspector(snap_compare, book_trained_runs_root):
    model, vocab, config = load_run(book_trained_runs_root, "held-out")

    async def open_it(pilot) -> None:
        await post_model(pilot, model, vocab, config, "/runs/held-out")
        screen = await open_inspector(pilot)
        for widget in screen.query(Input):
            widget.cursor_blink = False
        await pilot.press("right", "right", "right")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=open_it)
