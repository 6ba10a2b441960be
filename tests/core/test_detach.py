"""Detach: a stopped run handed to a headless ``train --resume`` process in its own session.

Real processes throughout: the detached trainer is ``python -m lstm_tui``; the survival test
starts it from a process that owns a pseudo-terminal and then closes that terminal.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch

from lstm_tui.core.config import RunConfig
from lstm_tui.core.detach import DETACHED_LOG, Detached, DetachError, detach, wait_taken
from lstm_tui.core.engine import Trainer
from lstm_tui.core.engine import trainer as trainer_module
from lstm_tui.core.events import BatchProgress, Finished
from lstm_tui.core.runs import LOCK_FILE, RunDir

try:  # the runs package of the core rewrite
    from lstm_tui.core.runs import RunLock
except ImportError:  # today's main
    from lstm_tui.core.run_lock import RunLock

REPO = Path(__file__).resolve().parents[2]
TINY = dict(
    preset="scratch",
    hidden=16,
    epochs=6,
    max_tokens=2000,
    batch_size=8,
    num_steps=10,
    device="cpu",
    threads=1,
    checkpoint_every=0,
    predict_every=0,
    predict_length=10,
    seed=7,
)
STOP_AT = (3, 5)  # (epoch, batch): the stopped run's checkpoint is 5 batches into epoch 3
PROCESS_TIMEOUT_S = 180  # a fresh Python importing torch on a busy machine, then 4 tiny epochs


def child_env() -> dict[str, str]:
    """The environment of a child Python that runs this checkout's lstm_tui."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def tiny_config(data_dir: Path) -> RunConfig:
    return RunConfig.from_mapping({**TINY, "data_dir": str(data_dir)})


@pytest.fixture(scope="module")
def runs(tmp_path_factory, shared_data_dir) -> dict[str, Path]:
    """Two runs of the same config: ``whole`` trained uninterrupted, ``stopped`` mid-epoch."""
    root = tmp_path_factory.mktemp("detach-runs")
    config = tiny_config(shared_data_dir)
    whole = RunDir.create(root, config, name="whole")
    assert isinstance(Trainer(config, run_dir=whole).run(), Finished)
    stopped = RunDir.create(root, config, name="stopped")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trainer_module, "PROGRESS_INTERVAL_S", 0.0)  # a BatchProgress every batch
        result = train_in_thread_until(config, stopped, STOP_AT)
    assert isinstance(result, Finished) and result.stopped
    return {"whole": whole.path, "stopped": stopped.path}


def train_in_thread_until(config: RunConfig, run: RunDir, stop_at: tuple[int, int]):
    """Train on a worker thread (as the app does) and stop at ``stop_at`` from its event handler."""
    holder: dict = {}

    def on_event(event) -> None:
        if isinstance(event, BatchProgress) and (event.epoch, event.batch) == stop_at:
            holder["trainer"].stop()

    holder["trainer"] = Trainer(config, on_event=on_event, run_dir=run)
    worker = threading.Thread(target=lambda: holder.setdefault("result", holder["trainer"].run()))
    worker.start()
    worker.join(timeout=PROCESS_TIMEOUT_S)
    assert not worker.is_alive()
    return holder["result"]


def copy_run(source: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(source, tmp_path / source.name))


def wait_ended(detached: Detached, timeout: float = PROCESS_TIMEOUT_S) -> int:
    deadline = time.monotonic() + timeout
    while detached.returncode is None:
        assert time.monotonic() < deadline, f"detached trainer still running; log:\n{detached.log_path.read_text()}"
        time.sleep(0.1)
    return detached.returncode


def assert_finished_like(run_path: Path, whole: Path) -> None:
    """The run's files say what an uninterrupted run's say: same epochs once, same numbers."""
    run, reference = RunDir(run_path), RunDir(whole)
    metrics, expected = run.read_metrics(), reference.read_metrics()
    assert [m["epoch"] for m in metrics] == list(range(1, TINY["epochs"] + 1))
    assert [m["perplexity"] for m in metrics] == [m["perplexity"] for m in expected]
    assert (run.read_summary() or {}).get("status") == "finished"
    mine, theirs = run.load_checkpoint(), reference.load_checkpoint()
    assert mine.epoch == theirs.epoch == TINY["epochs"]
    for name, tensor in theirs.model_state.items():
        assert torch.equal(mine.model_state[name], tensor), name


def test_the_detached_run_has_the_curve_of_an_uninterrupted_one(runs, tmp_path):
    run_path = copy_run(runs["stopped"], tmp_path)
    checkpoint = RunDir(run_path).load_checkpoint()
    assert (checkpoint.epoch, checkpoint.batch) == (STOP_AT[0] - 1, STOP_AT[1])  # a mid-epoch checkpoint
    assert [m["epoch"] for m in RunDir(run_path).read_metrics()] == [1, 2]

    detached = detach(run_path, env=child_env())
    assert detached.command[-4:] == ["train", "--resume", str(run_path.resolve()), "--quiet"]
    assert detached.log_path == run_path.resolve() / DETACHED_LOG
    assert wait_taken(detached, timeout=PROCESS_TIMEOUT_S)
    assert wait_ended(detached) == 0, detached.log_path.read_text()
    assert_finished_like(run_path, runs["whole"])
    assert not (run_path / LOCK_FILE).exists()
    assert "perplexity" in detached.log_path.read_text()  # --quiet's final summary, in the log


INTERMEDIATE = textwrap.dedent("""
    import fcntl, os, sys, termios, time
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the pty becomes this session's controlling terminal
    from lstm_tui.core.detach import detach
    detached = detach(sys.argv[1])
    print(detached.pid, os.getsid(0), flush=True)
    time.sleep(120)  # until the terminal closes: its SIGHUP ends this process
""")


def stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name: state, ppid, pgrp, session, tty_nr, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_detached_run_survives_the_closed_terminal_of_its_parent(runs, tmp_path):
    run_path = copy_run(runs["stopped"], tmp_path)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (run_path / LOCK_FILE).write_text(f'{{"pid": {gone.pid}, "host": "{socket.gethostname()}"}}')  # a dead trainer's

    master, slave = os.openpty()
    parent = subprocess.Popen(
        [sys.executable, "-c", INTERMEDIATE, str(run_path)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        env=child_env(),
    )
    os.close(slave)
    line = read_line(master)
    pid, parent_sid = (int(x) for x in line.split())
    assert stat_fields(parent.pid)[4] != "0"  # the parent has the terminal ...
    detached_stat = stat_fields(pid)
    assert detached_stat[4] == "0"  # ... the detached trainer has none
    assert os.getsid(pid) == pid != parent_sid and os.getsid(pid) != os.getsid(0)
    fds = {int(fd.name): os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()}
    assert fds[0] == os.devnull and fds[1] == fds[2] == str(run_path.resolve() / DETACHED_LOG)
    assert not [target for target in fds.values() if target.startswith(("/dev/pts", "/dev/ptmx"))]

    os.close(master)  # the terminal closes: the kernel hangs up its session
    assert parent.wait(timeout=30) == -signal.SIGHUP
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    while (RunDir(run_path).read_summary() or {}).get("status") != "finished" or (run_path / LOCK_FILE).exists():
        assert time.monotonic() < deadline, (run_path / DETACHED_LOG).read_text()
        time.sleep(0.2)
    assert_finished_like(run_path, runs["whole"])


def read_line(fd: int, timeout: float = PROCESS_TIMEOUT_S) -> str:
    """The first line a process writes to the pty, or a failure with what it wrote."""
    out, deadline = b"", time.monotonic() + timeout
    while b"\n" not in out:
        assert time.monotonic() < deadline, out
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side closed
            pytest.fail(f"the intermediate process ended: {out.decode(errors='replace')}")
        out += chunk
    return out.decode().splitlines()[0].strip()


def test_a_run_without_a_checkpoint_is_refused(tmp_path, shared_data_dir):
    run = RunDir.create(tmp_path, tiny_config(shared_data_dir), name="fresh")
    with pytest.raises(DetachError, match="no checkpoint") as caught:
        detach(run.path, env=child_env())
    assert caught.value.hint
    assert not (run.path / DETACHED_LOG).exists()  # nothing started


def test_a_run_a_live_process_trains_is_refused(runs, tmp_path):
    run_path = copy_run(runs["stopped"], tmp_path)
    lock = RunLock.acquire(run_path)
    try:
        with pytest.raises(DetachError, match=f"process {os.getpid()}") as caught:
            detach(run_path, env=child_env())
    finally:
        lock.release()
    assert "stop that trainer" in caught.value.hint
    assert not (run_path / DETACHED_LOG).exists()


def test_a_finished_run_is_refused(runs):
    with pytest.raises(DetachError, match="finished") as caught:
        detach(runs["whole"], env=child_env())
    assert "--epochs" in caught.value.hint


def test_an_unknown_run_is_refused(tmp_path):
    with pytest.raises(DetachError, match="no run named"):
        detach("nope", runs_dir=tmp_path)


def test_a_trainer_that_ends_before_taking_the_run_reports_its_log(runs, tmp_path):
    run_path = copy_run(runs["stopped"], tmp_path)
    failing = tmp_path / "python"
    failing.write_text('#!/bin/sh\necho "boom: $*" >&2\nexit 3\n')
    failing.chmod(0o755)
    (run_path / DETACHED_LOG).write_text("an earlier detach's output\n")

    detached = detach(run_path, python=str(failing))
    with pytest.raises(DetachError, match="exit 3") as caught:
        wait_taken(detached, timeout=PROCESS_TIMEOUT_S)
    assert "boom: -m lstm_tui train --resume" in caught.value.reason
    assert "earlier detach" not in caught.value.reason  # only this start's output
    assert caught.value.hint == f"its log is {detached.log_path}"
    assert "an earlier detach's output" in detached.log_path.read_text()  # appended, not replaced
