"""Stop + Trainer.resume_from gives exactly the numbers of an uninterrupted run (CPU)."""

from __future__ import annotations

import pytest
import torch

from lstm_tui.core.checkpoint import CheckpointError
from lstm_tui.core.config import RunConfig
from lstm_tui.core.engine import Trainer, trainer as trainer_module
from lstm_tui.core.events import BatchProgress, EpochEnd, Finished, Status
from lstm_tui.core.runs import RunDir

BASE = dict(
    device="cpu", hidden=32, batch_size=8, num_steps=10, max_tokens=2000, epochs=5,
    predict_every=0, checkpoint_every=0, predict_length=10, seed=3,
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


def make_config(data_dir, variant, **changes) -> RunConfig:
    return RunConfig.from_mapping({**BASE, **VARIANTS[variant], "data_dir": str(data_dir), **changes})


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
def test_resume_at_an_epoch_boundary(shared_data_dir, tmp_path, variant):
    config = make_config(shared_data_dir, variant)
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
def test_resume_in_the_middle_of_an_epoch(shared_data_dir, tmp_path, variant):
    config = make_config(shared_data_dir, variant)
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


def test_resume_a_finished_run_for_more_epochs(shared_data_dir, tmp_path):
    config = make_config(shared_data_dir, "scratch-sequential-sgd")
    reference = uninterrupted(config)
    short = config.replace(epochs=3)
    run = RunDir.create(tmp_path, short)
    assert isinstance(Trainer(short, run_dir=run).run(), Finished)
    resumed = Trainer.resume_from(run, epochs=5)
    assert resumed.config.epochs == 5
    assert isinstance(resumed.run(), Finished)
    assert_same_run(reference, resumed)


def test_resume_needs_a_checkpoint(shared_data_dir, tmp_path):
    config = make_config(shared_data_dir, "scratch-sequential-sgd")
    run = RunDir.create(tmp_path, config)
    with pytest.raises(CheckpointError):
        Trainer.resume_from(run)


def test_resume_with_another_model_shape_fails_readably(shared_data_dir, tmp_path):
    config = make_config(shared_data_dir, "scratch-sequential-sgd", epochs=1)
    run = RunDir.create(tmp_path, config)
    assert isinstance(Trainer(config, run_dir=run).run(), Finished)
    result = Trainer.resume_from(run, epochs=2, hidden=64).run()
    assert result.kind == "failed" and "hidden" in result.reason
