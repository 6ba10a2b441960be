"""The control file: front ends send pause/resume/stop/checkpoint, a trainer's poller applies them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lstm_tui.core import control_file
from lstm_tui.core.atomic import atomic_write_text
from lstm_tui.core.control_file import (
    ACK_FILE,
    CONTROL_FILE,
    ControlFilePoller,
    ControlRefused,
    acknowledged,
    send,
    wait_for_ack,
)
from lstm_tui.core.engine.control import RunControl

REPO = Path(__file__).resolve().parents[2]


def make_run(root: Path, status: str | None = "running", name: str = "20261203-120000-scratch") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('preset = "scratch"\n', encoding="utf-8")
    if status is not None:
        atomic_write_text(folder / "summary.json", json.dumps({"status": status}))
    return folder


class Recorder:
    """A stand-in control that records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")

    def stop(self) -> None:
        self.calls.append("stop")

    def request_checkpoint(self) -> None:
        self.calls.append("checkpoint")


@pytest.fixture
def running(tmp_path: Path) -> Path:
    """A running run that this process trains: its lock names this process (see the run lock)."""
    folder = make_run(tmp_path)
    (folder / ".training.lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    return folder


@pytest.mark.parametrize("status", ["finished", "stopped", "failed"])
def test_a_run_that_is_not_running_refuses_commands(tmp_path: Path, status: str) -> None:
    folder = make_run(tmp_path, status)
    with pytest.raises(ControlRefused) as caught:
        send(folder, "pause")
    refused = caught.value
    assert refused.status == status
    assert refused.reason == f"cannot pause {folder.name}: it is not running (it is {status})"
    assert "lstm-tui train --resume" in refused.hint
    assert not (folder / CONTROL_FILE).exists()


def test_a_run_whose_trainer_is_gone_is_interrupted_and_refuses(tmp_path: Path) -> None:
    folder = make_run(tmp_path, "running")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    (folder / ".training.lock").write_text(json.dumps({"pid": proc.pid, "host": socket.gethostname()}))
    with pytest.raises(ControlRefused, match=r"it is not running \(it is interrupted\)") as caught:
        send(folder, "stop")
    assert caught.value.status == "interrupted"


def test_bad_folders_and_commands_are_refused(tmp_path: Path, running: Path) -> None:
    with pytest.raises(ControlRefused, match="not a run folder"):
        send(tmp_path / "nothing", "pause")
    with pytest.raises(ValueError, match="command 'halt' is not one of pause, resume, stop, checkpoint"):
        send(running, "halt")


def test_a_sent_command_is_applied_once_and_acknowledged(running: Path) -> None:
    sent = send(running, "pause")
    request = json.loads((running / CONTROL_FILE).read_text())["requests"][-1]
    assert request["id"] == sent.id and request["command"] == "pause"
    assert request["target"] == {"pid": os.getpid(), "host": socket.gethostname()} == sent.target
    assert acknowledged(running, sent) is None
    control = Recorder()
    poller = ControlFilePoller(running, control)
    (ack,) = poller.poll()
    assert control.calls == ["pause"]
    assert ack.id == sent.id and ack.applied and ack.detail == "pausing at the next batch"
    assert acknowledged(running, sent) == ack
    assert poller.poll(force=True) == [] and control.calls == ["pause"]  # once per id
    second = send(running, "checkpoint")
    assert [a.command for a in poller.poll(force=True)] == ["checkpoint"]
    assert control.calls == ["pause", "checkpoint"]
    assert acknowledged(running, sent) == ack and acknowledged(running, second) is not None


def test_poll_costs_at_most_one_stat_every_interval(running: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    poller = ControlFilePoller(running, Recorder(), interval=0.2)
    stats: list[object] = []
    real_stat = os.stat
    monkeypatch.setattr(control_file.os, "stat", lambda path, *a, **k: stats.append(path) or real_stat(path, *a, **k))
    start = time.monotonic()
    while time.monotonic() - start < 0.5:
        poller.poll()  # a batch boundary, thousands of times
    assert 2 <= len(stats) <= 4


def test_requests_for_an_earlier_trainer_are_skipped(running: Path) -> None:
    stale = {"id": "old", "command": "stop", "sent_at": 1.0, "target": {"pid": 1, "host": "elsewhere"}}
    unknown = {"id": "new", "command": "dance"}  # no target: any trainer; a command it does not know
    atomic_write_text(running / CONTROL_FILE, json.dumps({"requests": [stale, unknown]}))
    control = Recorder()
    acks = ControlFilePoller(running, control).poll()
    assert control.calls == []
    assert [(a.id, a.outcome, a.detail) for a in acks] == [("new", "ignored", "unknown command 'dance'")]


def test_on_ack_hears_each_acknowledgement(running: Path) -> None:
    heard: list[str] = []
    poller = ControlFilePoller(running, Recorder(), on_ack=lambda ack: heard.append(ack.command))
    send(running, "stop")
    poller.poll()
    assert heard == ["stop"]


def test_a_failing_control_is_acknowledged_as_failed(running: Path) -> None:
    class Broken(Recorder):
        def stop(self) -> None:
            raise RuntimeError("no")

    sent = send(running, "stop")
    ControlFilePoller(running, Broken()).poll()
    ack = acknowledged(running, sent)
    assert ack is not None and ack.outcome == "failed" and ack.detail == "RuntimeError: no"


def test_only_the_last_requests_and_acks_are_kept(running: Path) -> None:
    poller = ControlFilePoller(running, Recorder())
    for _ in range(control_file.KEEP + 5):
        send(running, "checkpoint")
        poller.poll(force=True)
    assert len(json.loads((running / CONTROL_FILE).read_text())["requests"]) == control_file.KEEP
    assert len(json.loads((running / ACK_FILE).read_text())["acks"]) == control_file.KEEP


class FakeTraining:
    """A training loop over batches, like the trainer's: poll and wait_while_paused at each boundary."""

    def __init__(self, control: RunControl, poller: ControlFilePoller) -> None:
        self.control, self.poller = control, poller
        self.batches = 0
        self.checkpoints: list[int] = []
        self.thread = threading.Thread(target=self.run, daemon=True)

    def save(self) -> None:
        self.checkpoints.append(self.batches)

    def run(self) -> None:
        while True:
            self.poller.poll()
            self.control.wait_while_paused(self.save)
            if self.control.take_checkpoint_request():
                self.save()
            if self.control.stopping:
                self.save()  # stop = stop with a checkpoint
                return
            self.batches += 1
            time.sleep(0.002)


def _until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_end_to_end_a_real_run_control_driven_through_the_file(running: Path) -> None:
    control = RunControl()
    poller = ControlFilePoller(running, control)
    poller.start_thread()  # a paused loop reaches no batch boundary: the thread brings the resume
    training = FakeTraining(control, poller)
    training.thread.start()
    try:
        _until(lambda: training.batches > 10)
        ack = wait_for_ack(running, send(running, "pause"))
        assert ack is not None and ack.applied
        _until(lambda: control.pause_requested)
        time.sleep(0.1)
        paused_at = training.batches
        time.sleep(0.3)
        assert training.batches == paused_at  # paused
        ack = wait_for_ack(running, send(running, "checkpoint"))
        assert ack is not None and ack.applied
        _until(lambda: training.checkpoints == [paused_at])  # saved while paused, still paused
        assert training.batches == paused_at and control.pause_requested
        ack = wait_for_ack(running, send(running, "resume"))
        assert ack is not None and ack.applied
        _until(lambda: training.batches > paused_at + 10)
        stop = send(running, "stop")
        training.thread.join(timeout=10)
        assert not training.thread.is_alive() and len(training.checkpoints) == 2
        ack = wait_for_ack(running, stop)  # (written just after the stop was applied, on the poller's thread)
        assert ack is not None and ack.applied and ack.command == "stop"
    finally:
        control.stop()
        poller.stop_thread()
    assert poller._thread is None


TRAINER = r"""
import json, os, socket, sys, time
from pathlib import Path
from lstm_tui.core.engine.control import RunControl
from lstm_tui.core.control_file import ControlFilePoller
folder = sys.argv[1]
lock = Path(folder) / ".training.lock"  # held as the trainer's run lock holds it
lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
control = RunControl()
poller = ControlFilePoller(folder, control)
poller.start_thread()
print("ready", flush=True)
batches = 0
while not control.stopping:
    control.wait_while_paused()
    batches += 1
    time.sleep(0.005)
poller.stop_thread()
lock.unlink()
print(batches, flush=True)
"""


def test_a_trainer_in_another_process_obeys_and_acknowledges(tmp_path: Path) -> None:
    folder = make_run(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", TRAINER, str(folder)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for command in ("pause", "resume", "stop"):
            ack = wait_for_ack(folder, send(folder, command), timeout=10)
            assert ack is not None and ack.applied and ack.by["pid"] == proc.pid
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    atomic_write_text(folder / "summary.json", json.dumps({"status": "stopped"}))
    with pytest.raises(ControlRefused, match="it is stopped"):
        send(folder, "resume")
