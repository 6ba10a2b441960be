"""Faults and interruptions in a real (tiny) training run never lose work.

Save-now (``Trainer.checkpoint_now``) mid-epoch and while paused, a resume after an interruption
that left metrics newer than the checkpoint, and a disk that fills up during a checkpoint.
"""

from __future__ import annotations

import errno
import os
import queue
import shutil
import threading
import time

import pytest
import torch

from lstm_tui.core import atomic
from lstm_tui.core.checkpoint import load_model
from lstm_tui.core.config import RunConfig
from lstm_tui.core.engine import Trainer
from lstm_tui.core.engine import trainer as trainer_module
from lstm_tui.core.events import BatchProgress, Checkpointed, CheckpointFailed, EpochEnd, Finished, NoRunFolder, Status
from lstm_tui.core.runs import RunDir
from lstm_tui.core.runs import checkpoint_io as checkpoint_module

BASE = dict(
    device="cpu",
    hidden=16,
    batch_size=8,
    num_steps=10,
    max_tokens=2000,
    epochs=3,
    predict_every=0,
    checkpoint_every=0,
    predict_length=10,
    seed=5,
)
VARIANTS = {
    "scratch-sequential-sgd": dict(impl="scratch", lr=1.0),  # carries the hidden state
    "torch-random-adam": dict(impl="torch", sampling="random", optimizer="adam", lr=0.01),
}


@pytest.fixture(autouse=True)
def _progress_every_batch(monkeypatch):
    monkeypatch.setattr(trainer_module, "PROGRESS_INTERVAL_S", 0.0)


def make_config(text_file, variant="scratch-sequential-sgd", **changes) -> RunConfig:
    return RunConfig.from_mapping({**BASE, **VARIANTS[variant], "corpus": str(text_file), **changes})


def clone_run(run: RunDir, target) -> RunDir:
    """A copy of the run folder as it is now (what a crash right now would leave)."""
    shutil.copytree(run.path, target)
    return RunDir(target)


# ---------------------------------------------------------------------- save now
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_checkpoint_now_mid_epoch_resumes_exactly(small_corpus, tmp_path, variant):
    config = make_config(small_corpus, variant)
    reference = Trainer(config)
    assert isinstance(reference.run(), Finished)

    run = RunDir.create(tmp_path / "runs", config)
    holder: dict = {}
    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, BatchProgress) and (event.epoch, event.batch) == (2, 3):
            holder["trainer"].checkpoint_now()
        if isinstance(event, Checkpointed) and "crash" not in holder:
            holder["crash"] = clone_run(run, tmp_path / "crashed")  # the machine dies right here

    trainer = holder["trainer"] = Trainer(config, on_event=on_event, run_dir=run)
    result = trainer.run()
    assert isinstance(result, Finished) and not result.stopped and result.epoch == 3  # the run went on
    saved = [e for e in events if isinstance(e, Checkpointed)]
    assert saved[0].epoch == 1 and saved[0].path == str(run.checkpoint_path)

    crashed = holder["crash"]
    checkpoint = crashed.load_checkpoint()
    assert (checkpoint.epoch, checkpoint.batch) == (1, 3)  # mid-epoch 2, at the batch asked for
    resumed = Trainer.resume_from(crashed)
    final = resumed.run()
    assert isinstance(final, Finished) and final.epoch == 3
    assert [h["perplexity"] for h in resumed.history] == [h["perplexity"] for h in reference.history]
    for (name, x), (_, y) in zip(reference.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(x, y), name
    assert [m["epoch"] for m in crashed.read_metrics()] == [1, 2, 3]


def test_checkpoint_now_while_paused_writes_and_stays_paused(small_corpus, tmp_path):
    config = make_config(small_corpus, epochs=50)
    run = RunDir.create(tmp_path, config)
    events: queue.Queue = queue.Queue()
    trainer = Trainer(config, on_event=events.put, run_dir=run)
    thread = threading.Thread(target=trainer.run)
    thread.start()
    try:
        seen = []

        def wait_for(predicate, what):
            while True:
                event = events.get(timeout=30)
                seen.append(event)
                if predicate(event):
                    return event
            raise AssertionError(what)  # pragma: no cover

        wait_for(lambda e: isinstance(e, BatchProgress) and e.batch >= 2, "training")
        trainer.pause()
        paused = wait_for(lambda e: isinstance(e, Status) and e.message.startswith("paused at"), "the pause")
        trained_s = [e for e in seen if isinstance(e, BatchProgress)][-1].elapsed_s
        time.sleep(1.0)  # paused time is not training time, also for a checkpoint saved during the pause
        trainer.checkpoint_now()
        saved = wait_for(lambda e: isinstance(e, Checkpointed), "the checkpoint")
        assert trainer.paused and thread.is_alive()
        checkpoint = run.load_checkpoint()
        assert f"epoch {checkpoint.epoch + 1}, batch {checkpoint.batch}" in paused.message
        assert saved.epoch == checkpoint.epoch
        assert trained_s <= checkpoint.elapsed_s < trained_s + 0.5
        load_model(run.checkpoint_path)  # a usable model
        # still paused: no batch ran after the checkpoint
        assert not any(isinstance(e, BatchProgress) for e in list(events.queue))
        # asking again at the same batch answers with the same file, without writing it again
        before = run.checkpoint_path.stat().st_mtime_ns
        trainer.checkpoint_now()
        assert wait_for(lambda e: isinstance(e, Checkpointed), "the answer").path == str(run.checkpoint_path)
        assert run.checkpoint_path.stat().st_mtime_ns == before
    finally:
        trainer.stop()
        thread.join(30)
    assert isinstance(trainer.result, Finished) and trainer.result.stopped


def test_checkpoint_now_at_an_epoch_end_and_without_a_run_folder(small_corpus, tmp_path):
    config = make_config(small_corpus, epochs=3)
    run = RunDir.create(tmp_path, config)
    holder: dict = {}
    saved = []

    def on_event(event):
        if isinstance(event, EpochEnd) and event.epoch == 1:
            holder["trainer"].checkpoint_now()  # asked between the epoch's end and its checkpoint point
        if isinstance(event, Checkpointed):
            saved.append((event.epoch, run.load_checkpoint().batch))

    holder["trainer"] = Trainer(config, on_event=on_event, run_dir=run)
    assert isinstance(holder["trainer"].run(), Finished)
    assert saved == [(1, 0), (3, 0)]

    answers = []
    holder["trainer"] = trainer = Trainer(
        config,
        on_event=lambda e: (
            trainer.checkpoint_now() if isinstance(e, BatchProgress) and e.batch == 1 and e.epoch == 1 else None,
            answers.append(e) if isinstance(e, (NoRunFolder, Status)) else None,
        ),
    )
    assert isinstance(trainer.run(), Finished)
    refusals = [e for e in answers if isinstance(e, NoRunFolder)]
    assert len(refusals) == 1 and "no run folder" in refusals[0].reason  # an event, not a status text
    assert not any("no run folder" in e.message for e in answers if isinstance(e, Status))


# ---------------------------------------------------------------------- interrupted between an epoch and its checkpoint
def test_resume_trains_again_the_epochs_after_the_checkpoint_once(small_corpus, tmp_path):
    config = make_config(small_corpus, epochs=4, predict_every=1, checkpoint_every=2)
    reference = Trainer(config)
    assert isinstance(reference.run(), Finished)

    run = RunDir.create(tmp_path / "runs", config)
    holder: dict = {}

    def on_event(event):
        if isinstance(event, Checkpointed) and event.epoch == 2:
            holder["checkpoint"] = run.checkpoint_path.read_bytes()
        if isinstance(event, EpochEnd) and event.epoch == 3:
            holder["trainer"].stop()

    holder["trainer"] = Trainer(config, on_event=on_event, run_dir=run)
    holder["trainer"].run()
    # the process died after epoch 3's metrics and samples were written but before its checkpoint
    run.checkpoint_path.write_bytes(holder["checkpoint"])
    with open(run.metrics_path, "ab") as f:
        f.write(b'{"epoch": 4, "perplex')  # and a torn line from the moment it died
    assert [m["epoch"] for m in run.read_metrics()] == [1, 2, 3]

    messages = []
    resumed = Trainer.resume_from(run, on_event=lambda e: messages.append(e))
    assert isinstance(resumed.run(), Finished)
    metrics = run.read_metrics()
    assert [m["epoch"] for m in metrics] == [1, 2, 3, 4]  # each epoch once
    assert [m["perplexity"] for m in metrics] == [h["perplexity"] for h in reference.history]
    assert b"perplex\n" not in run.metrics_path.read_bytes()
    sample_epochs = [s["epoch"] for s in run.read_samples()]
    assert sample_epochs.count(3) == 1 and sample_epochs.count(2) == 1
    assert any("resumed from the checkpoint at epoch 2" in getattr(e, "message", "") for e in messages)


# ---------------------------------------------------------------------- disk full
def test_disk_full_during_a_checkpoint_keeps_the_last_good_one(small_corpus, tmp_path, monkeypatch):
    config = make_config(small_corpus, epochs=3, checkpoint_every=1)
    run = RunDir.create(tmp_path, config)
    real_write = checkpoint_module.atomic_write_bytes
    calls = {"n": 0, "full": False}

    class FullDiskFile:
        """Half of the data fits, then the disk is full."""

        def __init__(self, fd, mode):
            self._file = os.fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._file.close()

        def write(self, data):
            self._file.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

        def __getattr__(self, name):
            return getattr(self._file, name)

    class DiskOs:
        def __getattr__(self, name):
            return getattr(os, name)

        def fdopen(self, fd, mode="r"):
            return FullDiskFile(fd, mode) if calls["full"] else os.fdopen(fd, mode)

    def checkpoint_write(path, data):
        calls["n"] += 1
        calls["full"] = calls["n"] >= 2  # the disk fills up at the second checkpoint and stays full
        try:
            return real_write(path, data)
        finally:
            calls["full"] = False

    monkeypatch.setattr(atomic, "os", DiskOs())
    monkeypatch.setattr(checkpoint_module, "atomic_write_bytes", checkpoint_write)
    statuses, saved = [], []

    def on_event(event):
        if isinstance(event, CheckpointFailed):
            statuses.append(event)
        if isinstance(event, Checkpointed):
            saved.append(event.epoch)

    trainer = Trainer(config, on_event=on_event, run_dir=run)
    result = trainer.run()
    monkeypatch.undo()
    assert isinstance(result, Finished) and result.epoch == 3  # training went on
    assert saved == [1]
    failures = [e.reason for e in statuses]
    assert failures and all(
        "No space left on device" in m and "previous checkpoint (if any) is kept" in m and m.count("kept") == 1
        for m in failures
    )
    assert [e.kept_epoch for e in statuses] == [1, 1]  # the epoch the folder still holds
    assert result.checkpoint_saved is False  # the closing checkpoint failed too: callers must say so
    assert "No space left on device" in result.checkpoint_error
    summary = run.summary()  # the folder's truth: finished at 3, its checkpoint holds epoch 1
    assert (summary.status, summary.epoch, summary.checkpoint_epoch) == ("finished", 3, 1)
    assert "No space left" in summary.checkpoint_error and summary.checkpoint_saved is False
    assert sorted(p.name for p in run.path.iterdir() if p.name.startswith(".")) == []  # no temp file left
    model, vocab, loaded_config, checkpoint = load_model(run.checkpoint_path)
    assert checkpoint.epoch == 1 and loaded_config == config
    assert [m["epoch"] for m in run.read_metrics()] == [1, 2, 3]  # the metrics were kept
    # and the run can go on from that last good checkpoint
    resumed = Trainer.resume_from(run)
    final = resumed.run()
    assert isinstance(final, Finished) and resumed.epoch == 3 and final.checkpoint_saved
    assert [m["epoch"] for m in run.read_metrics()] == [1, 2, 3]


def test_the_cpu_allocators_out_of_memory_error_counts_as_out_of_memory():
    from lstm_tui.core.engine import is_out_of_memory

    with pytest.raises(RuntimeError) as caught:
        torch.empty(2**62, dtype=torch.uint8)  # more than any address space: the CPU allocator refuses
    assert "can't allocate memory" in str(caught.value)
    assert is_out_of_memory(caught.value)
    assert not is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))


def test_logs_of_the_library_do_not_reach_stderr_by_themselves():
    import subprocess
    import sys

    code = "import logging, lstm_tui; logging.getLogger('lstm_tui.core.engine.trainer').error('shown?')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
