"""The app follows runs other processes train (issue 13 items 1-2): a real ``lstm-tui train``
subprocess writes a run while the app follows it (the chart gains points, the log samples, the
runs screen's row updates live), a torn last metrics line is never shown torn, F6/F7 control the
followed run through its control file, and F7 on a finished run says it is not running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from app_helpers import wait_for

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.core.runs import lock_holder

REPO = Path(__file__).resolve().parents[2]


def train_command(runs: Path, corpus: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "lstm_tui",
        "train",
        "--preset",
        "scratch",
        "--hidden",
        "16",
        "--epochs",
        "5000",
        "--max-tokens",
        "2000",
        "--batch-size",
        "8",
        "--num-steps",
        "10",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--checkpoint-every",
        "0",
        "--predict-every",
        "1",
        "--predict-length",
        "10",
        "--corpus",
        str(corpus),
        "--data-dir",
        str(corpus.parent),
        "--runs-dir",
        str(runs),
        "--quiet",
        *extra,
    ]


def epochs_written(run: Path) -> list[int]:
    try:
        lines = (run / "metrics.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line)["epoch"])
        except (ValueError, KeyError):
            pass
    return out


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def training(tmp_path, small_corpus):
    """A real train process on the small corpus; killed in teardown."""
    runs = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        train_command(runs, small_corpus), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        _wait(lambda: any(runs.glob("*/metrics.jsonl")), 90, "the first epoch")
        run = next(runs.glob("*/metrics.jsonl")).parent
        _wait(lambda: lock_holder(run) is not None, 10, "the lock")
        yield proc, runs, run
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        proc.stderr.close()


def notified(app, text: str) -> bool:
    return any(text in n.message or text in (n.title or "") for n in app._notifications)


def line_of(app, run: Path) -> list:
    return app.chart.lines.get(run.name, [])


async def test_follow_a_subprocess_run_and_control_it(training):
    proc, runs, run = training
    app = LstmTuiApp(runs_dir=runs, detect_devices=False)
    async with app.run_test(size=(120, 40)) as pilot:
        # F2 shows the other process's run live: its epochs column moves while the screen is open.
        await pilot.press("f2")
        screen = app.screen
        await wait_for(pilot, lambda: screen.rows and screen.rows[0].status == "running", 10, "the running row")
        first = screen.rows[0].epochs_done
        await wait_for(pilot, lambda: screen.rows[0].epochs_done > first, 20, "the row's epochs to move (live)")
        await pilot.press("f")  # follow the highlighted run
        await wait_for(pilot, lambda: app.following and len(line_of(app, run)) >= 2, 30, "chart points")
        points = len(line_of(app, run))
        await wait_for(pilot, lambda: len(line_of(app, run)) > points, 30, "the chart to gain points")
        await wait_for(pilot, lambda: app.log_view.entries >= 2, 30, "samples in the log")
        samples = app.log_view.entries
        await wait_for(pilot, lambda: app.log_view.entries > samples, 30, "the log to gain samples")
        assert f"following {run.name}" in app.status_bar.status.message
        assert app.status_bar.status.state == "running"

        await pilot.press("f6")  # pause, through the control file
        await wait_for(pilot, lambda: notified(app, "paused"), 20, "the pause acknowledged")
        assert app.status_bar.status.state == "paused"
        await pilot.pause(0.6)
        held = len(epochs_written(run))
        await pilot.pause(1.5)
        assert len(epochs_written(run)) == held, "the followed run trained on while paused"
        await pilot.press("f6")  # resume
        await wait_for(pilot, lambda: notified(app, "resumed"), 20, "the resume acknowledged")
        await wait_for(pilot, lambda: len(epochs_written(run)) > held, 30, "training to go on")

        await pilot.press("f7")  # stop, with a checkpoint
        await wait_for(pilot, lambda: notified(app, "stopping"), 20, "the stop acknowledged")
        await wait_for(pilot, lambda: proc.poll() is not None, 30, "the process to end")
        assert proc.returncode == 0
        assert (run / "checkpoint.pt").is_file()
        await wait_for(pilot, lambda: app.status_bar.status.state == "stopped", 10, "the followed status")

        app._notifications.clear()
        await pilot.press("f7")  # the run is not running any more: refused, clearly
        await wait_for(pilot, lambda: notified(app, "is not running"), 5, "the refusal")
        assert "stop refused" in app.log_view.plain

        await pilot.press("ctrl+n")  # unfollow
        assert not app.following
        assert "no longer following" in app.log_view.plain


def _metric(epoch: int, ppl: float) -> str:
    return json.dumps({"epoch": epoch, "perplexity": ppl, "tokens_per_s": 1000.0, "elapsed_s": float(epoch)}) + "\n"


def _hand_made_run(root: Path, name: str = "by-hand") -> Path:
    run = root / name
    run.mkdir(parents=True)
    (run / "config.toml").write_text('preset = "scratch"\n')
    (run / "summary.json").write_text(json.dumps({"status": "stopped", "epoch": 1, "epochs": 10}))
    (run / "metrics.jsonl").write_text(_metric(1, 20.0))
    return run


async def test_a_torn_last_line_is_kept_until_it_is_whole(tmp_path):
    run = _hand_made_run(tmp_path / "runs")
    app = LstmTuiApp(runs_dir=tmp_path / "runs", detect_devices=False, follow=[run])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(line_of(app, run)) == 1, 10, "the first point")
        whole = _metric(2, 15.0)
        with open(run / "metrics.jsonl", "a") as out:
            out.write(whole[:17])  # half a line: a writer in the middle of its append
        await pilot.pause(1.5)
        assert line_of(app, run) == [(1.0, 20.0)], "a torn line was shown"
        with open(run / "metrics.jsonl", "a") as out:
            out.write(whole[17:])
        await wait_for(pilot, lambda: len(line_of(app, run)) == 2, 10, "the completed line")
        assert line_of(app, run) == [(1.0, 20.0), (2.0, 15.0)]
        assert app.status_bar.status.epoch == 2


async def test_several_followed_runs_overlay_and_a_rewrite_redraws(tmp_path):
    root = tmp_path / "runs"
    a, b = _hand_made_run(root, "run-a"), _hand_made_run(root, "run-b")
    app = LstmTuiApp(runs_dir=root, detect_devices=False, follow=[a, b])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: line_of(app, a) and line_of(app, b), 10, "a line per run")
        assert set(app.chart.lines) == {"run-a", "run-b"}
        assert "+1 more" in app.status_bar.status.message
        # A resume rewrites the file (trimmed, atomically): the run is drawn again from it.
        tmp = a / "metrics.tmp"
        tmp.write_text(_metric(1, 30.0))
        os.replace(tmp, a / "metrics.jsonl")
        await wait_for(pilot, lambda: line_of(app, a) == [(1.0, 30.0)], 10, "the redraw")
        assert line_of(app, b) == [(1.0, 20.0)]


async def test_the_control_keys_refuse_a_finished_run(tmp_path):
    run = _hand_made_run(tmp_path / "runs")
    (run / "summary.json").write_text(json.dumps({"status": "finished", "epoch": 1, "epochs": 1}))
    app = LstmTuiApp(runs_dir=tmp_path / "runs", detect_devices=False, follow=[run])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.status_bar.status.state == "finished", 10, "the followed status")
        for key in ("f7", "f6", "ctrl+s"):
            app._notifications.clear()
            await pilot.press(key)
            await wait_for(pilot, lambda: notified(app, "is not running"), 5, f"{key}'s refusal")
        assert not (run / "control.json").exists()


def test_help_and_the_palette_list_the_new_keys():
    from rich.console import Console

    from lstm_tui.app.screens.help import key_table
    from lstm_tui.app.screens.runs import RunsScreen

    console = Console(width=200, record=True)
    console.print(key_table(LstmTuiApp.BINDINGS))
    console.print(key_table(RunsScreen.BINDINGS))
    text = console.export_text()
    assert "F9" in text and "background" in text  # detach
    assert "F4" in text and "Stop following" in text
    assert "Follow the marked" in text
    actions = {binding.action for binding in LstmTuiApp.BINDINGS}
    assert {"detach", "unfollow"} <= actions  # (the palette lists every described main binding)


def _start_training(runs: Path, corpus: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = train_command(runs, corpus, "--name", name)
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def _started(runs: Path, name: str) -> Path:
    _wait(lambda: any(runs.glob(f"*{name}/metrics.jsonl")), 120, f"{name}'s first epoch")
    run = next(runs.glob(f"*{name}/metrics.jsonl")).parent
    _wait(lambda: lock_holder(run) is not None, 10, f"{name}'s lock")
    return run


async def test_the_control_keys_go_to_every_followed_run(tmp_path, small_corpus):
    runs = tmp_path / "runs"
    procs = [_start_training(runs, small_corpus, name) for name in ("ctl-a", "ctl-b")]
    try:
        a, b = _started(runs, "ctl-a"), _started(runs, "ctl-b")
        done = _hand_made_run(runs, "done")
        (done / "summary.json").write_text(json.dumps({"status": "finished", "epoch": 1, "epochs": 1}))
        app = LstmTuiApp(runs_dir=runs, detect_devices=False, follow=[a, b, done])
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: line_of(app, a) and line_of(app, b), 30, "both runs drawn")
            await wait_for(pilot, lambda: app.followed[done.absolute()].status == "finished", 10, "done's status")
            await pilot.press("f6")  # both running runs pause; the finished one refuses
            await wait_for(pilot, lambda: notified(app, "2 of 3 runs took pause"), 20, "one summary notice")
            note = next(n for n in app._notifications if "runs took pause" in (n.title or ""))
            assert f"paused: {a.name}, {b.name}" in note.message
            assert "done refused pause" in note.message and "not running" in note.message
            assert all(app.followed[run.absolute()].paused for run in (a, b))
            await pilot.pause(0.6)
            held = {run: len(epochs_written(run)) for run in (a, b)}
            await pilot.pause(1.5)
            assert {run: len(epochs_written(run)) for run in (a, b)} == held, "a run trained on while paused"
            await pilot.press("f6")  # all paused: both resume
            await wait_for(pilot, lambda: notified(app, "2 of 3 runs took resume"), 20, "the resume summary")
            await pilot.press("f7")  # both stop, with a checkpoint
            await wait_for(pilot, lambda: notified(app, "2 of 3 runs took stop"), 20, "the stop summary")
            for proc in procs:
                proc.wait(30)
            assert all(proc.returncode == 0 for proc in procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
