"""A real app in a pseudo-terminal runs the book as a sweep; the terminal is closed while the
first run trains in its own process: the app ends within the limit, no ``train`` process of the
sweep outlives it, and the run it trained is stopped with a checkpoint (the lifecycle watchdog's
hook: ``stop_trainers`` calls the app's ``stop_sweep``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from processes import train_processes
from test_lifecycle import EXIT_LIMIT_S, PtyApp, assert_resumable, installed

from lstm_tui.core.runs import lock_holder
from lstm_tui.core.runs.files import SWEEPS_DIR

F2 = b"\x1bOQ"


def sweep_runs(runs_dir: Path) -> list[Path]:
    return sorted(p for p in runs_dir.iterdir() if p.is_dir() and p.name != SWEEPS_DIR) if runs_dir.exists() else []


def holds_lock(app: PtyApp) -> bool:
    return any(lock_holder(run) is not None for run in sweep_runs(app.runs_dir))


@pytest.mark.parametrize("moment", ["training", "starting"])
def test_closing_the_terminal_while_the_book_sweep_runs_leaves_no_process(moment, tmp_path, shared_data_dir):
    """ "training": its first run holds its lock (it stops with a checkpoint); "starting": its
    process is still importing torch (no handler yet: the second stop ends it)."""
    app = PtyApp(["--device", "cpu", "--max-tokens", "4000"], tmp_path, shared_data_dir)
    try:
        app.wait_for("the app", lambda: installed(app) and app.shows(b"F5"), 60)
        app.send(F2)
        app.wait_for("the runs screen", lambda: app.shows(b"No runs yet"), 30)
        app.send(b"b")
        app.wait_for("the question", lambda: app.shows(b"Run the book"), 30)
        app.send(b"y")
        ready = holds_lock if moment == "training" else (lambda app: bool(train_processes(app.runs_dir)))
        app.wait_for(f"the first run {moment}", lambda: ready(app), 120)
        took = app.hang_up()
    finally:
        if app.proc.poll() is None:
            app.proc.kill()
            app.proc.wait()
    print(f"exited {took:.2f}s after the hangup; {app.notes()}")
    assert took < EXIT_LIMIT_S, app.notes()
    assert train_processes(app.runs_dir) == [], app.notes()
    assert len(sweep_runs(app.runs_dir)) <= 1  # nothing started after the hangup
    for run in sweep_runs(app.runs_dir):
        assert_resumable(run)
        if moment == "training":
            assert (run / "checkpoint.pt").is_file()
