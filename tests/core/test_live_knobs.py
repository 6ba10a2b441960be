"""Live knobs (Trainer.set_knobs, the control file's set) and forks (core/fork.py), on CPU."""

from __future__ import annotations

import json
import os
import socket

import pytest

from lstm_tui.core.compare import curves, run_row
from lstm_tui.core.config import ConfigError, RunConfig
from lstm_tui.core.control_file import CONTROL_FILE, ControlFilePoller, send
from lstm_tui.core.engine import Trainer
from lstm_tui.core.engine.control import RunControl
from lstm_tui.core.events import EpochEnd, Finished, KnobChanged
from lstm_tui.core.follow import RunFollower
from lstm_tui.core.fork import fork_run, read_fork
from lstm_tui.core.knobs import check_knobs
from lstm_tui.core.runs import RunDir
from lstm_tui.core.session import PreparedRun, prepare_resume

BASE = dict(
    device="cpu",
    impl="torch",
    hidden=16,
    batch_size=8,
    num_steps=10,
    max_tokens=1500,
    epochs=4,
    predict_every=0,
    checkpoint_every=1,
    predict_length=10,
    lr=1.0,
    seed=0,
)


def make_config(data_dir, **changes) -> RunConfig:
    return RunConfig.from_mapping({**BASE, "data_dir": str(data_dir), **changes})


def ppls(run: RunDir) -> list[float]:
    return [r["perplexity"] for r in run.read_metrics()]


KNOBS = dict(lr=0.5, clip=0.0, momentum=0.9, weight_decay=1e-3)


def test_a_knob_change_takes_effect_at_the_next_batch_and_is_recorded(shared_data_dir, tmp_path):
    config = make_config(shared_data_dir)
    events = []
    trainer: Trainer

    def hook(event):
        events.append(event)
        if isinstance(event, EpochEnd) and event.epoch == 1:
            trainer.set_knobs(**KNOBS)  # (on the training thread: applied before epoch 2's first batch)

    trainer = Trainer(config, on_event=hook, run_dir=tmp_path / "live")
    assert isinstance(trainer.run(), Finished)
    live = RunDir(tmp_path / "live")
    changed = [e for e in events if isinstance(e, KnobChanged)]
    assert [(e.name, e.value, e.previous, e.epoch, e.batch) for e in changed] == [
        ("lr", 0.5, 1.0, 2, 0),
        ("clip", 0.0, 1.0, 2, 0),
        ("momentum", 0.9, 0.0, 2, 0),
        ("weight_decay", 1e-3, 0.0, 2, 0),
    ]
    assert live.read_knobs() == [
        {"knob": e.name, "value": e.value, "previous": e.previous, "epoch": 2, "batch": 0} for e in changed
    ]
    assert [r["epoch"] for r in live.read_metrics()] == [1, 2, 3, 4]  # readers of epoch records see no knob lines
    saved = live.load_checkpoint().config
    assert (saved.lr, saved.clip, saved.momentum, saved.weight_decay) == (0.5, 0.0, 0.9, 1e-3)
    assert live.read_config().lr == 0.5
    # the same numbers as one epoch at the old settings, then a resume with the new ones
    first = Trainer(make_config(shared_data_dir, epochs=1), run_dir=tmp_path / "two")
    assert isinstance(first.run(), Finished)
    second = Trainer.resume_from(tmp_path / "two", epochs=4, **KNOBS)
    assert isinstance(second.run(), Finished)
    assert ppls(live) == ppls(RunDir(tmp_path / "two"))


def test_a_mid_epoch_knob_change_is_recorded_at_its_batch(shared_data_dir, tmp_path):
    config = make_config(shared_data_dir, epochs=2)
    trainer: Trainer
    from lstm_tui.core.events import BatchProgress

    def hook(event):
        if isinstance(event, BatchProgress) and event.epoch == 2 and event.batch == 3 and trainer.config.lr == 1.0:
            trainer.set_knobs(lr=2.0)

    trainer = Trainer(config, on_event=hook, run_dir=tmp_path / "r")
    trainer._progress_interval_s = 0.0  # a progress event after every batch
    trainer.run()
    assert RunDir(tmp_path / "r").read_knobs() == [
        {"knob": "lr", "value": 2.0, "previous": 1.0, "epoch": 2, "batch": 3}
    ]


def test_bad_knobs_are_refused_naming_the_field(shared_data_dir):
    trainer = Trainer(make_config(shared_data_dir))
    with pytest.raises(ConfigError) as caught:
        trainer.set_knobs(lr=-1)
    assert caught.value.field == "lr" and "from 1e-08 to 1,000" in caught.value.message
    with pytest.raises(ConfigError) as caught:
        trainer.set_knobs(hidden=8)
    assert caught.value.field == "hidden" and "not a live knob" in caught.value.message
    with pytest.raises(ConfigError, match="momentum"):
        trainer.set_knobs(momentum=1.5)
    assert not trainer._control.knobs_pending


def test_the_control_file_carries_set_to_the_trainer(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.toml").write_text('preset = "scratch"\n', encoding="utf-8")
    (folder / ".training.lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    with pytest.raises(ConfigError) as caught:
        send(folder, "set", clip=-2)
    assert caught.value.field == "clip"
    with pytest.raises(ValueError, match="takes no values"):
        send(folder, "pause", lr=1)
    send(folder, "set", {"lr": "0.25"}, clip=0)
    assert json.loads((folder / CONTROL_FILE).read_text())["requests"][-1]["values"] == {"lr": 0.25, "clip": 0.0}
    control = RunControl(check_knobs=lambda changes: check_knobs(RunConfig(), changes))
    (ack,) = ControlFilePoller(folder, control).poll()
    assert ack.applied and ack.detail == "setting at the next batch: lr=0.25, clip=0"
    assert control.take_knobs() == {"lr": 0.25, "clip": 0.0}


def test_set_to_a_run_that_is_not_running_is_refused(tmp_path):
    from lstm_tui.core.control_file import ControlRefused

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.toml").write_text('preset = "scratch"\n', encoding="utf-8")
    with pytest.raises(ControlRefused):
        send(folder, "set", lr=0.5)


def test_the_follower_splits_knob_records_from_epochs(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.append_metric({"epoch": 1, "perplexity": 9.0})
    run.append_metric({"knob": "lr", "value": 0.5, "previous": 1.0, "epoch": 2, "batch": 4})
    with RunFollower([run.path], force_polling=True) as follower:
        (update,) = follower.poll()
    assert [r["epoch"] for r in update.metrics] == [1] and update.knobs[0]["knob"] == "lr"


# ---------------------------------------------------------------------- fork
def test_a_fork_without_changes_continues_exactly_as_its_parent(shared_data_dir, tmp_path):
    reference = Trainer(make_config(shared_data_dir), run_dir=tmp_path / "runs" / "ref")
    assert isinstance(reference.run(), Finished)
    parent = Trainer(make_config(shared_data_dir, epochs=2), run_dir=tmp_path / "runs" / "parent")
    assert isinstance(parent.run(), Finished)
    fork = fork_run(tmp_path / "runs" / "parent", {"epochs": 4}, name="child")
    assert fork.path.parent == tmp_path / "runs" and fork.path.name.endswith("child")
    assert read_fork(fork) == {
        "parent": str((tmp_path / "runs" / "parent").resolve()),
        "parent_name": "parent",
        "epoch": 2,
        "batch": 0,
        "changes": {"epochs": 4},
    }
    assert ppls(fork) == ppls(RunDir(tmp_path / "runs" / "parent"))  # the parent's history up to the fork
    row = run_row(fork)
    assert (row.forked_from, row.forked_at, row.epochs_done) == ("parent", 2, 2)
    prepared = prepare_resume(fork, {})
    assert isinstance(prepared, PreparedRun), prepared
    assert isinstance(prepared.trainer.run(), Finished)
    assert ppls(fork) == ppls(RunDir(tmp_path / "runs" / "ref"))
    assert ppls(RunDir(tmp_path / "runs" / "parent")) == ppls(RunDir(tmp_path / "runs" / "ref"))[:2]  # untouched
    (curve,) = curves([fork])
    assert curve.xs == [1, 2, 3, 4]


def test_a_fork_refuses_shape_changes_naming_the_field(shared_data_dir, tmp_path):
    parent = Trainer(make_config(shared_data_dir, epochs=1), run_dir=tmp_path / "p")
    parent.run()
    with pytest.raises(ConfigError) as caught:
        fork_run(tmp_path / "p", {"hidden": 32})
    assert caught.value.field == "hidden"
    with pytest.raises(ConfigError) as caught:
        fork_run(tmp_path / "p", {"lr": 0})
    assert caught.value.field == "lr"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p"]  # nothing made


def test_a_fork_with_a_change_trains_with_it(shared_data_dir, tmp_path):
    parent = Trainer(make_config(shared_data_dir, epochs=2), run_dir=tmp_path / "p")
    parent.run()
    fork = fork_run(tmp_path / "p", {"epochs": 3, "lr": 0.5}, runs_dir=tmp_path / "forks")
    assert fork.path.parent == tmp_path / "forks"
    trainer = Trainer.resume_from(fork)
    assert isinstance(trainer.run(), Finished)
    assert fork.load_checkpoint().config.lr == 0.5 and len(ppls(fork)) == 3


def test_the_fork_command(shared_data_dir, tmp_path, capsys):
    from lstm_tui.cli import main

    Trainer(make_config(shared_data_dir, epochs=1), run_dir=tmp_path / "runs" / "p").run()
    parent = str(tmp_path / "runs" / "p")
    assert main(["fork", parent, "--hidden", "64"]) == 2
    assert "hidden" in capsys.readouterr().err
    assert main(["fork", parent, "--preset", "concise"]) == 2
    capsys.readouterr()
    assert main(["fork", parent, "--lr", "0.5", "--name", "kid"]) == 0
    assert "train it with: lstm-tui train --resume" in capsys.readouterr().out
    (kid,) = [p for p in (tmp_path / "runs").iterdir() if p.name.endswith("kid")]
    assert RunDir(kid).load_checkpoint().config.lr == 0.5 and read_fork(kid)["changes"] == {"lr": 0.5}
    assert main(["fork", parent, "--epochs", "2", "--name", "now", "--train"]) == 0
    (now,) = [p for p in (tmp_path / "runs").iterdir() if p.name.endswith("now")]
    assert [r["epoch"] for r in RunDir(now).read_metrics()] == [1, 2]


def test_a_knob_change_makes_a_graph_step_capture_again(shared_data_dir):
    import torch

    from lstm_tui.core.engine.graph_step import StaticStep
    from lstm_tui.core.engine.step import make_optimizer, make_step
    from lstm_tui.core.models import build_model

    config = make_config(shared_data_dir)
    trainer = Trainer(config)
    model = build_model(config, 10)
    trainer.optimizer = make_optimizer(config, model)
    step = StaticStep(
        make_step(config, model, trainer.optimizer, torch.device("cpu"), settings=trainer._step_settings),
        model,
        trainer.optimizer,
        torch.device("cpu"),
        capture=False,
    )
    trainer._step = step
    X = torch.randint(0, 10, (2, 3))
    step(X, X, model.begin_state(2))
    assert step._key is not None
    trainer.set_knobs(lr=0.25, clip=0)
    trainer._apply_knobs(1, 5)
    assert step._key is None  # captured again at the next call
    assert trainer._step_settings.clip == 0 and trainer.optimizer.param_groups[0]["lr"] == 0.25
