"""Stop + Trainer.resume_from gives exactly the numbers of an uninterrupted run (CPU)."""

from __future__ import annotations

import pytest
import torch

from lstm_tui.core.checkpoint import CheckpointError
from lstm_tui.core.config import RunConfig
from lstm_tui.core.engine import Trainer
from lstm_tui.core.engine import trainer as trainer_module
from lstm_tui.core.events import BatchProgress, EpochEnd, Finished, Status
from lstm_tui.core.runs import RunDir

BASE = dict(
    device="cpu",
    hidden=32,
    batch_size=8,
    num_steps=10,
    max_tokens=2000,
    epochs=5,
    predict_every=0,
    checkpoint_every=0,
    predict_length=10,
    seed=3,
)
VARIANTS = {
    # sequential sampling carries the hidden state (mid-epoch resume must restore it), SGD
    "scratch-sequential-sgd": dict(impl="scratch", lr=1.0),
    # random sampling shuffles with the Python RNG every epoch; Adam has optimizer state
    "torch-random-adam": dict(impl="torch", sampling="random", optimizer="adam", lr=0.01, val_split=0.1),
}


@pytest.fixture(autouse=True)
def _progress_every_batch(monkeypatch):
    """A BatchProgress after every batch, so a test can stop at an exact batch."""
    monkeypatch.setattr(trainer_module, "PROGRESS_INTERVAL_S", 0.0)


def make_config(text_file, variant, **changes) -> RunConfig:
    return RunConfig.from_mapping({**BASE, **VARIANTS[variant], "corpus": str(text_file), **changes})


def uninterrupted(config):
    trainer = Trainer(config)
    assert isinstance(trainer.run(), Finished)
    return trainer


def assert_same_run(a: Trainer, b: Trainer):
    assert [h["epoch"] for h in b.history] == [h["epoch"] for h in a.history]
    assert [h["perplexity"] for h in b.history] == [h["perplexity"] for h in a.history]
    assert [h["val_perplexity"] for h in b.history] == [h["val_perplexity"] for h in a.history]
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items()):
        assert torch.equal(x, y), name


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_resume_at_an_epoch_boundary(small_corpus, tmp_path, variant):
    config = make_config(small_corpus, variant)
    reference = uninterrupted(config)

    run = RunDir.create(tmp_path, config)
    holder = {}

    def stop_after_two(event):
        if isinstance(event, EpochEnd) and event.epoch == 2:
            holder["trainer"].stop()

    first = holder["trainer"] = Trainer(config, on_event=stop_after_two, run_dir=run)
    result = first.run()
    assert isinstance(result, Finished) and result.stopped and result.epoch == 2
    checkpoint = run.load_checkpoint()
    assert (checkpoint.epoch, checkpoint.batch, checkpoint.carry) == (2, 0, None)

    events = []
    resumed = Trainer.resume_from(run, on_event=events.append)
    assert resumed.epoch == 2 and len(resumed.history) == 2
    final = resumed.run()
    assert isinstance(final, Finished) and not final.stopped and final.epoch == 5
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [3, 4, 5]
    assert any(isinstance(e, Status) and "resumed" in e.message for e in events)
    assert_same_run(reference, resumed)
    assert final.perplexity == reference.history[-1]["perplexity"]
    assert [m["epoch"] for m in run.read_metrics()] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_resume_in_the_middle_of_an_epoch(small_corpus, tmp_path, variant):
    config = make_config(small_corpus, variant)
    reference = uninterrupted(config)

    run = RunDir.create(tmp_path, config)
    holder = {}

    def stop_mid_epoch(event):
        if isinstance(event, BatchProgress) and event.epoch == 3 and event.batch == 5:
            holder["trainer"].stop()

    first = holder["trainer"] = Trainer(config, on_event=stop_mid_epoch, run_dir=run)
    result = first.run()
    assert isinstance(result, Finished) and result.stopped and result.epoch == 2
    checkpoint = run.load_checkpoint()
    assert (checkpoint.epoch, checkpoint.batch) == (2, 5)
    assert checkpoint.accum["tokens"] == 5 * 8 * 10 and checkpoint.accum["loss_sum"] > 0
    if config.sampling == "sequential":
        assert checkpoint.carry is not None and len(checkpoint.carry) == 2  # LSTM (H, C)
    else:
        assert checkpoint.carry is None

    resumed = Trainer.resume_from(run)
    final = resumed.run()
    assert isinstance(final, Finished) and final.epoch == 5
    assert_same_run(reference, resumed)


def test_resume_a_finished_run_for_more_epochs(small_corpus, tmp_path):
    config = make_config(small_corpus, "scratch-sequential-sgd")
    reference = uninterrupted(config)
    short = config.replace(epochs=3)
    run = RunDir.create(tmp_path, short)
    assert isinstance(Trainer(short, run_dir=run).run(), Finished)
    resumed = Trainer.resume_from(run, epochs=5)
    assert resumed.config.epochs == 5
    assert isinstance(resumed.run(), Finished)
    assert_same_run(reference, resumed)


def test_resume_needs_a_checkpoint(small_corpus, tmp_path):
    config = make_config(small_corpus, "scratch-sequential-sgd")
    run = RunDir.create(tmp_path, config)
    with pytest.raises(CheckpointError):
        Trainer.resume_from(run)


def test_resume_with_another_model_shape_fails_readably(small_corpus, tmp_path):
    config = make_config(small_corpus, "scratch-sequential-sgd", epochs=1)
    run = RunDir.create(tmp_path, config)
    assert isinstance(Trainer(config, run_dir=run).run(), Finished)
    config_before = run.config_path.read_bytes()
    summary_before = run.read_summary()
    result = Trainer.resume_from(run, epochs=2, hidden=64).run()
    assert result.kind == "failed" and "hidden" in result.reason
    # the refused resume leaves the run as it was: its settings, and "finished" in the runs table
    assert run.config_path.read_bytes() == config_before
    assert run.read_summary() == summary_before and summary_before["status"] == "finished"


@pytest.mark.parametrize("change", [dict(batch_size=4), dict(num_steps=7), dict(sampling="random")])
def test_a_mid_epoch_checkpoint_with_other_batching_restarts_its_epoch(small_corpus, tmp_path, change):
    config = make_config(small_corpus, "scratch-sequential-sgd")
    run = RunDir.create(tmp_path, config)
    holder = {}

    def stop_mid_epoch(event):
        if isinstance(event, BatchProgress) and (event.epoch, event.batch) == (3, 5):
            holder["trainer"].stop()

    first = holder["trainer"] = Trainer(config, on_event=stop_mid_epoch, run_dir=run)
    assert first.run().stopped
    checkpoint = run.load_checkpoint()
    assert (checkpoint.epoch, checkpoint.batch) == (2, 5)
    stop_samples = run.read_samples()  # what the model wrote when stopped, 5 batches into epoch 3
    assert stop_samples and all((s["epoch"], s["batch"], s["final"]) == (2, 5, True) for s in stop_samples)

    events = []
    resumed = Trainer.resume_from(run, on_event=events.append, **change)
    final = resumed.run()
    assert isinstance(final, Finished) and final.epoch == 5, getattr(final, "reason", "")
    notes = [e.message for e in events if isinstance(e, Status) and "batching changed" in e.message]
    assert len(notes) == 1 and next(iter(change)) in notes[0] and "epoch 3 starts again" in notes[0]
    # epoch 3 ran whole, every batch of the new partition, none skipped
    epoch3 = [e for e in events if isinstance(e, BatchProgress) and e.epoch == 3]
    assert [e.batch for e in epoch3] == list(range(1, epoch3[0].batches + 1))
    assert [m["epoch"] for m in run.read_metrics()] == [1, 2, 3, 4, 5]


def test_changes_of_a_resume_stopped_before_its_first_batch_are_kept(small_corpus, tmp_path):
    config = make_config(small_corpus, "scratch-sequential-sgd", epochs=2)
    run = RunDir.create(tmp_path, config)
    assert isinstance(Trainer(config, run_dir=run).run(), Finished)
    holder = {}

    def stop_at_start(event):
        if event.kind == "started":
            holder["trainer"].stop()

    resumed = holder["trainer"] = Trainer.resume_from(run, on_event=stop_at_start, epochs=10, lr=0.5)
    assert resumed.run().stopped
    saved = run.load_checkpoint().config
    assert (saved.epochs, saved.lr) == (10, 0.5)
    assert Trainer.resume_from(run).config.epochs == 10  # a plain resume goes on with them


def test_a_finished_run_hands_its_lstm_workspaces_back(small_corpus):
    from lstm_tui.core.models.fused_lstm import WORKSPACES

    config = make_config(small_corpus, "scratch-sequential-sgd", epochs=1)
    assert config.fused
    assert isinstance(Trainer(config).run(), Finished)
    assert WORKSPACES.drain() == []


@pytest.mark.parametrize("stop_at, completed", [((3, 5), 2), ((1, 4), 0)])
def test_a_stop_reports_the_last_whole_epoch_and_skips_the_slow_extras(small_corpus, tmp_path, stop_at, completed):
    config = make_config(small_corpus, "scratch-sequential-sgd", gen_ppl_every=0)
    run = RunDir.create(tmp_path, config)
    holder, events = {}, []

    def on_event(event):
        events.append(event)
        if isinstance(event, BatchProgress) and (event.epoch, event.batch) == stop_at:
            holder["trainer"].stop()

    trainer = holder["trainer"] = Trainer(config, on_event=on_event, run_dir=run)
    result = trainer.run()
    assert isinstance(result, Finished) and result.stopped and result.epoch == completed
    assert result.generation_perplexity is None  # a thousand one-token steps are not worth a wait
    assert any(isinstance(e, Status) and e.message.startswith("stopped: saving") for e in events)
    if completed:  # what metrics.jsonl says of the last whole epoch, not the cut one
        assert result.perplexity == run.read_metrics()[-1]["perplexity"] == trainer.history[-1]["perplexity"]
    else:  # no whole epoch yet: the batches done are all there is
        assert 1 < result.perplexity < 40 and run.read_metrics() == []
