"""Detach (issue 13 item 3): F9 hands the app's run to a background ``lstm-tui train --resume``
that holds the run's lock; the app follows it, exits, and the run trains on; stopped through its
control file, its metrics hold every epoch once. With ``on_hangup="detach"`` a hangup detaches
the run instead of stopping it. ``lstm-tui watch RUN`` opens the app following RUN."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from app_helpers import wait_for
from test_follow_app import _hand_made_run, epochs_written, line_of

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.cli import main as cli_main
from lstm_tui.cli.commands import app_command, watch_paths
from lstm_tui.core.control_file import send, wait_for_ack
from lstm_tui.core.runs import lock_holder

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def detached_pids():
    """Pids of background trainers a test made: killed (their whole session) in teardown."""
    pids: list[int] = []
    os.environ.setdefault("PYTHONPATH", str(REPO))
    yield pids
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (reaped by the detach thread later) is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def _train_until(pilot, app, epochs: int) -> Path:
    await pilot.press("f5")
    await wait_for(pilot, lambda: app.status_bar.status.epoch >= epochs and app.session.run_path, 90, "epochs")
    return Path(app.session.run_path)


async def test_detach_hands_the_run_to_a_background_trainer(tiny_config, runs_dir, detached_pids):
    config = tiny_config.replace(epochs=3000, predict_every=1000, threads=1)
    app = LstmTuiApp(config, runs_dir=runs_dir, detect_devices=False)
    async with app.run_test(size=(120, 40)) as pilot:
        run = await _train_until(pilot, app, 2)
        await pilot.press("f9")
        await wait_for(pilot, lambda: app.detached is not None, 30, "the background trainer to start")
        pid = app.detached.pid
        detached_pids.append(pid)
        await wait_for(
            pilot,
            lambda: app.following and (lock_holder(run) or {}).get("pid") == pid,
            60,
            "the background trainer to hold the lock",
        )
        assert pid != os.getpid()
        assert app.state == "stopped" and not app.run_active  # the app trains nothing now
        await wait_for(pilot, lambda: len(line_of(app, run)) >= 2, 30, "the followed chart")
        points = len(line_of(app, run))
        await wait_for(pilot, lambda: len(line_of(app, run)) > points, 60, "the chart to keep gaining points")
        await pilot.press("ctrl+q")  # no run of its own: quits without asking
        await pilot.pause(0.5)
    assert app.return_code == 0
    done = len(epochs_written(run))
    _wait(lambda: len(epochs_written(run)) > done, 60, "the run to train on after the app exited")
    assert _alive(pid)
    ack = wait_for_ack(run, send(run, "stop"), timeout=20)
    assert ack is not None and ack.applied
    _wait(lambda: not _alive(pid), 60, "the background trainer to stop")
    assert (run / "checkpoint.pt").is_file()
    epochs = epochs_written(run)
    assert epochs == list(range(1, len(epochs) + 1)), f"lost or repeated epochs: {epochs}"


async def test_a_hangup_with_on_hangup_detach_detaches(tiny_config, runs_dir, detached_pids):
    config = tiny_config.replace(epochs=3000, predict_every=1000, threads=1)
    app = LstmTuiApp(config, runs_dir=runs_dir, detect_devices=False, on_hangup="detach")
    async with app.run_test(size=(120, 40)) as pilot:
        run = await _train_until(pilot, app, 1)
        app.stop_on_signal(int(signal.SIGHUP))  # what the lifecycle watchdog forwards
        await wait_for(pilot, lambda: app.return_code is not None, 60, "the app to exit")
    assert app.detached is not None
    detached_pids.append(app.detached.pid)
    assert "detached" in (app.exit_note or "")
    _wait(lambda: (lock_holder(run) or {}).get("pid") == app.detached.pid, 60, "the background trainer's lock")
    wait_for_ack(run, send(run, "stop"), timeout=20)


async def test_a_hangup_stops_by_default(tiny_config, runs_dir):
    config = tiny_config.replace(epochs=3000, predict_every=1000, threads=1)
    app = LstmTuiApp(config, runs_dir=runs_dir, detect_devices=False)
    async with app.run_test(size=(120, 40)) as pilot:
        run = await _train_until(pilot, app, 1)
        app.stop_on_signal(int(signal.SIGHUP))
        await wait_for(pilot, lambda: app.return_code is not None, 60, "the app to exit")
    assert app.detached is None and lock_holder(run) is None


async def test_detach_refuses_without_a_training_run(tmp_path):
    app = LstmTuiApp(runs_dir=tmp_path / "runs", detect_devices=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f9")
        await pilot.pause(0.2)
        assert app.detached is None and app.state == "idle"


async def test_watch_opens_the_app_following_the_run(tmp_path):
    run = _hand_made_run(tmp_path / "runs", "watched-run")
    paths = watch_paths(["watched-run"], str(tmp_path / "runs"))
    assert paths == [run]
    app = LstmTuiApp(None, runs_dir=tmp_path / "runs", detect_devices=False, follow=paths)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: "watched-run" in app.status_bar.status.message, 10, "the run's name")
        assert app.status_bar.status.state == "stopped"


def test_watch_names_a_run_it_cannot_find(tmp_path, capsys):
    assert cli_main(["watch", "no-such-run", "--runs-dir", str(tmp_path)]) == 2
    assert "no-such-run" in capsys.readouterr().err


def test_serve_passes_on_hangup_to_its_apps():
    from lstm_tui.cli import build_parser

    ns = build_parser().parse_args(["serve", "--on-hangup", "detach"])
    command = app_command(ns)
    assert command[command.index("--on-hangup") + 1] == "detach"
    assert "--on-hangup" not in app_command(build_parser().parse_args(["serve"]))


def _fake_app(on_hangup: str):
    from types import SimpleNamespace

    calls: list[str] = []
    trainer = SimpleNamespace(result=None, stop=lambda: None)
    app = SimpleNamespace(
        on_hangup=on_hangup,
        workers=[SimpleNamespace(group="train", is_finished=False)],
        session=SimpleNamespace(trainer=trainer),
        return_code=None,
        detach_on_hangup=lambda: calls.append("detach"),
    )
    return app, trainer, calls


@pytest.mark.parametrize("on_hangup, expected", [("detach", ["detach"]), ("stop", [])])
def test_the_watchdog_detaches_a_run_a_hangup_stopped_when_so_set(on_hangup, expected):
    """The app's thread may be stuck on a dead terminal: the watchdog detaches, once, after the stop."""
    from lstm_tui.app.lifecycle import Lifecycle

    app, trainer, calls = _fake_app(on_hangup)
    watchdog = Lifecycle(app)
    watchdog._trigger(int(signal.SIGHUP))  # a run trains: the hangup stops it
    watchdog._progress(time.monotonic())
    assert calls == []  # still training: nothing to detach yet
    trainer.result = object()  # its run() returned: stopped, checkpoint written
    watchdog._progress(time.monotonic())
    watchdog._progress(time.monotonic())
    assert calls == expected
