"""One trainer per run folder: a second one is refused; a dead process's lock is taken over."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading

import pytest

from lstm_tui.core.config import RunConfig
from lstm_tui.core.engine import Trainer
from lstm_tui.core.engine import trainer as trainer_module
from lstm_tui.core.events import BatchProgress, Failed, Finished
from lstm_tui.core.runs import LOCK_FILE, RunBusy, RunDir, RunLock


@pytest.fixture(autouse=True)
def _progress_every_batch(monkeypatch):
    monkeypatch.setattr(trainer_module, "PROGRESS_INTERVAL_S", 0.0)


def small_config(corpus, **changes) -> RunConfig:
    return RunConfig(
        corpus=str(corpus),
        device="cpu",
        hidden=16,
        batch_size=8,
        num_steps=10,
        max_tokens=2000,
        epochs=2,
        predict_every=0,
    ).replace(**changes)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_second_trainer_on_a_run_being_trained_is_refused_and_touches_nothing(small_corpus, tmp_path):
    config = small_config(small_corpus, epochs=2)
    run = RunDir.create(tmp_path, config)
    assert isinstance(Trainer(config, run_dir=run).run(), Finished)
    started, release = threading.Event(), threading.Event()

    def hold(event):  # the first resume trains until the second has tried
        if isinstance(event, BatchProgress):
            started.set()
            release.wait(30)

    first = Trainer.resume_from(run, on_event=hold, epochs=4)
    thread = threading.Thread(target=first.run)
    thread.start()
    try:
        assert started.wait(30)
        summary, metrics = run.read_summary(), run.metrics_path.read_bytes()
        second = Trainer.resume_from(run, epochs=6).run()
        assert isinstance(second, Failed) and "is being trained by process" in second.reason
        assert "delete" in second.hint and LOCK_FILE in second.hint
        assert run.read_summary() == summary and run.metrics_path.read_bytes() == metrics
        assert run.config_path.read_text().count("epochs = 4") == 1  # not the refused 6
    finally:
        release.set()
        thread.join(60)
    assert isinstance(first.result, Finished) and first.result.epoch == 4
    assert not (run.path / LOCK_FILE).exists()  # released


def test_a_lock_left_by_a_dead_process_is_taken_over(small_corpus, tmp_path):
    config = small_config(small_corpus)
    run = RunDir.create(tmp_path, config)
    assert isinstance(Trainer(config.replace(epochs=1), run_dir=run).run(), Finished)
    (run.path / LOCK_FILE).write_text(json.dumps({"pid": dead_pid(), "host": socket.gethostname()}))
    result = Trainer.resume_from(run, epochs=2).run()
    assert isinstance(result, Finished) and result.epoch == 2
    assert not (run.path / LOCK_FILE).exists()


@pytest.mark.parametrize("held", [{"pid": 1, "host": "another-machine"}, "alive"])
def test_a_lock_of_a_live_or_unknowable_process_refuses(tmp_path, held):
    if held == "alive":  # a live process on this machine that is not this one
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        held = {"pid": child.pid, "host": socket.gethostname()}
    (tmp_path / LOCK_FILE).write_text(json.dumps(held))
    try:
        with pytest.raises(RunBusy, match=f"process {held['pid']} on {held['host']}"):
            RunLock.acquire(tmp_path)
    finally:
        if held["host"] == socket.gethostname():
            child.kill()
            child.wait()
    lock_text = (tmp_path / LOCK_FILE).read_text()
    assert json.loads(lock_text) == held  # left as it was


def test_a_torn_lock_file_is_taken_over_and_released(tmp_path):
    (tmp_path / LOCK_FILE).write_text('{"pid": 12')  # a crash while it was written
    lock = RunLock.acquire(tmp_path)
    assert json.loads((tmp_path / LOCK_FILE).read_text())["host"] == socket.gethostname()
    with pytest.raises(RunBusy):  # held by this process now: a second trainer here is refused too
        RunLock.acquire(tmp_path)
    lock.release()
    assert not (tmp_path / LOCK_FILE).exists()
