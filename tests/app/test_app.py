"""The Textual app driven through Pilot: runs, form validation, generation, dialogs, loading."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from app_helpers import DONE, wait_for
from textual.widgets import Input

from lstm_tui.app.gil import GIL_SWITCH_INTERVAL_S
from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens import ConfirmQuit, HelpScreen, LoadRunScreen
from lstm_tui.app.state import AppState
from lstm_tui.core.config import BIDIRECTIONAL_WARNING
from lstm_tui.core.presets import BIDIRECTIONAL_NOTE


def make_app(config, runs_dir, **kwargs) -> LstmTuiApp:
    """The app without the device probe (it imports torch; tests pin device=cpu)."""
    return LstmTuiApp(config, runs_dir=runs_dir, detect_devices=False, **kwargs)


async def test_short_run_fills_chart_log_and_status(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the run to end")
        assert app.state == "finished", app.log_view.plain
        assert len(app.chart.train) >= tiny_config.epochs
        assert app.chart.draws >= 1
        assert app.log_view.entries >= 2  # epochs 2 and 4
        assert "epoch 2" in app.log_view.plain and "time traveller" in app.log_view.plain
        assert "tok/s" in app.status_bar.text
        assert f"{tiny_config.epochs}/{tiny_config.epochs}" in app.status_bar.text
        assert not app.form.disabled
        assert any(p.is_dir() for p in Path(runs_dir).iterdir())


async def test_pause_resume_and_stop(tiny_config, runs_dir):
    app = make_app(tiny_config.replace(epochs=2000, predict_every=0), runs_dir)
    default_switch = sys.getswitchinterval()
    assert default_switch > GIL_SWITCH_INTERVAL_S
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state == "training" and app.session.trainer is not None, 60, "training")
        assert app.form.disabled
        assert sys.getswitchinterval() == GIL_SWITCH_INTERVAL_S  # the training thread gets the GIL back fast
        await pilot.press("f6")
        assert app.state == "paused"
        await wait_for(pilot, lambda: app.session.trainer.paused, 10, "the pause")
        await pilot.press("f6")
        assert app.state == "training"
        await wait_for(pilot, lambda: app.chart.train, 30, "a chart point")
        await pilot.press("f7")
        await wait_for(pilot, lambda: app.state in DONE, 30, "the stop")
        assert app.state == "stopped"
        assert "stopped at epoch" in app.log_view.plain
        await app.workers.wait_for_complete()
        assert sys.getswitchinterval() == default_switch  # and only while a run trains


async def test_invalid_field_is_marked_and_blocks_start(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        hidden = app.query_one("#field-hidden", Input)
        hidden.focus()
        hidden.value = ""
        await pilot.pause()
        await pilot.press(*"abc")
        await pilot.pause()
        assert hidden.has_class("-invalid")
        error = app.query_one("#error-hidden")
        assert error.display and "an integer from 1 to 8,192" in str(error.render())
        assert "abc" in app.form.errors["hidden"]
        await pilot.press("f5")
        await pilot.pause()
        assert app.state == "idle"
        assert app.session.run_id == 0
        # fix it: the mark goes and Start works
        hidden.value = "16"
        await pilot.pause()
        assert not hidden.has_class("-invalid") and "hidden" not in app.form.errors


async def test_garbage_in_every_field_never_crashes(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    garbage = "\x00\x1b[2J💥 1e999 nan -0x10 ; DROP TABLE " + "9" * 5000
    async with app.run_test(size=(100, 30)) as pilot:
        for _name, editor in app.form.editors.items():
            if isinstance(editor, Input):
                editor.value = garbage
        await pilot.pause()
        assert app.form.errors
        await pilot.press("f5")
        await pilot.pause()
        assert app.state == "idle"


async def test_cross_field_rule_blocks_start(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one("#field-bidirectional").value = True  # scratch cannot be bidirectional
        await pilot.pause()
        await pilot.press("f5")
        await pilot.pause()
        assert app.state == "idle"
        assert "bidirectional" in app.form.errors


async def test_generate_during_and_after_training(tiny_config, runs_dir):
    app = make_app(tiny_config.replace(epochs=300, predict_every=0), runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        box = app.generate_box
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.chart.train, 60, "training to produce a point")
        await pilot.press("ctrl+g")
        app.query_one("#gen-length", Input).value = "40"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not box.busy and (box.generated or box.error), 30, "generation")
        assert box.error == ""
        assert len(box.generated) == 40
        assert app.state in ("training", "finished")
        await pilot.press("f7")
        await wait_for(pilot, lambda: app.state in DONE, 30, "the stop")
        # after the run, and an unknown character shown in place
        app.query_one("#gen-length", Input).value = "25"
        app.query_one("#gen-temperature", Input).value = "0.8"
        app.query_one("#gen-top-k", Input).value = "5"
        app.query_one("#gen-prefix", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: not box.busy and (box.generated or box.error), 30, "generation")
        assert len(box.generated) == 25
        app.query_one("#gen-prefix", Input).value = "TIME Ü"
        await pilot.press("enter")
        await wait_for(pilot, lambda: not box.busy and box.error, 30, "the error")
        assert "Ü" in box.error or "unknown" in box.error.lower()


async def test_generate_box_words_unknown_characters_for_the_app(tiny_config, runs_dir):
    """No Python advice (unknown='unk') in the box, and a suggestion that itself generates."""
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        box = app.generate_box
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the run to end")
        assert app.state == "finished", app.log_view.plain
        prefix = app.query_one("#gen-prefix", Input)
        prefix.value = "Hello, World!"
        app.query_one("#gen-length", Input).value = "10"
        prefix.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: not box.busy and box.error, 30, "the error")
        shown = str(app.query_one("#gen-output").render())
        assert "'H'" in box.error and "','" in box.error and "not in the vocabulary" in box.error
        assert "unknown=" not in box.error and "unknown=" not in shown
        assert "try 'hello world'" in box.error and "'hello, world!'" not in box.error
        prefix.value = "hello world"  # the suggestion, typed back in, is read
        await pilot.press("enter")
        await wait_for(pilot, lambda: not box.busy and (box.generated or box.error), 30, "generation")
        assert box.error == "" and len(box.generated) == 10


async def train_then_pick(pilot, app, preset: str) -> None:
    """Train the form's run to the end, then choose ``preset`` in the form."""
    await pilot.press("f5")
    await wait_for(pilot, lambda: app.state in DONE, 60, "the run to end")
    assert app.state == "finished", app.log_view.plain
    app.form.query_one("#field-preset").value = preset
    await pilot.pause()


async def test_generate_note_follows_the_model_not_the_form(tiny_config, runs_dir):
    """After a one-directional run, choosing the bidirectional preset in the form changes the
    banner (a preview of the next run) but not the box: Enter still writes with the run's model."""
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        box = app.generate_box
        await train_then_pick(pilot, app, "bidirectional")
        assert app.form.values["bidirectional"] is True
        assert app.query_one("#bidi-note").display  # the banner still follows the form
        assert "cannot write" not in str(app.query_one("#gen-output").render())
        app.query_one("#gen-length", Input).value = "12"
        app.query_one("#gen-prefix", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: not box.busy and (box.generated or box.error), 30, "generation")
        assert box.error == "" and len(box.generated) == 12


async def test_without_a_model_the_generate_note_previews_the_form(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        output = app.query_one("#gen-output")
        app.form.query_one("#field-preset").value = "bidirectional"
        await wait_for(pilot, lambda: BIDIRECTIONAL_NOTE in str(output.render()), 10, "the note")
        app.form.query_one("#field-preset").value = "concise"
        await wait_for(
            pilot, lambda: BIDIRECTIONAL_NOTE not in str(output.render()), 10, "the note to go"
        )  # with the choice


async def test_generate_box_writes_for_a_bidirectional_model_with_its_warning(tiny_config, runs_dir):
    app = make_app(tiny_config.replace(impl="torch", bidirectional=True), runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        box = app.generate_box
        await train_then_pick(pilot, app, "concise")
        assert app.form.values["bidirectional"] is False
        assert not app.query_one("#bidi-note").display
        assert BIDIRECTIONAL_NOTE in str(app.query_one("#gen-output").render())
        app.query_one("#gen-length", Input).value = "12"
        app.query_one("#gen-prefix", Input).focus()
        await pilot.press("enter")  # it writes anyway, the book's way, with the warning beside the text
        await wait_for(pilot, lambda: not box.busy and (box.generated or box.error), 30, "generation")
        output = str(app.query_one("#gen-output").render())
        assert box.error == "" and len(box.generated) == 12
        assert box.warning == BIDIRECTIONAL_WARNING and BIDIRECTIONAL_WARNING in output


async def test_generate_without_model_says_so(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+g", "enter")
        await pilot.pause()
        assert "no model yet" in app.generate_box.error


async def test_quit_while_training_asks_first(tiny_config, runs_dir):
    app = make_app(tiny_config.replace(epochs=2000, predict_every=0), runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state == "training", 60, "training")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmQuit)
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmQuit)
        assert app.is_running
        assert app.state == "training"
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmQuit)
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, 30, "the app to exit")
    assert app.return_code == 0
    run = next(Path(runs_dir).iterdir())
    assert (run / "checkpoint.pt").is_file()
    from lstm_tui.core.checkpoint import load_model

    _, vocab, config, _ = load_model(run / "checkpoint.pt")  # a usable model, not just a file
    assert config.epochs == 2000 and len(vocab) > 20


async def test_quit_when_idle_exits_at_once(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0


async def test_load_saved_run_and_generate(tiny_config, runs_dir):
    app = make_app(tiny_config.replace(epochs=2, predict_every=0), runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the run to end")
    app = make_app(tiny_config.replace(hidden=8), runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(app.screen, LoadRunScreen)
        await pilot.press("enter")  # the newest run is highlighted
        await wait_for(pilot, lambda: app.state in ("loaded", "idle"), 30, "loading")
        assert app.state == "loaded", app.log_view.plain
        assert app.form.values["hidden"] == 32  # the form shows the loaded run's config
        # and its curve and numbers, as they were when it trained
        assert [x for x, _ in app.chart.train] == [1, 2]
        status = app.status_bar.status
        assert (status.epoch, status.epochs) == (2, 2) and status.perplexity == app.chart.train[-1][1]
        await pilot.press("ctrl+g")
        app.query_one("#gen-length", Input).value = "30"
        await pilot.press("enter")
        box = app.generate_box
        await wait_for(pilot, lambda: not box.busy and (box.generated or box.error), 30, "generation")
        assert len(box.generated) == 30, box.error


async def test_load_bad_path_shows_reason(tiny_config, runs_dir, tmp_path):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+o")
        await pilot.pause()
        app.screen.query_one("#load-path", Input).focus()
        await pilot.press(*str(tmp_path / "nope"), "enter")
        await wait_for(pilot, lambda: "cannot load" in app.log_view.plain, 30, "the load error")
        assert app.state == "idle"


async def test_missing_corpus_reports_reason_and_stays_usable(book_tiny_config, runs_dir, tmp_path):
    config = book_tiny_config.replace(corpus=str(tmp_path / "no-such-book.txt"))
    app = make_app(config, runs_dir, autostart=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: "corpus" in app.form.errors, 60, "the refusal")
        assert app.state == "idle"  # refused on the corpus field, with the reason
        assert "no-such-book" in app.log_view.plain and "no-such-book" in app.form.errors["corpus"]
        assert not app.form.disabled
        # still usable: fix the corpus and start again
        app.query_one("#field-corpus", Input).value = ""
        await pilot.pause()
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state == "training" or app.state in DONE, 60, "the second run")
        assert app.state in ("training", "finished"), app.log_view.plain
        await pilot.press("f7")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the stop")


async def test_bidirectional_preset_shows_note(tiny_config, runs_dir):
    for size in ((120, 40), (80, 24)):
        app = make_app(tiny_config, runs_dir)
        async with app.run_test(size=size) as pilot:
            note = app.query_one("#bidi-note")
            assert not note.display
            app.form.query_one("#field-preset").value = "bidirectional"
            form = app.form
            await wait_for(pilot, lambda form=form: form.values["bidirectional"] is True, 10, "the preset's fields")
            await pilot.pause()
            assert app.form.values["bidirectional"] is True and app.form.values["impl"] == "torch"
            assert app.form.values["data_dir"] == tiny_config.data_dir  # where the data is stays
            if size[1] >= 34:
                await wait_for(pilot, lambda note=note: note.display, 10, "the banner")
                assert note.display and BIDIRECTIONAL_NOTE in str(note.render())
            else:  # short terminals show it in the generate box
                assert BIDIRECTIONAL_NOTE in str(app.query_one("#gen-output").render())


async def test_small_terminal_shows_enlarge_note(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        note = app.query_one("#too-small")
        assert note.display and "enlarge" in str(note.render()) and "60x20" in str(note.render())
        assert not app.query_one("#main").display
        await pilot.press("f5")  # hidden behind the notice: nothing may start unseen
        await pilot.pause()
        assert app.state == "idle" and app.session.trainer is None
        # each resize is judged by its own size, not the one before it
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert not note.display and app.query_one("#main").display
        await pilot.resize_terminal(70, 20)
        await pilot.pause()
        assert note.display and "70x20" in str(note.render())
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert not note.display


async def test_help_screen_lists_every_key(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        from rich.console import Console
        from textual.widgets import Static

        console = Console(width=100, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        for static in app.screen.query(Static):
            console.print(static.content)
        text = console.export_text()
        for binding in app.BINDINGS:  # every key of the main screen, and what it does
            assert binding.key.upper() in text or binding.key in text, binding.key
            assert (binding.tooltip or binding.description) in text
        for section, sample in (
            ("Runs (F2)", "Delete the highlighted run (asks first)"),
            ("Compare (c in Runs)", "Save this chart as an SVG picture"),
            ("Gate inspector (F3)", "Read again"),
        ):
            assert section in text and sample in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_keys_work_while_typing_in_an_input(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        app.query_one("#field-hidden", Input).focus()
        await pilot.pause()
        await pilot.press("ctrl+g")
        assert app.focused is app.query_one("#gen-prefix", Input)
        await pilot.press("ctrl+f")
        assert app.focused is app.query_one("#field-preset")
        await pilot.press("ctrl+l")
        assert app.log_view.plain == ""


async def test_an_on_off_field_shows_its_state_without_colour(tiny_config, runs_dir):
    app = make_app(tiny_config.replace(impl="torch", bidirectional=False), runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        box = app.form.editors["bidirectional"]
        assert box.render().plain.strip() == "▐ ▌"
        await pilot.pause()  # (the app focuses the form's first field when it starts)
        box.focus()
        await pilot.pause()
        await pilot.press("space")
        assert box.value is True and box.render().plain.strip() == "▐X▌"


async def test_the_command_palette_runs_the_apps_actions_by_name(tiny_config, runs_dir):
    from textual.command import CommandPalette

    app = make_app(tiny_config.replace(epochs=2), runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        for name in ("Start (f5, ctrl+r)", "Pause (f6, ctrl+t)", "Runs (f2)", "Gates (f3)", "Generate (ctrl+g)"):
            assert name in titles
        from lstm_tui.app.screens.gates import GateScreen  # a dialog: the main screen's actions are off there

        assert not any("(f5" in c.title for c in app.get_system_commands(GateScreen()))
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), 10, "the palette")
        await pilot.press(*"gates")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "GateScreen", 10, "the gate inspector")
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), 10, "the palette")
        await pilot.press(*"start")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.state == "finished", 60, "the run started from the palette")


async def test_quit_while_a_run_is_stopping_does_not_offer_to_keep_training(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        app._set_state(AppState.STOPPING, message="stopping at the next batch…")  # as after F7, before the stop lands
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmQuit)
        from textual.widgets import Button

        labels = [str(button.label) for button in app.screen.query(Button)]
        assert app.screen.title_text == "The run is stopping." and labels and not any("Keep" in x for x in labels)
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmQuit) and app.is_running


async def test_field_help_names_the_field_once(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()  # (the first field takes the focus after the first refresh)
        app.query_one("#field-lr").focus()
        await pilot.pause()
        text = str(app.query_one("#field-help").render())
        assert text.startswith("learning rate") and "learning rate: learning rate" not in text
        assert "a number from" in text  # the allowed range
        app.query_one("#field-prefix").focus()
        await pilot.pause()
        text = str(app.query_one("#field-help").render())
        assert "comma-separated" in text and "repeatable" not in text
