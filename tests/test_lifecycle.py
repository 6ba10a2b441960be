"""The app never outlives its terminal and never dies without a checkpoint (a soak test).

A real ``python -m lstm_tui`` runs in a pseudo-terminal that is its controlling terminal (its own
session, as a login shell's child is); the test then closes the terminal (the master side of the
pty: what an SSH drop or ``tmux kill-session`` does) in each state, at a random moment: starting
up, importing torch, loading the corpus, training, generating, with the quit dialog open, idle.
Each time the process must end within 10 s, leave no process of its session behind, and leave
its run resumable: no live lock, a summary that is not "running" (nor "interrupted": the
process did not die inside the run), a checkpoint when it trained an epoch or was stopped.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from lstm_tui.core.runs import lock_holder, run_status

REPO = Path(__file__).resolve().parents[1]
EXIT_LIMIT_S = 10.0
TINY = [
    "--preset",
    "concise",
    "--hidden",
    "32",
    "--max-tokens",
    "4000",
    "--batch-size",
    "8",
    "--num-steps",
    "10",
    "--device",
    "cpu",
    "--predict-every",
    "1",
    "--predict-length",
    "20",
]
CTRL_G, CTRL_Q, TAB, BACKSPACE, ENTER = b"\x07", b"\x11", b"\t", b"\x7f", b"\r"


def _take_terminal() -> None:
    """In the child, after setsid: the pty (its stdin) becomes its controlling terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyApp:
    """The app in a pseudo-terminal of 120x40 whose output is read (as a terminal does)."""

    def __init__(self, args: list[str], tmp_path: Path, data_dir: Path, controlling: bool = True) -> None:
        self.runs_dir, self.log = tmp_path / "runs", tmp_path / "lifecycle.log"
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "OMP_NUM_THREADS": "1",
            "TERM": "xterm-256color",
            "LSTM_TUI_RUNS_DIR": str(self.runs_dir),
            "LSTM_TUI_DATA_DIR": str(data_dir),
            "LSTM_TUI_LIFECYCLE_LOG": str(self.log),
        }
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lstm_tui", "--data-dir", str(data_dir), *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=REPO,
            env=env,
            start_new_session=True,
            preexec_fn=_take_terminal if controlling else None,
        )
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self._reading = True
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while self._reading:
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:
                    return
                if not data:
                    return
                self.output += data
                del self.output[:-200_000]

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def notes(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def wait_for(self, what: str, check, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if self.proc.poll() is not None:
                raise AssertionError(f"the app ended ({self.proc.returncode}) before {what}: {self.screen()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout}s: {self.screen()}")
            time.sleep(0.05)

    def shows(self, text: bytes) -> bool:
        return text in self.output

    def screen(self) -> str:
        return bytes(self.output[-3000:]).decode("utf-8", "replace")

    def hang_up(self) -> float:
        """Close the terminal; the seconds until the process ended (fails past the limit)."""
        self._reading = False
        self._reader.join()
        if self.master < 0:
            return 0.0
        os.close(self.master)
        self.master = -1
        closed = time.monotonic()
        try:
            self.proc.wait(timeout=EXIT_LIMIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"the app outlived its terminal by {EXIT_LIMIT_S}s; lifecycle log: {self.notes()}"
            ) from None
        return time.monotonic() - closed


def session_members(sid: int) -> list[int]:
    """The processes of session ``sid`` (read from /proc)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp session ...
        if int(fields[3]) == sid and fields[0] != "Z":
            members.append(int(entry))
    return members


def runs(app: PtyApp) -> list[Path]:
    return sorted(p for p in app.runs_dir.iterdir() if p.is_dir()) if app.runs_dir.exists() else []


def metrics_lines(run: Path) -> int:
    path = run / "metrics.jsonl"
    return len(path.read_text().splitlines()) if path.exists() else 0


def summary_of(run: Path) -> dict:
    path = run / "summary.json"
    return json.loads(path.read_text()) if path.exists() else {}


def assert_resumable(run: Path) -> None:
    summary = summary_of(run)
    assert lock_holder(run) is None, f"{run.name} is still locked"
    status = run_status(run, summary)
    assert status != "running"
    if summary:
        assert status in ("stopped", "finished"), f"{run.name}: {status} (the process died inside the run)"
    if metrics_lines(run) or summary.get("status") == "stopped":
        assert (run / "checkpoint.pt").is_file(), f"{run.name} trained or stopped but has no checkpoint"


def installed(app: PtyApp) -> bool:
    return any(line.endswith(" installed") for line in app.notes())


def trained_an_epoch(app: PtyApp) -> bool:
    return any(metrics_lines(run) for run in runs(app))


def finished(app: PtyApp) -> bool:
    return any(summary_of(run).get("status") == "finished" for run in runs(app))


def until_starting(app: PtyApp, rng: random.Random) -> None:
    time.sleep(rng.uniform(0.05, 2.5))  # Python importing Textual, the app mounting, the run starting


def until_importing_torch(app: PtyApp, rng: random.Random) -> None:
    app.wait_for("the first screen", lambda: app.shows(b"Choose a preset"))
    time.sleep(rng.uniform(0.0, 0.4))  # the devices worker imports torch right after mounting


def until_loading(app: PtyApp, rng: random.Random) -> None:
    app.wait_for("the run to start", lambda: app.shows(b"loading corpus"))
    time.sleep(rng.uniform(0.0, 0.3))  # torch, the corpus, the run folder, the model


def until_training(app: PtyApp, rng: random.Random) -> None:
    app.wait_for("a trained epoch", lambda: trained_an_epoch(app))
    time.sleep(rng.uniform(0.0, 1.5))


def until_generating(app: PtyApp, rng: random.Random) -> None:
    app.wait_for("a finished run", lambda: finished(app))
    time.sleep(0.5)
    for key in [CTRL_G, TAB, *[BACKSPACE] * 4, *b"9999", ENTER]:  # the generate box, 9999 characters
        app.send(key if isinstance(key, bytes) else bytes([key]))
        time.sleep(0.15)  # one key at a time, as typed (a burst reaches the input garbled)
    time.sleep(rng.uniform(0.3, 1.2))


def until_quit_dialog(app: PtyApp, rng: random.Random) -> None:
    app.wait_for("a trained epoch", lambda: trained_an_epoch(app))
    app.send(CTRL_Q)
    time.sleep(rng.uniform(0.4, 1.2))


def until_idle(app: PtyApp, rng: random.Random) -> None:
    app.wait_for("a finished run", lambda: finished(app))  # torch imported, the run over: nothing runs
    time.sleep(rng.uniform(0.5, 2.0))


STATES = {  # state: (extra flags, how to get there)
    "starting": (["--autostart", "--epochs", "500"], until_starting),
    "importing-torch": ([], until_importing_torch),
    "loading": (["--autostart", "--epochs", "500"], until_loading),
    "training": (["--autostart", "--epochs", "500"], until_training),
    "generating": (["--autostart", "--epochs", "1"], until_generating),
    "quit-dialog": (["--autostart", "--epochs", "500"], until_quit_dialog),
    "idle": (["--autostart", "--epochs", "1"], until_idle),
}
TRIES = 3  # 7 states x 3 = 21 hangups (and 2 more below)


@pytest.mark.slow
@pytest.mark.parametrize("state,attempt", [(s, n) for s in STATES for n in range(TRIES)])
def test_closing_the_terminal_ends_the_app_with_its_run_resumable(state, attempt, tmp_path, shared_data_dir):
    flags, until = STATES[state]
    rng = random.Random(f"{state}-{attempt}-{time.time_ns()}")
    app = PtyApp(TINY + flags, tmp_path, shared_data_dir)
    try:
        until(app, rng)
        took = app.hang_up()
    finally:
        if app.proc.poll() is None:
            app.proc.kill()
            app.proc.wait()
    notes = app.notes()
    first = float(notes[0].split()[0]) if notes else 0.0
    steps = [f"{float(n.split(' ', 2)[0]) - first:.2f} {n.split(' ', 2)[2]}" for n in notes]
    print(f"{state}: exited {took:.2f}s after the hangup; {steps}")
    assert took < EXIT_LIMIT_S
    assert session_members(app.proc.pid) == [], "a process of the app's session outlived it"
    for run in runs(app):
        assert_resumable(run)
    if state in ("training", "quit-dialog"):
        (run,) = runs(app)
        assert summary_of(run)["status"] == "stopped" and (run / "checkpoint.pt").is_file()
    if state == "quit-dialog":
        assert any("screen: ConfirmQuit" in note for note in notes), notes
    if state == "loading":
        assert any("hangup" in note and "train" in note for note in notes), notes
    if state == "generating":
        assert any("hangup" in note and "generate" in note for note in notes), notes


@pytest.mark.slow
@pytest.mark.parametrize("attempt", range(2))
def test_a_closed_terminal_without_sighup_is_a_hangup(attempt, tmp_path, shared_data_dir):
    """The pty is not the app's controlling terminal, so closing it sends no SIGHUP: the dead
    terminal itself (POLLHUP on stdin/stdout) is the hangup."""
    rng = random.Random(f"no-sighup-{attempt}-{time.time_ns()}")
    app = PtyApp(TINY + ["--autostart", "--epochs", "500"], tmp_path, shared_data_dir, controlling=False)
    try:
        until_training(app, rng)
        took = app.hang_up()
    finally:
        if app.proc.poll() is None:
            app.proc.kill()
            app.proc.wait()
    notes = app.notes()
    assert took < EXIT_LIMIT_S
    assert any("hangup: the terminal closed" in note for note in notes), notes
    (run,) = runs(app)
    assert_resumable(run)
    assert summary_of(run)["status"] == "stopped"


def test_sigterm_in_a_live_terminal_stops_the_run_with_a_checkpoint(tmp_path, shared_data_dir):
    """The terminal stays open: SIGTERM stops at the next batch, saves, exits 0 and says where."""
    app = PtyApp(TINY + ["--autostart", "--epochs", "500"], tmp_path, shared_data_dir)
    try:
        until_training(app, random.Random(0))
        sent = time.monotonic()
        app.proc.send_signal(signal.SIGTERM)
        code = app.proc.wait(timeout=EXIT_LIMIT_S)
        took = time.monotonic() - sent
        time.sleep(0.3)  # the last output reaches the reader
    finally:
        if app.proc.poll() is None:
            app.proc.kill()
            app.proc.wait()
        app.hang_up()
    assert code == 0 and took < EXIT_LIMIT_S
    (run,) = runs(app)
    assert summary_of(run)["status"] == "stopped" and (run / "checkpoint.pt").is_file()
    assert b"continue with: lstm-tui train --resume" in app.output  # the exit note, on the terminal
