"""The training engine on the real corpus with small, fast configs (CPU)."""

from __future__ import annotations

import json
import math
import threading
import time

import pytest
import torch

from lstm_tui.core.checkpoint import CheckpointError, load_model
from lstm_tui.core.config import BIDIRECTIONAL_WARNING, RunConfig
from lstm_tui.core.data import count_batches
from lstm_tui.core.engine import Trainer
from lstm_tui.core.events import (
    BatchProgress,
    Checkpointed,
    CheckpointFailed,
    EpochEnd,
    Failed,
    Finished,
    Sample,
    Started,
    Status,
)
from lstm_tui.core.generate import predict
from lstm_tui.core.runs import RunDir

BASE = dict(
    device="cpu",
    impl="torch",
    hidden=32,
    batch_size=8,
    num_steps=10,
    max_tokens=2000,
    epochs=3,
    predict_every=0,
    checkpoint_every=0,
    predict_length=20,
    lr=1.0,
    seed=0,
)


def make_config(text_file, **changes) -> RunConfig:
    return RunConfig.from_mapping({**BASE, "corpus": str(text_file), **changes})


class Recorder:
    """An on_event handler that keeps every event and lets a test wait for one."""

    def __init__(self, hook=None):
        self.events = []
        self.hook = hook
        self._cond = threading.Condition()

    def __call__(self, event):
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()
        if self.hook is not None:
            self.hook(event)

    def of(self, kind):
        with self._cond:
            return [e for e in self.events if isinstance(e, kind)]

    def wait_for(self, predicate, timeout=30.0):
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting; last events: {self.events[-5:]}")
                self._cond.wait(left)


def run_in_thread(trainer):
    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", trainer.run()), daemon=True)
    thread.start()
    return thread, box


def perplexities(events):
    return [e.perplexity for e in events if isinstance(e, EpochEnd)]


# ---------------------------------------------------------------------- learning and events
def test_training_lowers_perplexity(small_corpus):
    config = make_config(small_corpus, hidden=64, batch_size=16, num_steps=20, max_tokens=3000, epochs=30)
    rec = Recorder()
    result = Trainer(config, on_event=rec).run()
    assert isinstance(result, Finished), result
    ppl = perplexities(rec.events)
    assert len(ppl) == 30
    assert ppl[0] > 20  # about the 28-character vocabulary: it starts near uniform
    assert ppl[-1] < 0.75 * ppl[0], ppl
    assert result.perplexity == ppl[-1]


def test_events_order_and_content(small_corpus):
    config = make_config(small_corpus, epochs=4, predict_every=2, prefix=("time traveller", "the"))
    rec = Recorder()
    result = Trainer(config, on_event=rec).run()
    events = rec.events
    assert isinstance(result, Finished) and events[-1] is result
    assert not rec.of(Failed)
    assert isinstance(events[0], Status) and "corpus" in events[0].message
    started = rec.of(Started)
    assert len(started) == 1 and events.index(started[0]) < events.index(rec.of(EpochEnd)[0])
    s = started[0]
    assert (s.start_epoch, s.epochs, s.vocab_size, s.corpus_tokens) == (1, 4, 28, 2000)
    assert s.batches_per_epoch == count_batches(2000, 8, 10, "sequential")
    assert s.parameters > 0 and s.device.startswith("cpu")

    ends = rec.of(EpochEnd)
    assert [e.epoch for e in ends] == [1, 2, 3, 4]
    assert all(e.epochs == 4 and e.tokens_per_s > 0 and e.val_perplexity is None for e in ends)
    assert all(math.isfinite(e.perplexity) and e.perplexity > 1 for e in ends)
    assert [e.elapsed_s for e in ends] == sorted(e.elapsed_s for e in ends)

    samples = rec.of(Sample)
    assert [(x.epoch, x.prefix, x.final) for x in samples] == [
        (2, "time traveller", False),
        (2, "the", False),
        (4, "time traveller", True),
        (4, "the", True),
        (4, "traveller", True),
    ]
    for sample in samples:
        assert sample.text.startswith(sample.prefix) and len(sample.text) == len(sample.prefix) + 20
    # the epoch-2 samples come right after epoch 2 ends
    assert events.index(samples[0]) > events.index(ends[1]) and events.index(samples[0]) < events.index(ends[2])

    assert (result.epoch, result.stopped, result.val_perplexity) == (4, False, None)
    assert result.perplexity == ends[-1].perplexity and result.tokens_per_s == ends[-1].tokens_per_s
    assert result.device.startswith("cpu") and result.elapsed_s >= ends[-1].elapsed_s
    assert result.generation_perplexity is not None and math.isfinite(result.generation_perplexity)


def test_val_perplexity_iff_val_split(small_corpus):
    rec = Recorder()
    result = Trainer(make_config(small_corpus, val_split=0.2, epochs=2), on_event=rec).run()
    ends = rec.of(EpochEnd)
    assert all(e.val_perplexity is not None and math.isfinite(e.val_perplexity) and e.val_perplexity > 1 for e in ends)
    assert result.val_perplexity == ends[-1].val_perplexity
    assert rec.of(Started)[0].corpus_tokens == 2000
    rec2 = Recorder()
    result2 = Trainer(make_config(small_corpus, epochs=2), on_event=rec2).run()
    assert all(e.val_perplexity is None for e in rec2.of(EpochEnd)) and result2.val_perplexity is None


def test_unknown_prefix_is_skipped_with_a_status(small_corpus):
    rec = Recorder()
    result = Trainer(make_config(small_corpus, epochs=1, prefix=("time traveller", "Zebra!")), on_event=rec).run()
    assert isinstance(result, Finished)
    assert {s.prefix for s in rec.of(Sample)} == {"time traveller", "traveller"}
    skipped = [s.message for s in rec.of(Status) if "Zebra!" in s.message]
    assert skipped and "unknown=" not in skipped[0]  # a run's prefix has no unknown='unk' to pass
    assert "try 'zebra'" in skipped[0]


def test_batch_progress_is_throttled(small_corpus):
    stamps = []

    def hook(event):
        if isinstance(event, BatchProgress):
            stamps.append((event.epoch, time.perf_counter(), event))

    config = make_config(small_corpus, hidden=64, max_tokens=6000, epochs=2)
    result = Trainer(config, on_event=Recorder(hook)).run()
    assert isinstance(result, Finished)
    for (e1, t1, _), (e2, t2, _) in zip(stamps, stamps[1:]):
        if e1 == e2:
            assert t2 - t1 >= 0.19
    for _, _, ev in stamps:
        assert 1 <= ev.batch <= ev.batches and ev.perplexity > 1 and ev.tokens_per_s > 0


def test_reproducible(small_corpus):
    for changes in (dict(impl="scratch"), dict(sampling="random", optimizer="adam", lr=0.01)):
        config = make_config(small_corpus, epochs=3, **changes)
        a, b = Trainer(config), Trainer(config)
        assert isinstance(a.run(), Finished) and isinstance(b.run(), Finished)
        assert [h["perplexity"] for h in a.history] == [h["perplexity"] for h in b.history]
        for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
            assert torch.equal(x, y), name
        c = Trainer(config.replace(seed=1))
        c.run()
        assert [h["perplexity"] for h in c.history] != [h["perplexity"] for h in a.history]


# ---------------------------------------------------------------------- control from another thread
def test_pause_resume_and_stop_from_another_thread(small_corpus):
    rec = Recorder()
    trainer = Trainer(make_config(small_corpus, epochs=100_000), on_event=rec)
    thread, box = run_in_thread(trainer)
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    trainer.pause()
    assert trainer.paused
    rec.wait_for(lambda e: isinstance(e, Status) and e.message.startswith("paused"))
    count = len(rec.of(EpochEnd))
    cpu_before = time.process_time()
    time.sleep(0.5)
    assert len(rec.of(EpochEnd)) == count and thread.is_alive() and trainer.running
    assert time.process_time() - cpu_before < 0.25  # waiting, not spinning
    trainer.resume()
    assert not trainer.paused
    rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.epoch > count)
    trainer.stop()
    thread.join(20)
    assert not thread.is_alive() and not trainer.running
    result = box["result"]
    assert isinstance(result, Finished) and result.stopped and result.epoch < 1000
    assert rec.events[-1] is result
    assert any(e.message == "resumed" for e in rec.of(Status))


def test_stop_while_paused_writes_a_usable_checkpoint(small_corpus, tmp_path):
    rec = Recorder()
    config = make_config(small_corpus, epochs=100_000)
    run = RunDir.create(tmp_path, config)
    trainer = Trainer(config, on_event=rec, run_dir=run)
    thread, box = run_in_thread(trainer)
    rec.wait_for(lambda e: isinstance(e, EpochEnd))
    trainer.pause()
    rec.wait_for(lambda e: isinstance(e, Status) and e.message.startswith("paused"))
    trainer.stop()
    thread.join(20)
    result = box["result"]
    assert isinstance(result, Finished) and result.stopped
    assert rec.of(Checkpointed)
    model, vocab, loaded_config, checkpoint = load_model(run.checkpoint_path)
    assert loaded_config == config
    assert (checkpoint.epoch, checkpoint.batch) == (trainer.epoch, trainer.batch)
    assert predict(model, vocab, "time traveller", 10).startswith("time traveller")
    assert run.read_summary()["status"] == "stopped"


def test_snapshot_during_training(small_corpus):
    rec = Recorder()
    trainer = Trainer(make_config(small_corpus, epochs=100_000), on_event=rec)
    with pytest.raises(RuntimeError):
        trainer.snapshot()
    thread, box = run_in_thread(trainer)
    try:
        rec.wait_for(lambda e: isinstance(e, EpochEnd))
        model, vocab = trainer.snapshot()
        assert not model.training and all(p.device.type == "cpu" for p in model.parameters())
        assert model is not trainer.model
        text = predict(model, vocab, "time traveller", 15)
        assert text.startswith("time traveller") and len(text) == 29
        rec.wait_for(lambda e: isinstance(e, EpochEnd) and e.epoch >= 2)  # training goes on
    finally:
        trainer.stop()
        thread.join(20)
    assert isinstance(box["result"], Finished)


# ---------------------------------------------------------------------- failures
def test_diverging_learning_rate_fails_clearly(small_corpus, tmp_path):
    config = make_config(small_corpus, lr=1000.0, clip=0.0, epochs=5, checkpoint_every=1)
    run = RunDir.create(tmp_path, config)
    rec = Recorder()
    result = Trainer(config, on_event=rec, run_dir=run).run()
    assert isinstance(result, Failed), result
    assert result.reason.startswith("loss became") and "epoch 1" in result.reason
    assert "1000" in result.hint and "clip" in result.hint
    assert rec.events[-1] is result and not rec.of(Finished)
    assert not run.has_checkpoint()  # diverged in the first epoch: nothing finite to keep
    assert run.read_summary()["status"] == "failed"


def test_divergence_after_resume_keeps_the_last_finite_checkpoint(small_corpus, tmp_path):
    config = make_config(small_corpus, epochs=2)
    run = RunDir.create(tmp_path, config)
    assert isinstance(Trainer(config, run_dir=run).run(), Finished)
    result = Trainer.resume_from(run, epochs=6, lr=1000.0, clip=0.0).run()
    assert isinstance(result, Failed) and "epoch 3" in result.reason and "1000" in result.hint
    model, _, loaded, checkpoint = load_model(run.checkpoint_path)
    assert checkpoint.epoch == 2 and loaded.lr == 1.0
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_nan_weights_never_reach_a_checkpoint(small_corpus, tmp_path):
    config = make_config(small_corpus, epochs=4, checkpoint_every=1)
    run = RunDir.create(tmp_path, config)
    holder = {}

    def poison(event):
        if isinstance(event, EpochEnd) and event.epoch == 2:
            with torch.no_grad():
                next(holder["trainer"].model.parameters()).fill_(float("nan"))

    trainer = holder["trainer"] = Trainer(config, on_event=Recorder(poison), run_dir=run)
    result = trainer.run()
    assert isinstance(result, Failed) and "nan" in result.reason and "epoch 2" in result.reason
    model, _, _, checkpoint = load_model(run.checkpoint_path)
    assert checkpoint.epoch == 1
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_corpus_errors_fail_with_a_hint(small_corpus, tmp_path):
    rec = Recorder()
    result = Trainer(make_config(small_corpus, batch_size=64, num_steps=50, max_tokens=1000), on_event=rec).run()
    assert isinstance(result, Failed) and "batch_size" in result.reason and result.hint
    assert rec.events[-1] is result
    missing = Trainer(make_config(small_corpus, corpus=str(tmp_path / "no-such-book.txt"))).run()
    assert isinstance(missing, Failed) and "no-such-book" in missing.reason + missing.hint


def test_bad_device_fails(small_corpus):
    if torch.cuda.device_count() > 99:  # pragma: no cover
        pytest.skip("a machine with 100 GPUs")
    result = Trainer(make_config(small_corpus, device="cuda:99")).run()
    assert isinstance(result, Failed) and "cuda:99" in result.reason and "cpu" in result.hint


def test_event_handler_errors_end_the_run_as_failed(small_corpus):
    seen = []

    def handler(event):
        seen.append(event)
        if isinstance(event, EpochEnd):
            raise KeyError("widget gone")

    result = Trainer(make_config(small_corpus), on_event=handler).run()
    assert isinstance(result, Failed) and "KeyError" in result.reason and "epoch" in result.reason
    assert seen[-1] is result


def test_out_of_memory_names_the_sizes(small_corpus, monkeypatch):
    def step_factory(self, model, optimizer, device):
        def step(X, Y, state):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

        return step

    monkeypatch.setattr(Trainer, "_make_step", step_factory)
    result = Trainer(make_config(small_corpus)).run()
    assert isinstance(result, Failed) and "out of memory" in result.reason
    for word in ("batch_size 8", "hidden 32", "num_steps 10"):
        assert word in result.reason
    assert "smaller" in result.hint


def test_unexpected_errors_become_failed(small_corpus, monkeypatch, tmp_path):
    def step_factory(self, model, optimizer, device):
        def step(X, Y, state):
            raise ZeroDivisionError("boom")

        return step

    monkeypatch.setattr(Trainer, "_make_step", step_factory)
    config = make_config(small_corpus)
    run = RunDir.create(tmp_path, config)
    trainer = Trainer(config, run_dir=run)
    result = trainer.run()
    assert isinstance(result, Failed) and result.reason == "ZeroDivisionError: boom"
    assert "boom" in trainer.traceback
    summary = run.read_summary()
    assert summary["status"] == "failed" and "ZeroDivisionError" in summary["traceback"]
    again = trainer.run()
    assert isinstance(again, Failed) and "already" in again.reason


def test_failed_checkpoint_write_does_not_stop_training(small_corpus, tmp_path):
    config = make_config(small_corpus, epochs=3, checkpoint_every=1)
    run = RunDir.create(tmp_path, config)
    real_save = run.save_checkpoint

    def flaky_save(payload):
        if payload["epoch"] == 2:
            raise CheckpointError("could not write checkpoint: No space left on device")
        return real_save(payload)

    run.save_checkpoint = flaky_save
    rec = Recorder()
    result = Trainer(config, on_event=rec, run_dir=run).run()
    assert isinstance(result, Finished) and result.epoch == 3
    assert [(e.epoch, e.kept_epoch) for e in rec.of(CheckpointFailed)] == [(2, 1)]
    assert "No space" in rec.of(CheckpointFailed)[0].reason
    assert [c.epoch for c in rec.of(Checkpointed)] == [1, 3]
    assert run.load_checkpoint().epoch == 3


# ---------------------------------------------------------------------- run folder
def test_run_dir_files(small_corpus, tmp_path):
    config = make_config(small_corpus, epochs=3, predict_every=1, checkpoint_every=2, val_split=0.1)
    run = RunDir.create(tmp_path, config, name="engine-test")
    rec = Recorder()
    trainer = Trainer(config, on_event=rec, run_dir=run)
    result = trainer.run()
    assert isinstance(result, Finished)
    assert run.read_config() == config
    metrics = run.read_metrics()
    assert [m["epoch"] for m in metrics] == [1, 2, 3]
    assert [m["perplexity"] for m in metrics] == [h["perplexity"] for h in trainer.history]
    assert all(m["val_perplexity"] > 1 for m in metrics)
    samples = run.read_samples()
    assert [(s["epoch"], s["prefix"]) for s in samples] == [
        (1, "time traveller"),
        (2, "time traveller"),
        (3, "time traveller"),
        (3, "traveller"),
    ]
    assert [c.epoch for c in rec.of(Checkpointed)] == [2, 3]
    summary = run.read_summary()
    assert summary["status"] == "finished" and summary["epoch"] == 3
    assert summary["perplexity"] == pytest.approx(result.perplexity)
    json.dumps(summary)
    model, vocab, loaded, checkpoint = load_model(run.checkpoint_path)
    assert (checkpoint.epoch, checkpoint.batch, len(checkpoint.history)) == (3, 0, 3)
    assert checkpoint.carry is None and checkpoint.rng["python_epoch"] is not None
    expected = predict(trainer.snapshot()[0], trainer.vocab, "time traveller", 30)
    assert predict(model, vocab, "time traveller", 30) == expected


def test_run_dir_given_as_a_path(small_corpus, tmp_path):
    folder = tmp_path / "plain-folder"
    result = Trainer(make_config(small_corpus, epochs=1), run_dir=folder).run()
    assert isinstance(result, Finished)
    assert (folder / "config.toml").is_file() and (folder / "checkpoint.pt").is_file()
    assert len((folder / "metrics.jsonl").read_text().splitlines()) == 1


def test_other_cells_and_a_bidirectional_model(small_corpus):
    for changes in (dict(cell="gru", impl="scratch"), dict(cell="rnn", layers=2)):
        rec = Recorder()
        result = Trainer(make_config(small_corpus, epochs=1, **changes), on_event=rec).run()
        assert isinstance(result, Finished) and rec.of(Sample)
        assert all(s.warning == "" for s in rec.of(Sample))
    rec = Recorder()
    result = Trainer(make_config(small_corpus, epochs=1, bidirectional=True, predict_every=1), on_event=rec).run()
    # the book's way: greedy samples written one step at a time, each marked with the warning
    samples = rec.of(Sample)
    assert isinstance(result, Finished) and samples
    assert all(s.warning == BIDIRECTIONAL_WARNING and s.text.startswith(s.prefix) for s in samples)
    assert any("bidirectional" in s.message for s in rec.of(Status))
    assert result.generation_perplexity is not None


def test_generation_perplexity_every_n_epochs_on_request(small_corpus, tmp_path):
    """gen_ppl_every=2: epochs 2 and 4 carry generation perplexity (events and metrics file)."""
    config = make_config(small_corpus, impl="torch", epochs=4, gen_ppl_every=2, predict_every=0)
    run = RunDir.create(tmp_path, config)
    rec = Recorder()
    result = Trainer(config, on_event=rec, run_dir=run).run()
    assert isinstance(result, Finished), result
    values = [e.generation_perplexity for e in rec.of(EpochEnd)]
    assert values[0] is None and values[2] is None
    assert values[1] > 1 and values[3] > 1
    # a one-directional model writes as it trains: close to its ordinary perplexity
    assert values[3] == pytest.approx(result.generation_perplexity)
    assert [m.get("generation_perplexity") for m in run.read_metrics()] == values


def test_threads_setting_limits_torch_and_zero_gives_the_default_back(small_corpus):
    default = torch.get_num_threads()
    seen = []
    one = Trainer(
        make_config(small_corpus, epochs=1, threads=1),
        on_event=lambda e: seen.append(torch.get_num_threads()) if isinstance(e, Started) else None,
    )
    assert isinstance(one.run(), Finished)
    assert seen == [1] and "(1 thread)" in one.result.device
    again = Trainer(make_config(small_corpus, epochs=1))
    assert isinstance(again.run(), Finished)
    assert (
        torch.get_num_threads() == default
        and again.result.device == f"cpu ({default} thread{'s' if default != 1 else ''})"
    )


def test_more_threads_than_cores_gets_a_warning(small_corpus):
    from lstm_tui.core.device import usable_cores

    cores = usable_cores()
    statuses = []

    def on_event(e):
        return statuses.append(e.message) if isinstance(e, Status) else None

    assert isinstance(
        Trainer(make_config(small_corpus, epochs=1, threads=cores + 1), on_event=on_event).run(), Finished
    )
    assert any(f"threads {cores + 1} is more than the {cores} CPU cores" in m for m in statuses)
    statuses.clear()
    assert isinstance(Trainer(make_config(small_corpus, epochs=1, threads=cores), on_event=on_event).run(), Finished)
    assert not any("more than" in m for m in statuses)
    Trainer(make_config(small_corpus, epochs=1, threads=0)).run()  # (torch's default back for later tests)
