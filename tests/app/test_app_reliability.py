"""The app keeps work safe: save now, resume, real signals, and bad input that never crashes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from app_helpers import DONE, train_then_stop, wait_for
from textual.widgets import Input

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens import LoadRunScreen
from lstm_tui.cli import main as cli_main
from lstm_tui.core.checkpoint import load_model
from lstm_tui.core.data import CorpusError
from lstm_tui.core.runs import RunDir

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def make_app(config, runs_dir, **kwargs) -> LstmTuiApp:
    return LstmTuiApp(config, runs_dir=runs_dir, detect_devices=False, **kwargs)


def notes(app) -> str:
    return "\n".join(n.message for n in app._notifications)


def only_run(runs_dir: Path) -> Path:
    runs = [p for p in Path(runs_dir).iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def metric_epochs(run: Path) -> list[int]:
    return [m["epoch"] for m in RunDir(run).read_metrics()]


# ---------------------------------------------------------------------- save now
async def test_ctrl_s_saves_a_checkpoint_now_and_says_where(tiny_config, runs_dir):
    app = make_app(tiny_config.replace(epochs=5000, predict_every=0), runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+s")
        assert "Nothing to save yet" in notes(app)
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state == "training" and app.chart.train, 60, "training")
        await pilot.press("ctrl+s")
        assert "Saving a checkpoint at the next batch" in notes(app)
        await wait_for(pilot, lambda: "Checkpoint saved" in notes(app), 30, "the checkpoint")
        run = only_run(runs_dir)
        assert str(run / "checkpoint.pt") in notes(app)
        assert app.state == "training"  # it goes on training
        _, _, config, checkpoint = load_model(run / "checkpoint.pt")
        assert config.hidden == 32 and checkpoint.epoch < 5000
        await pilot.press("f7")
        await wait_for(pilot, lambda: app.state in DONE, 30, "the stop")
        app._notifications.clear()
        await pilot.press("ctrl+s")  # idle after a run: where it is
        assert f"The run is saved in {run}" in notes(app) and "F8 continues it" in notes(app)


# ---------------------------------------------------------------------- resume
async def test_stop_then_resume_in_the_app_reaches_the_configured_epochs(tiny_config, runs_dir):
    epochs = 400  # room for the stop to land mid-run even when the UI sees epoch 2 late (a tiny epoch is a few ms)
    config = tiny_config.replace(epochs=epochs, predict_every=5)
    app = make_app(config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await train_then_stop(pilot, app, 2)
        assert app.state == "stopped"
        run = only_run(runs_dir)
        stopped_at = RunDir(run).load_checkpoint().epoch
        assert 2 <= stopped_at < epochs
        # the form is edited meanwhile; the resume shows (and trains) the run's own config
        app.query_one("#field-hidden", Input).value = "8"
        await pilot.pause()
        await pilot.press("f8")
        # the tiny resumed run may end within one poll, so wait for its log line, not its state
        await wait_for(pilot, lambda: "from its checkpoint" in app.log_view.plain, 60, "the resumed run")
        assert app.form.values["hidden"] == 32
        assert app.chart.train[0][0] <= 1  # the chart was refilled from the run's history
        # (~400 tiny epochs: a few seconds on a fast machine, ~2 minutes on a slow shared 2-core one)
        await wait_for(pilot, lambda: app.state in DONE, 400, "the end")
        assert app.state == "finished", app.log_view.plain
        assert f"{epochs}/{epochs}" in app.status_bar.text
        assert f"resume {run.name} from its checkpoint at epoch {stopped_at}" in app.log_view.plain
    assert metric_epochs(run) == list(range(1, epochs + 1))  # each epoch once
    assert load_model(run / "checkpoint.pt")[3].epoch == epochs


async def test_resume_an_interrupted_run_from_the_load_screen_then_more_epochs(tiny_config, runs_dir):
    config = tiny_config.replace(epochs=5000, predict_every=0, checkpoint_every=0)
    app = make_app(config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await train_then_stop(pilot, app, 1)
    run = only_run(runs_dir)
    done = RunDir(run).load_checkpoint().epoch
    # another session: pick the run in the load dialog and press F8 there; set a total first
    app = make_app(tiny_config.replace(epochs=3), runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert isinstance(app.screen, LoadRunScreen) and "F8 resumes" in str(
            app.screen.query_one("#load-hint").render()
        )
        await pilot.press("f8")
        await wait_for(pilot, lambda: app.state == "training", 60, "the resumed run")
        assert app.form.values["epochs"] == 5000
        await pilot.press("f7")
        await wait_for(pilot, lambda: app.state in DONE, 30, "the stop")
        assert app.state == "stopped"
        done = RunDir(run).load_checkpoint().epoch
        # raise the total in the form: F8 continues this run to it
        app.query_one("#field-epochs", Input).value = str(done + 2)
        await pilot.pause()
        await pilot.press("f8")
        await wait_for(pilot, lambda: app.state == "finished", 60, "the longer run")
        assert f"{done + 2}/{done + 2}" in app.status_bar.text
        # finished: F8 says what to do instead of training nothing
        app._notifications.clear()
        await pilot.press("f8")
        await pilot.pause()
        assert app.state == "finished" and "raise 'epochs'" in notes(app)
    assert metric_epochs(run) == list(range(1, done + 3))


async def test_resume_a_run_without_a_checkpoint_says_why(tiny_config, runs_dir, tmp_path):
    RunDir.create(runs_dir, tiny_config, name="empty")
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f8")
        await pilot.pause()
        assert isinstance(app.screen, LoadRunScreen)  # nothing to continue here: pick one
        app.screen.query_one("#load-path", Input).value = str(next(Path(runs_dir).iterdir()))
        await pilot.press("f8")
        await pilot.pause()
        assert app.state == "idle" and "no checkpoint" in app.log_view.plain


# ---------------------------------------------------------------------- real signals to a real (headless) app
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_signal_stops_the_app_with_a_checkpoint_then_train_resume_continues(sig, tiny_config, tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    config = tiny_config.replace(epochs=5000, predict_every=0, hidden=16)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "headless_app.py"), json.dumps(config.to_dict()), str(runs_dir)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            runs = list(runs_dir.glob("*/metrics.jsonl")) if runs_dir.is_dir() else []
            if runs and runs[0].read_text().strip():
                break
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no epoch ended"
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Traceback" not in out
    run = only_run(runs_dir)
    assert f"continue with: lstm-tui train --resume {run}" in err
    _, _, _, checkpoint = load_model(run / "checkpoint.pt")
    assert json.loads((run / "summary.json").read_text())["status"] == "stopped"
    done = checkpoint.epoch

    assert cli_main(["train", "--resume", str(run), "--epochs", str(done + 2), "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-1]["event"] == "finished" and events[-1]["epoch"] == done + 2 and not events[-1]["stopped"]
    assert metric_epochs(run) == list(range(1, done + 3))


async def test_a_signal_when_idle_quits_at_once(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        os.kill(os.getpid(), signal.SIGTERM)
        await wait_for(pilot, lambda: not app.is_running, 10, "the app to exit")
    assert app.return_code == 0
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the handlers are taken down again


# ---------------------------------------------------------------------- bad input in the form
async def test_unknown_prefix_characters_refuse_the_start_naming_the_field(tiny_config, runs_dir):
    app = make_app(tiny_config.replace(prefix=("time traveller", "Time!")), runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: "prefix" in app.form.errors, 60, "the refusal")
        assert app.state == "idle" and not app.form.disabled
        assert "'T'" in app.form.errors["prefix"] and "'!'" in app.form.errors["prefix"]
        assert "Cannot start: prefix" in notes(app)
        assert not Path(runs_dir).exists() or not any(Path(runs_dir).iterdir())  # no half-made run
        app.query_one("#field-prefix", Input).value = "time traveller, the"
        await pilot.pause()
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the fixed run")
        assert app.state == "finished", app.log_view.plain


async def test_corpus_url_that_404s_fails_clearly_and_the_app_stays_usable(tiny_config, runs_dir, httpserver):
    httpserver.expect_request("/missing.txt").respond_with_data("nope", status=404)
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one("#field-corpus", Input).value = httpserver.url_for("/missing.txt")
        await pilot.pause()
        await pilot.press("f5")
        await wait_for(pilot, lambda: "404" in app.form.errors.get("corpus", ""), 60, "the refusal")
        # the user's own corpus is a form field: the start is refused there, with the reason
        assert app.state == "idle" and "404" in app.log_view.plain
        assert app.query_one("#field-corpus").has_class("-invalid")
        # (notify posts a message: under load it may land a moment after the form's mark)
        await wait_for(pilot, lambda: "Fix the form" in [n.title for n in app._notifications], 5, "the toast")
        assert not Path(runs_dir).exists() or not any(Path(runs_dir).iterdir())
        assert not app.form.disabled and app.is_running


async def test_a_corpus_file_that_does_not_exist_is_marked_on_its_field(book_tiny_config, runs_dir, tmp_path):
    app = make_app(book_tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one("#field-corpus", Input).value = str(tmp_path / "no-such-book.txt")
        await pilot.pause()
        await pilot.press("f5")
        await wait_for(pilot, lambda: "corpus" in app.form.errors, 60, "the refusal")
        assert "does not exist" in app.form.errors["corpus"] and app.state == "idle"
        assert app.status_bar.query_one("#progress").total == 1  # not left pulsing as if work went on
        app.query_one("#field-corpus", Input).value = ""  # The Time Machine again
        await pilot.pause()
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the run")
        assert app.state == "finished"


async def test_data_dir_that_cannot_be_written_fails_clearly(tiny_config, runs_dir, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    from lstm_tui.core.data import corpus

    def no_network(url, dest, **kwargs):
        raise CorpusError(f"could not download {url}: server down", "try later")

    monkeypatch.setattr(corpus, "download", no_network)
    app = make_app(tiny_config.replace(corpus="", data_dir=str(blocker / "data")), runs_dir, autostart=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.state in DONE, 60, "the failure")
        assert app.state == "failed"
        assert str(blocker / "data" / "timemachine.txt") in app.log_view.plain  # where to put the file
        assert not app.form.disabled


async def test_runs_dir_that_cannot_be_written_still_trains_and_says_so(tiny_config, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    app = make_app(tiny_config.replace(epochs=2), blocker / "runs", autostart=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: app.state in DONE, 60, "the run")
        assert app.state == "finished"
        assert "not saving this run" in app.log_view.plain
        await pilot.press("ctrl+s")  # the truth: the run trained, but it had no folder to be saved in
        assert "The last run had no run folder (see the log): it was not saved" in notes(app)
        assert "Nothing to save yet" not in notes(app)


async def test_a_relative_corpus_path_is_stored_absolute(tiny_config, runs_dir, tmp_path, monkeypatch, small_corpus):
    """A run started from one folder must resume from another: its config keeps absolute paths."""
    import shutil

    shutil.copy(small_corpus, tmp_path / "book.txt")
    monkeypatch.chdir(tmp_path)
    app = make_app(tiny_config.replace(epochs=1), runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        app.query_one("#field-corpus", Input).value = "book.txt"
        await pilot.pause()
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the run")
        assert app.state == "finished", app.log_view.plain
        assert app.run_config.corpus == str(tmp_path / "book.txt")
