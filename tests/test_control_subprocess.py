"""A real ``lstm-tui train`` process obeys its run folder's control file (issue: control a run
that another process trains): pause, checkpoint-now, resume and stop, each acknowledged in the
run's files; a command to the stopped run is refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lstm_tui.core.control_file import ControlRefused, send, wait_for_ack
from lstm_tui.core.runs import RunStatus, lock_holder, run_status

REPO = Path(__file__).resolve().parents[1]


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _epochs(run: Path) -> int:
    try:
        lines = (run / "metrics.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return 0
    return sum(1 for line in lines if line.strip() and "epoch" in json.loads(line))


@pytest.fixture
def training(tmp_path, shared_data_dir):
    runs = tmp_path / "runs"
    cmd = [
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
        "1000",
        "--data-dir",
        str(shared_data_dir),
        "--runs-dir",
        str(runs),
        "--json",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        _wait(lambda: any(runs.glob("*/metrics.jsonl")), 60, "the first epoch")
        run = next(runs.glob("*/metrics.jsonl")).parent
        yield proc, run
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_pause_checkpoint_resume_and_stop_through_the_control_file(training):
    proc, run = training
    assert lock_holder(run)["pid"] == proc.pid

    ack = wait_for_ack(run, send(run, "pause"), timeout=10)
    assert ack is not None and ack.applied
    time.sleep(0.5)  # the pause lands at the next batch boundary
    paused_at = _epochs(run)
    time.sleep(1.5)
    assert _epochs(run) == paused_at, "epochs went on while paused"

    assert not (run / "checkpoint.pt").exists()  # (checkpoint_every 0: none until asked)
    ack = wait_for_ack(run, send(run, "checkpoint"), timeout=10)
    assert ack is not None and ack.applied
    _wait(lambda: (run / "checkpoint.pt").is_file(), 20, "the checkpoint asked for while paused")

    ack = wait_for_ack(run, send(run, "resume"), timeout=10)
    assert ack is not None and ack.applied
    _wait(lambda: _epochs(run) > paused_at, 30, "training to go on after resume")

    ack = wait_for_ack(run, send(run, "stop"), timeout=10)
    assert ack is not None and ack.applied
    assert proc.wait(60) == 0
    events = [json.loads(line) for line in proc.stdout.read().splitlines() if line.startswith("{")]
    finished = [e for e in events if e["event"] == "finished"]
    assert finished and finished[0]["stopped"] is True and finished[0]["checkpoint_saved"] is True
    summary = json.loads((run / "summary.json").read_text())
    assert run_status(run, summary) == RunStatus.STOPPED
    assert (run / "control.ack.json").is_file()

    with pytest.raises(ControlRefused) as refused:
        send(run, "pause")
    assert "not running" in refused.value.reason and "stopped" in refused.value.reason
