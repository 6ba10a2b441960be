"""The lenses on the main screen: the generate box's time-lapse, the gradient norm in the status
line and on the chart, the log's mark on a bidirectional model's samples, and the help."""

from __future__ import annotations

import os

from app_helpers import wait_for
from rich.console import Console
from test_lens_screen import load_run, make_app, post_model
from textual.widgets import Static

from lstm_tui.app import messages as m
from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens import HelpScreen
from lstm_tui.app.widgets.generate_box import GenerateRequest
from lstm_tui.app.widgets.prediction_log import SAMPLE_WARNING_MARK
from lstm_tui.core import events as ev
from lstm_tui.core.config import BIDIRECTIONAL_WARNING
from lstm_tui.core.generate import predict
from lstm_tui.core.timelapse import load_snapshot_with_vocab


async def test_generate_box_steps_through_snapshots(trained_runs_root):
    model, vocab, config, folder = load_run(trained_runs_root, "small")
    old_model, old_vocab, _ = load_snapshot_with_vocab(folder, 1)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await post_model(pilot, model, vocab, config, folder)
        app.set_focus(None)  # ([ and ] are text in a text field)
        await pilot.press("[")
        assert app._gen_lapse.epoch == 2 and app.generate_box.border_subtitle == "as of epoch 2"
        await pilot.press("[")
        assert app._gen_lapse.epoch == 1
        box = app.generate_box
        app.generate(GenerateRequest("time traveller", 15, 0.0, 0))
        await wait_for(pilot, lambda: not box.busy, 20, "generation")
        assert box.error == ""
        assert "time traveller" + box.generated == predict(old_model, old_vocab, "time traveller", 15)
        await pilot.press("]", "]")
        assert app._gen_lapse.epoch is None and app.generate_box.border_subtitle == ""
        app.generate(GenerateRequest("time traveller", 15, 0.0, 0))
        await wait_for(pilot, lambda: not box.busy, 20, "generation")
        assert "time traveller" + box.generated == predict(model, vocab, "time traveller", 15)


async def test_gradient_norm_in_the_status_line_and_as_a_chart_series():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        run_id = app.session.run_id
        epoch = ev.EpochEnd(
            epoch=1,
            epochs=4,
            perplexity=20.0,
            tokens_per_s=100.0,
            elapsed_s=1.0,
            grad_norm=1.5,
            clipped_share=0.25,
            grad_norm_max=3.0,
        )
        app.post_message(m.EngineEpochEnd(run_id, epoch))
        await wait_for(pilot, lambda: app.chart.grad, 5, "the epoch")
        assert "‖g‖ 1.5 clipped 25%" in app.status_bar.text
        assert app.chart.grad == [(1, 1.5)] and not app.chart.show_grad
        app.set_focus(None)
        await pilot.press("g")
        assert app.chart.show_grad and "gradient norm" in app.chart.border_title
        await pilot.press("g")
        assert not app.chart.show_grad and app.chart.border_title == "Perplexity (log scale)"
        no_clip = ev.EpochEnd(
            epoch=2, epochs=4, perplexity=15.0, tokens_per_s=100.0, elapsed_s=2.0, grad_norm=0.8, clipped_share=None
        )
        app.post_message(m.EngineEpochEnd(run_id, no_clip))
        await wait_for(pilot, lambda: len(app.chart.grad) == 2, 5, "the second epoch")
        assert "‖g‖ 0.8" in app.status_bar.text and "clipped" not in app.status_bar.text


async def test_the_log_marks_a_bidirectional_models_samples():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        run_id = app.session.run_id
        app.post_message(m.EngineSample(run_id, ev.Sample(epoch=1, prefix="time", text="time travel")))
        app.post_message(
            m.EngineSample(run_id, ev.Sample(epoch=1, prefix="time", text="time ererer", warning=BIDIRECTIONAL_WARNING))
        )
        await wait_for(pilot, lambda: app.log_view.entries == 2, 5, "the samples")
        lines = app.log_view.plain.splitlines()
        honest = next(line for line in lines if "time travel" in line)
        garbled = next(line for line in lines if "time ererer" in line)
        assert SAMPLE_WARNING_MARK not in honest and garbled.endswith(SAMPLE_WARNING_MARK)


async def test_help_lists_the_lens_screens_keys():
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        with open(os.devnull, "w") as sink:
            console = Console(width=100, record=True, file=sink)
            for static in app.screen.query(Static):
                console.print(static.content)
            text = console.export_text()
        for sample in (
            "Probability lens (F4)",
            "Pick a second run to compare with",
            "Flip-book (b in",
            "Gradient through time (t in the lens)",
            "Overlay another run's gradient",
            "Show or hide the epochs' gradient norm",
            "Generate from the run's previous snapshot",
        ):
            assert sample in text, sample
        await pilot.press("escape")
        commands = [command.title for command in app.get_system_commands(app.screen)]
        assert any(title.startswith("Lens (f4)") for title in commands)
        assert any(title.startswith("Older snapshot ([)") for title in commands)


async def test_gate_inspector_steps_through_snapshots(trained_runs_root):
    from lstm_tui.app.screens.gates import DEFAULT_TEXT, GateScreen
    from lstm_tui.core.gates import gate_activations

    model, vocab, config, folder = load_run(trained_runs_root, "small")
    old_model, old_vocab, _ = load_snapshot_with_vocab(folder, 1)
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await post_model(pilot, model, vocab, config, folder)
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen), 5, "the inspector")
        screen = app.screen
        await wait_for(pilot, lambda: not screen.computing, 20, "the gates")
        screen.strip.focus()
        await pilot.press("[", "[")
        await wait_for(pilot, lambda: not screen.computing and screen.timelapse.epoch == 1, 20, "epoch 1")
        expected = gate_activations(old_model, old_vocab, DEFAULT_TEXT, top_units=8)
        assert screen.strip.trace.forget_gate == expected.forget_gate
        assert "as of epoch 1" in screen.query_one("#gates-dialog").border_subtitle


def test_gradient_chart_labels_a_few_decades():
    from lstm_tui.app.widgets.gradient_chart import decade_ticks

    assert decade_ticks(1e-15, 0.02) == [-13, -10, -7, -4, -1]
    assert decade_ticks(0.003, 0.5) == [-3, -2, -1, 0]
    assert len(decade_ticks(1e-40, 10)) <= 6


async def test_lens_while_training_reads_a_snapshot(tiny_config, runs_dir):
    from lstm_tui.app.screens.lens import LensScreen

    app = LstmTuiApp(tiny_config.replace(epochs=2000, predict_every=0), runs_dir=runs_dir, detect_devices=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state == "training" and app.session.trainer is not None, 60, "training")
        await wait_for(pilot, lambda: app.status_bar.status.perplexity is not None, 60, "a first batch")
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, LensScreen), 5, "the lens")
        screen = app.screen
        await wait_for(pilot, lambda: not screen.computing, 30, "the reading")
        assert screen.error == "", screen.error
        assert "training run" in screen.query_one("#lens-dialog").border_subtitle
        assert screen.reading is not None and 0 < screen.reading.main.bits_per_char < 20
        await pilot.press("escape")
        await pilot.press("f7")
        await wait_for(pilot, lambda: app.state in ("stopped", "finished", "failed"), 30, "the stop")
        await app.workers.wait_for_complete()
