"""Sweeps from the app (app/sweeping.py) with real ``train`` processes: "Run the book" as a sweep,
a stop with F7, quitting and a signal while a sweep runs (no train process may outlive the app)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from app_helpers import wait_for
from processes import train_processes

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens.compare import CompareScreen
from lstm_tui.app.screens.confirm import Confirm
from lstm_tui.app.screens.confirm_quit import ConfirmQuit
from lstm_tui.app.screens.runs import RunsScreen
from lstm_tui.core.compare import run_rows
from lstm_tui.core.runs import RunDir, lock_holder
from lstm_tui.core.runs.files import SWEEPS_DIR
from lstm_tui.core.sweep import BOOK_PRESETS, book_sweep, list_records, read_tag

SIZE = (120, 40)
#: The book's runs made tiny (threads 1: the test machine's cores are shared).
TINY_BOOK = dict(
    epochs=2, hidden=16, max_tokens=2000, batch_size=8, num_steps=10, predict_every=0, checkpoint_every=0, threads=1
)


def make_app(config, runs_dir) -> LstmTuiApp:
    return LstmTuiApp(config, runs_dir=runs_dir, detect_devices=False)


def tiny_book(monkeypatch, **sizes) -> None:
    import lstm_tui.app.screens.book as book

    monkeypatch.setattr(book, "book_spec", lambda shared=None: book_sweep(shared, {**TINY_BOOK, **sizes}))


def run_folders(runs_dir: Path) -> list[Path]:
    return sorted(p for p in runs_dir.iterdir() if p.is_dir() and p.name != SWEEPS_DIR)


async def start_book(pilot) -> RunsScreen:
    await pilot.press("f2")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunsScreen), 15, "the runs screen")
    screen = pilot.app.screen
    await pilot.press("b")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm), 15, "the question")
    await pilot.press("y")
    await wait_for(pilot, lambda: pilot.app.sweep_active, 5, "the sweep")
    return screen


async def first_run_training(pilot, app, runs_dir: Path) -> Path:
    """Wait until the sweep's first run holds its lock and has finished an epoch; its folder."""

    def trained() -> bool:
        progress = app.sweep_progress()
        return bool(progress) and progress[0].folder is not None and progress[0].epoch >= 1

    await wait_for(pilot, trained, 90, "the first run's first epoch")
    folder = app.sweep_progress()[0].folder
    assert lock_holder(folder) is not None
    return folder


async def test_the_book_is_a_sweep_of_four_processes_followed_live_then_compared(tiny_config, runs_dir, monkeypatch):
    tiny_book(monkeypatch)
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_book(pilot)
        assert not screen.check_action("book", ()) and screen.check_action("stop_book", ())
        await pilot.press("escape")  # the main screen follows the runs meanwhile
        await wait_for(pilot, lambda: app.following, 60, "the first run followed")
        await pilot.press("f5")  # Start refuses while the sweep runs
        await pilot.pause()
        assert not app.run_active and any("separate processes" in n.message for n in app._notifications)
        await wait_for(pilot, lambda: screen.book_result is not None, 180, "the book's sweep")
        assert len(app.followed) == 4  # each run was followed as its folder appeared
        await wait_for(pilot, lambda: sum(bool(p) for p in app.chart.lines.values()) == 4, 10, "4 chart lines")
        assert set(app.chart.lines) >= {path.name for path in app.followed}  # overlaid, named per run
        await pilot.press("f2")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), 15, "the comparison")
        result = screen.book_result
        assert not result.problems and result.trained == 4 and not result.stopped
        assert "The book's runs are done: 4 of 4 trained all their epochs." in [n.message for n in app._notifications]
        folders = run_folders(runs_dir)
        assert len(folders) == 4 and sorted(map(str, folders)) == sorted(result.paths)
        tags = [read_tag(folder) for folder in folders]
        assert {tag["sweep"] for tag in tags} == {result.sweep}
        assert sorted(tag["values"]["preset"] for tag in tags) == sorted(BOOK_PRESETS)
        for folder in folders:
            config = RunDir(folder).read_config()
            assert config.hidden == 16 and config.device.startswith("cpu") and config.seed == 0
            assert config.corpus == tiny_config.corpus  # the main form's data
        assert len(app.screen.chart.curves) == 4 and all(len(c.xs) == 2 for c in app.screen.chart.curves)
        assert [r.name for r in list_records(runs_dir)] == [result.sweep]
        rows = {row.preset: row for row in run_rows(runs_dir)}
        assert set(rows) == set(BOOK_PRESETS) and rows["deep"].layers == 2
        assert all(row.status == "finished" for row in rows.values())
    assert train_processes(runs_dir) == []


async def test_f7_stops_the_sweep_every_run_checkpointed_and_no_process_left(tiny_config, runs_dir, monkeypatch):
    tiny_book(monkeypatch, epochs=500)
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_book(pilot)
        folder = await first_run_training(pilot, app, runs_dir)
        pid = lock_holder(folder)["pid"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is not screen, 5, "the main screen")
        await pilot.press("f7")
        bar = screen.query_one("#book-progress")
        await wait_for(pilot, lambda: "stopping" in str(bar.render()), 30, "the stopping line")
        await wait_for(pilot, lambda: screen.book_result is not None, 60, "the sweep to stop")
        result = screen.book_result
        assert result.stopped and result.trained == 0 and result.stopped_in[:2] == (0, "scratch")
        assert result.stopped_in[4] is True
        for path in map(Path, result.paths):  # every run that started: stopped with its checkpoint
            assert (path / "checkpoint.pt").is_file() and RunDir(path).read_summary()["status"] == "stopped"
        assert len(result.paths) == 1  # nothing started after the stop
        assert any(f"epoch {result.stopped_in[2]} of 500" in n.message for n in app._notifications)
        assert not os.path.exists(f"/proc/{pid}") and train_processes(runs_dir) == []
        assert not app.sweep_active


async def test_quitting_while_the_book_runs_stops_it_first_and_leaves_no_process(tiny_config, runs_dir, monkeypatch):
    tiny_book(monkeypatch, epochs=500)
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await start_book(pilot)
        folder = await first_run_training(pilot, app, runs_dir)
        assert train_processes(runs_dir)
        await pilot.press("escape")  # (the main screen's keys are off in the runs screen)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmQuit), 10, "the quit question")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.return_code is not None, 60, "the app to quit")
    assert app.return_code == 0
    assert train_processes(runs_dir) == []
    assert (folder / "checkpoint.pt").is_file() and RunDir(folder).read_summary()["status"] == "stopped"


async def test_a_signal_stops_the_sweep_then_quits_and_an_exit_never_leaves_a_process(
    tiny_config, runs_dir, monkeypatch
):
    tiny_book(monkeypatch, epochs=500)
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        await start_book(pilot)
        folder = await first_run_training(pilot, app, runs_dir)
        app.stop_on_signal(signal.SIGTERM)  # (what the lifecycle watchdog forwards on a hangup)
        assert app.return_code is None  # it waits for the runs to checkpoint
        await wait_for(pilot, lambda: app.return_code is not None, 60, "the app to quit")
    assert app.return_code == 0 and train_processes(runs_dir) == []
    assert (folder / "checkpoint.pt").is_file()
    # an exit without any stop (e.g. the 30 s fallback): the unmount waits for the processes
    runs_2 = runs_dir.parent / "runs-2"
    app = make_app(tiny_config, runs_2)
    async with app.run_test(size=SIZE) as pilot:
        await start_book(pilot)
        await first_run_training(pilot, app, runs_2)
        app.exit(0)
    assert train_processes(runs_2) == []


def test_the_hangup_watchdog_stops_the_sweep_and_waits_for_its_worker():
    """lifecycle.stop_trainers calls the app's stop_sweep; a running "sweep" worker is busy."""
    from types import SimpleNamespace

    from lstm_tui.app import lifecycle

    stops = []
    app = SimpleNamespace(
        session=None,
        stop_sweep=lambda: stops.append(1),
        workers=[SimpleNamespace(group="sweep", is_finished=False)],
        _installed_screens={},
    )
    assert lifecycle.trainers_busy(app)
    lifecycle.stop_trainers(app)
    assert stops == [1] and app._quit_after_stop
    app.workers[0].is_finished = True
    assert not lifecycle.trainers_busy(app)


def test_a_stop_escalates_only_after_the_grace(monkeypatch):
    """Asked again at once (the watchdog asks every second) it is the same stop; later, at once."""
    from lstm_tui.app import sweeping

    calls = []
    sweep = sweeping.Sweep("s", spec=None, parallel=1, purpose="sweep")
    sweep.runner = type("R", (), {"stop": lambda self: calls.append(1)})()
    clock = [100.0]
    monkeypatch.setattr(sweeping.time, "monotonic", lambda: clock[0])
    assert sweep.stop() and calls == [1]
    clock[0] += 1.0
    assert not sweep.stop() and calls == [1]
    clock[0] += sweeping.ESCALATE_S
    assert sweep.stop() and calls == [1, 1]
    assert not sweep.stop() and calls == [1, 1]


@pytest.mark.parametrize("key", ["b"])
async def test_book_stop_key_shows_the_stopping_line(tiny_config, runs_dir, monkeypatch, key):
    tiny_book(monkeypatch, epochs=500)
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=SIZE) as pilot:
        screen = await start_book(pilot)
        bar = screen.query_one("#book-progress")
        await first_run_training(pilot, app, runs_dir)
        await wait_for(pilot, lambda: "ppl" in str(bar.render()), 10, "a progress line")
        assert "Run the book 1/4 scratch" in str(bar.render()) and "b stops" in str(bar.render())
        await pilot.press(key)
        assert "stopping at the next batch" in str(bar.render())
        await pilot.pause(1.0)
        assert "stopping at the next batch" in str(bar.render())  # later progress does not replace it
        await wait_for(pilot, lambda: screen.book_result is not None, 60, "the book to stop")
        assert any("its checkpoint is saved" in n.message for n in app._notifications)
        assert any("0 of 4 trained all their epochs" in n.message for n in app._notifications)
    assert train_processes(runs_dir) == []
