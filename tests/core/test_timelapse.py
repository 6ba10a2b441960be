"""Time-lapse: weight snapshots every K epochs, thinned to about 50, reloaded bit-identically,
and the flip-book."""

from __future__ import annotations

import pytest
import torch

from lstm_tui.core.config import RunConfig
from lstm_tui.core.engine import Trainer
from lstm_tui.core.events import EpochEnd, Finished, Status
from lstm_tui.core.generate import predict
from lstm_tui.core.runs import RunDir, RunError
from lstm_tui.core.runs.snapshots import thin_snapshots, write_snapshot
from lstm_tui.core.timelapse import (
    flip_book,
    list_snapshots,
    load_snapshot,
    load_snapshot_with_vocab,
    snapshot_interval,
    snapshot_plan,
)


def _config(data_dir, **changes) -> RunConfig:
    base = dict(
        hidden=16,
        epochs=6,
        batch_size=8,
        num_steps=10,
        max_tokens=2000,
        predict_every=0,
        checkpoint_every=0,
        device="cpu",
        predict_length=10,
        data_dir=str(data_dir),
    )
    return RunConfig.from_mapping({**base, **changes})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shared_data_dir):
    """A 6-epoch run with a snapshot every 2 epochs, and the weights at each epoch's end."""
    weights, events = {}, []
    trainer_box = []

    def on_event(event):
        events.append(event)
        if isinstance(event, EpochEnd):  # (on the training thread: the weights of this epoch)
            weights[event.epoch] = {k: v.clone() for k, v in trainer_box[0].model.state_dict().items()}

    run = RunDir(tmp_path_factory.mktemp("tl") / "run")
    trainer = Trainer(_config(shared_data_dir, snapshot_every=2), on_event=on_event, run_dir=run.path)
    trainer_box.append(trainer)
    assert isinstance(trainer.run(), Finished)
    return run, weights, events, trainer


def test_snapshots_every_k_epochs_reload_bit_identically(trained):
    run, weights, _, _ = trained
    infos = list_snapshots(run)
    assert [i.epoch for i in infos] == [2, 4, 6]
    assert all(i.path.name == f"epoch-{i.epoch:05d}.pt" and i.bytes == i.path.stat().st_size for i in infos)
    for info in infos:
        model = load_snapshot(run, info.epoch)
        state = model.state_dict()
        assert state.keys() == weights[info.epoch].keys()
        assert all(torch.equal(state[k], weights[info.epoch][k]) for k in state)
    assert not all(torch.equal(load_snapshot(run, 2).state_dict()[k], weights[6][k]) for k in weights[6])


def test_the_disk_use_is_stated_at_the_start(trained):
    _, _, events, trainer = trained
    said = [e.message for e in events if isinstance(e, Status) and e.message.startswith("snapshots:")]
    assert said == [snapshot_plan(trainer.config, trainer.model.num_parameters())]
    assert "every 2 epochs, about 3 x" in said[0]


def test_flip_book_is_the_prefix_written_at_every_snapshot(trained):
    run, _, _, trainer = trained
    book = flip_book(run, "time traveller", 12)
    assert [epoch for epoch, _ in book] == [2, 4, 6]
    model, vocab = trainer.snapshot()
    assert book[-1][1] == predict(model, vocab, "time traveller", 12)
    assert all(text.startswith("time traveller") and len(text) == len("time traveller") + 12 for _, text in book)


def test_a_missing_snapshot_is_a_clear_error(trained):
    run, _, _, _ = trained
    with pytest.raises(RunError, match=r"no snapshot of epoch 3 \(snapshots: 2, 4, 6\)"):
        load_snapshot_with_vocab(run, 3)


def test_auto_interval_keeps_about_fifty():
    assert snapshot_interval(RunConfig(epochs=500)) == 10
    assert snapshot_interval(RunConfig(epochs=30)) == 1
    assert snapshot_interval(RunConfig(epochs=500, snapshot_every=7)) == 7


def test_thinning_keeps_every_other_older_one_and_the_newest(tmp_path):
    state = {"w": torch.zeros(2)}
    for epoch in range(1, 8):
        write_snapshot(tmp_path, epoch, state, ["a"], cap=100)
    assert thin_snapshots(tmp_path, cap=6) == [2, 4, 6]
    assert [i.epoch for i in list_snapshots_in(tmp_path)] == [1, 3, 5, 7]
    # written through write_snapshot, the folder never holds more than the cap
    for epoch in range(8, 30):
        write_snapshot(tmp_path, epoch, state, ["a"], cap=6)
        assert len(list_snapshots_in(tmp_path)) <= 6
    assert list_snapshots_in(tmp_path)[-1].epoch == 29
    assert not list((tmp_path / "snapshots").glob("*.tmp"))


def list_snapshots_in(path):
    from lstm_tui.core.runs.snapshots import list_snapshot_files

    return list_snapshot_files(path)


def test_a_snapshot_write_killed_midway_leaves_a_temp_file_the_next_trainer_removes(tmp_path):
    from lstm_tui.core.runs import remove_stale_temp_files

    write_snapshot(tmp_path, 1, {"w": torch.zeros(2)}, ["a"])
    stale = tmp_path / "snapshots" / ".epoch-00002.pt.abc123.tmp"
    stale.write_bytes(b"torn")
    assert remove_stale_temp_files(tmp_path) == [stale]
    assert [i.epoch for i in list_snapshots_in(tmp_path)] == [1]
