"""The runs directory: one folder per run."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import platformdirs
import pytest
import torch

from lstm_tui.core.config import RunConfig
from lstm_tui.core.runs import RunDir, RunError, RunInfo, default_runs_dir, list_runs, safe_name


def test_default_runs_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("LSTM_TUI_RUNS_DIR", str(tmp_path / "here"))
    assert default_runs_dir() == tmp_path / "here"
    monkeypatch.delenv("LSTM_TUI_RUNS_DIR")
    assert default_runs_dir() == Path(platformdirs.user_data_dir("lstm-tui")) / "runs"


def test_create_uses_env_root_and_round_trips_config():
    config = RunConfig().replace(
        preset="concise", impl="torch", lr=0.5, prefix=("time traveller", "the"), max_tokens=-1
    )
    run = RunDir.create(config=config)
    assert run.path.parent == default_runs_dir()
    assert re.fullmatch(r"\d{8}-\d{6}-concise", run.name)
    assert run.config_path.is_file()
    assert run.read_config() == config
    assert not run.has_checkpoint() and run.read_summary() is None
    assert run.read_metrics() == [] and run.read_samples() == []
    # no temp files left by the atomic write
    assert sorted(os.listdir(run.path)) == ["config.toml"]


def test_names_are_unique_and_safe(tmp_path):
    config = RunConfig()
    runs = [RunDir.create(tmp_path, config, name="my run") for _ in range(3)]
    assert len({r.path for r in runs}) == 3
    assert all(r.path.parent == tmp_path for r in runs)
    stems = {re.sub(r"^\d{8}-\d{6}-", "", r.name) for r in runs}
    assert "my-run" in stems
    odd = RunDir.create(tmp_path, config, name="../../évil/name:*?")
    assert odd.path.parent == tmp_path
    assert re.fullmatch(r"\d{8}-\d{6}-evil-name", odd.name)
    assert safe_name("") == "run" and safe_name("...") == "run" and safe_name("a" * 200) == "a" * 60


def test_open_by_name_and_path(tmp_path):
    run = RunDir.create(tmp_path, RunConfig(preset="deep"))
    assert RunDir.open(run.name, root=tmp_path) == run
    assert RunDir.open(run.path) == run
    assert RunDir.open(str(run.path)).read_config().preset == "deep"
    with pytest.raises(RunError, match="no run named 'nope'"):
        RunDir.open("nope", root=tmp_path)
    with pytest.raises(RunError, match="no run folder at"):
        RunDir.open(tmp_path / "missing")
    (tmp_path / "plain").mkdir()
    with pytest.raises(RunError, match="not a run folder"):
        RunDir.open("plain", root=tmp_path)


def test_bad_config_file_is_a_run_error(tmp_path):
    run = RunDir.create(tmp_path, RunConfig())
    run.config_path.write_text("hidden = 0\n")
    with pytest.raises(RunError, match="hidden"):
        run.read_config()
    run.config_path.write_text("this is [not toml")
    with pytest.raises(RunError, match="cannot read"):
        run.read_config()


def test_metrics_survive_a_torn_last_line(tmp_path):
    run = RunDir.create(tmp_path, RunConfig())
    run.append_metric({"epoch": 1, "perplexity": 17.5})
    run.append_metric({"epoch": 2, "perplexity": float("inf"), "note": "ünïcode"})
    with open(run.metrics_path, "ab") as out:  # a crash in the middle of a line
        out.write(b'{"epoch": 3, "perplex')
    metrics = run.read_metrics()
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert metrics[1]["perplexity"] == float("inf") and metrics[1]["note"] == "ünïcode"
    run.append_metric({"epoch": 3, "perplexity": 9.0})  # the torn line does not swallow this one
    assert [m["epoch"] for m in run.read_metrics()] == [1, 2, 3]
    lines = run.metrics_path.read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[-1])["epoch"] == 3


def test_samples_and_scalar_values(tmp_path):
    run = RunDir.create(tmp_path, RunConfig())
    run.append_sample({"epoch": 1, "prefix": "time traveller", "text": "time traveller the"})
    run.append_sample({"epoch": 2, "perplexity": torch.tensor(2.5)})
    assert run.read_samples() == [
        {"epoch": 1, "prefix": "time traveller", "text": "time traveller the"},
        {"epoch": 2, "perplexity": 2.5},
    ]
    with pytest.raises(TypeError):
        run.append_sample(["not", "a", "dict"])


def test_summary(tmp_path):
    run = RunDir.create(tmp_path, RunConfig())
    run.write_summary({"status": "running"})
    assert run.read_summary() == {"status": "running"}
    run.write_summary({"status": "finished", "perplexity": 1.1, "device": "cpu", "wall_s": 3.5})
    assert run.read_summary()["status"] == "finished"
    with pytest.raises(ValueError, match="status"):
        run.write_summary({"status": "exploded"})
    run.summary_path.write_text("{broken")
    assert run.read_summary() is None


def test_checkpoint_through_the_run(tmp_path):
    from lstm_tui.core.data import Vocab
    from lstm_tui.core.models import build_model

    config = RunConfig(hidden=8)
    vocab = Vocab(list("abc "))
    model = build_model(config, len(vocab))
    run = RunDir.create(tmp_path, config)
    assert not run.has_checkpoint()
    path = run.save_checkpoint(
        {"config": config.to_dict(), "vocab": vocab.to_list(), "model": model.state_dict(), "epoch": 2}
    )
    assert path == run.checkpoint_path and run.has_checkpoint()
    ckpt = run.load_checkpoint()
    assert ckpt.epoch == 2 and ckpt.config == config


def test_list_runs_newest_first(tmp_path):
    assert list_runs(tmp_path / "nothing-here") == []
    config = RunConfig()
    for stamp, preset in [("20240101-120000", "scratch"), ("20250101-120000", "deep"), ("20230101-120000", "book")]:
        folder = tmp_path / f"{stamp}-{preset}"
        folder.mkdir()
        RunDir(folder).write_config(config.replace(preset=preset))
    RunDir(tmp_path / "20250101-120000-deep").write_summary({"status": "stopped"})
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "stray.txt").write_text("hi")
    fresh = RunDir.create(tmp_path, config.replace(preset="concise"))
    again = RunDir.create(tmp_path, config.replace(preset="concise"))

    runs = list_runs(tmp_path)
    assert all(isinstance(r, RunInfo) for r in runs)
    names = [r.name for r in runs]
    assert names[:2] == [again.name, fresh.name]
    assert names[2:] == ["20250101-120000-deep", "20240101-120000-scratch", "20230101-120000-book"]
    deep = runs[2]
    assert deep.preset == "deep" and deep.status == "stopped" and deep.summary == {"status": "stopped"}
    assert runs[3].summary is None and runs[3].status == "unknown" and not runs[3].has_checkpoint
    assert runs[3].created.year == 2024
    assert list_runs() == []  # the default root (from the env) is untouched


def _dead_pid() -> int:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_running_run_whose_trainer_is_gone_lists_as_interrupted(tmp_path):
    import socket

    from lstm_tui.core.compare import delete_run
    from lstm_tui.core.runs import LOCK_FILE

    here = socket.gethostname()
    cases = {  # the lock the trainer left (None: none) -> the status the run lists with
        "gone": ({"pid": _dead_pid(), "host": here}, "interrupted"),  # killed: its lock names a dead pid
        "alive": ({"pid": os.getpid(), "host": here}, "running"),
        "elsewhere": ({"pid": _dead_pid(), "host": here + "-other"}, "running"),  # cannot tell from here
        "nolock": (None, "interrupted"),  # no trainer holds it
        "torn": ('{"pid": 1', "interrupted"),
    }
    for name, (lock, _) in cases.items():
        run = RunDir.create(tmp_path, RunConfig(), name=name)
        run.write_summary({"status": "running"})
        if lock is not None:
            (run.path / LOCK_FILE).write_text(lock if isinstance(lock, str) else json.dumps(lock))
    status = {info.name.split("-")[-1]: info.status for info in list_runs(tmp_path)}
    assert status == {name: expected for name, (_, expected) in cases.items()}
    # an interrupted run is not training: it can be deleted without forcing; a live one cannot
    gone = next(i for i in list_runs(tmp_path) if i.name.endswith("gone"))
    delete_run(tmp_path, gone.path)
    alive = next(i for i in list_runs(tmp_path) if i.name.endswith("alive"))
    with pytest.raises(RunError, match="it is training"):
        delete_run(tmp_path, alive.path)


def test_a_training_run_lists_as_running_and_its_lock_goes_with_the_trainer(small_corpus, tmp_path):
    import socket

    from lstm_tui.core.engine import Trainer
    from lstm_tui.core.events import Started
    from lstm_tui.core.runs import LOCK_FILE

    config = RunConfig(corpus=str(small_corpus), device="cpu", hidden=8, epochs=1, max_tokens=2000, predict_every=0)
    run = RunDir.create(tmp_path, config)
    seen = {}

    def on_event(event):
        if isinstance(event, Started):
            seen["status"] = list_runs(tmp_path)[0].status
            seen["lock"] = json.loads((run.path / LOCK_FILE).read_text())

    Trainer(config, on_event=on_event, run_dir=run).run()
    assert seen["status"] == "running"
    assert seen["lock"] == {"pid": os.getpid(), "host": socket.gethostname()}
    assert not (run.path / LOCK_FILE).exists() and list_runs(tmp_path)[0].status == "finished"


# ---------------------------------------------------------------------- status and summary
def test_run_status_is_a_str_enum_and_old_summaries_read(tmp_path):
    from lstm_tui.core.config import RunConfig
    from lstm_tui.core.runs import RunStatus, Summary, run_status

    run = RunDir.create(tmp_path, RunConfig())
    old = {
        "status": "finished",
        "epoch": 6,
        "perplexity": 3.5,
        "device": "cpu",
        "stopped": False,
        "checkpoint_saved": True,
        "event": "finished",
        "pid": 12,
    }  # written by an older version
    run.write_summary(old)
    summary = run.summary()
    assert summary.status is RunStatus.FINISHED and summary.status == "finished" and summary.epoch == 6
    assert summary.checkpoint_epoch is None and summary.extra == {"event": "finished", "pid": 12}
    assert Summary.from_dict(summary.to_dict()) == summary
    assert run_status(run.path, old) is RunStatus.FINISHED and list_runs(tmp_path)[0].status == "finished"
    assert run_status(run.path, {"status": "exploded"}) is RunStatus.UNKNOWN
    assert Summary.from_dict({"status": "running", "epoch": "six"}).epoch is None  # a wrong type reads as None


def test_an_ended_run_with_an_older_checkpoint_gets_a_note_in_its_row(tmp_path):
    from lstm_tui.core.compare import run_row
    from lstm_tui.core.config import RunConfig
    from lstm_tui.core.runs import RunStatus, Summary

    run = RunDir.create(tmp_path, RunConfig(epochs=6))
    run.write_summary(Summary(status=RunStatus.FINISHED, epoch=6, epochs=6, checkpoint_saved=False, checkpoint_epoch=1))
    assert run_row(run).checkpoint_note == "checkpoint holds epoch 1 of 6"
    run.write_summary(Summary(status=RunStatus.FINISHED, epoch=6, epochs=6, checkpoint_saved=True, checkpoint_epoch=6))
    assert run_row(run).checkpoint_note is None
    run.write_summary(Summary(status=RunStatus.STOPPED, epoch=2, epochs=6, checkpoint_saved=False))
    assert run_row(run).checkpoint_note == "no checkpoint saved"
