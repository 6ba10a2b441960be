"""core/session.py: one run preparation (new runs and resumes) with refusals naming the field."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from lstm_tui.core.config import RunConfig
from lstm_tui.core.events import Failed, Finished
from lstm_tui.core.runs import LOCK_FILE, RunDir, RunStatus, list_runs
from lstm_tui.core.session import PreparedRun, Refusal, prepare_resume, prepare_run

BASE = dict(
    device="cpu",
    impl="torch",
    hidden=16,
    batch_size=8,
    num_steps=10,
    max_tokens=2000,
    epochs=2,
    predict_every=0,
    checkpoint_every=1,
    predict_length=10,
    lr=1.0,
    seed=0,
)


def make_config(data_dir, **changes) -> RunConfig:
    return RunConfig.from_mapping({**BASE, "data_dir": str(data_dir), **changes})


def trained_run(data_dir, root, **changes) -> RunDir:
    prepared = prepare_run(make_config(data_dir, **changes), root)
    assert isinstance(prepared, PreparedRun) and prepared.run is not None
    assert isinstance(prepared.trainer.run(), Finished)
    return prepared.run


def files_of(run: RunDir) -> dict:
    return {p.name: p.read_bytes() for p in run.path.iterdir() if p.is_file()}


def test_prepare_run_makes_the_folder_with_absolute_paths_and_a_ready_trainer(shared_data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(shared_data_dir.parent)
    config = make_config(shared_data_dir).replace(data_dir=shared_data_dir.name)  # relative
    prepared = prepare_run(config, tmp_path)
    assert isinstance(prepared, PreparedRun) and prepared.run is not None and not prepared.resumed
    assert prepared.config.data_dir == str(shared_data_dir.resolve())
    assert prepared.run.read_config().data_dir == str(shared_data_dir.resolve())  # resumable from anywhere
    assert prepared.data.vocab is not None and prepared.trainer.data is prepared.data
    assert isinstance(prepared.trainer.run(), Finished)


@pytest.mark.parametrize(
    "changes, field",
    [
        (dict(prefix=("Time!",)), "prefix"),
        (dict(prefix=("Time!",), impl="torch", bidirectional=True), "prefix"),  # it writes samples too
        (dict(batch_size=512, num_steps=500), "corpus"),
        (dict(corpus="/no/such/book.txt"), "corpus"),
    ],
)
def test_prepare_run_refuses_naming_the_field_and_makes_no_folder(shared_data_dir, tmp_path, changes, field):
    refusal = prepare_run(make_config(shared_data_dir, **changes), tmp_path / "runs")
    assert isinstance(refusal, Refusal) and refusal.field == field and refusal.reason
    assert not (tmp_path / "runs").exists()


def test_the_device_is_checked_on_another_thread_while_the_corpus_loads(shared_data_dir, tmp_path, monkeypatch):
    """The check imports torch (~1.3 s): the corpus is read and encoded meanwhile; a device
    refusal still wins over the corpus's, as if the device had been checked first."""
    import threading

    from lstm_tui.core import session

    threads, checked = [], session._check_device
    monkeypatch.setattr(
        session, "_check_device", lambda config: threads.append(threading.current_thread()) or checked(config)
    )
    assert isinstance(prepare_run(make_config(shared_data_dir), tmp_path / "runs"), PreparedRun)
    assert threads and threads[0] is not threading.main_thread()
    monkeypatch.setattr(session, "_check_device", lambda config: Refusal("device", "cuda:7 is not available"))
    refusal = prepare_run(make_config(shared_data_dir, corpus="/no/such/book.txt"), tmp_path / "other")
    assert isinstance(refusal, Refusal) and refusal.field == "device" and "cuda:7" in refusal.reason
    assert not (tmp_path / "other").exists()


def test_a_load_imports_no_torch_until_it_makes_the_tensor(shared_data_dir) -> None:
    """What lets the load run while torch imports: the session and the corpus's reading and
    encoding import no torch (a fresh process)."""
    code = (
        "import sys\n"
        "import lstm_tui.core.session, lstm_tui.cli.train, lstm_tui.cli.printer\n"
        "from lstm_tui.core.data.sources import ReadOptions, read_source\n"
        "from lstm_tui.core.data.encode import encode\n"
        f"source = read_source('', {str(shared_data_dir)!r}, ReadOptions())\n"
        "encode(source.data, 'char', False)\n"
        "sys.stdout.write(str('torch' in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout == "False", result.stderr


def test_a_corpus_too_short_for_one_batch_is_the_dataset_rule(shared_data_dir, tmp_path):
    refusal = prepare_run(make_config(shared_data_dir, batch_size=512, num_steps=500), tmp_path)
    assert isinstance(refusal, Refusal) and "too few for one batch" in refusal.reason


def test_prepare_resume_reads_the_checkpoint_config_first_then_checks(shared_data_dir, tmp_path):
    run = trained_run(shared_data_dir, tmp_path)
    before = files_of(run)
    refusal = prepare_resume(run, {})
    assert isinstance(refusal, Refusal) and refusal.field == "epochs" and "finished its 2 epochs" in refusal.reason
    refusal = prepare_resume(run, {"epochs": 2})
    assert isinstance(refusal, Refusal) and refusal.field == "epochs" and "not more than the 2 epochs" in refusal.reason
    refusal = prepare_resume(run.path, {"hidden": 64})
    assert isinstance(refusal, Refusal) and refusal.field == "hidden"
    refusal = prepare_resume(run.name, {"epochs": 3, "lr": -1}, runs_dir=tmp_path)
    assert isinstance(refusal, Refusal) and refusal.field == "lr"
    assert isinstance(prepare_resume("nope", {}, runs_dir=tmp_path), Refusal)
    assert files_of(run) == before  # refusals write nothing

    prepared = prepare_resume(run, {"epochs": 3})
    assert isinstance(prepared, PreparedRun) and prepared.resumed and prepared.start_epoch == 2
    assert [row["epoch"] for row in prepared.history] == [1, 2] and prepared.config.epochs == 3
    assert files_of(run) == before  # nothing written before the trainer runs
    result = prepared.trainer.run()
    assert isinstance(result, Finished) and result.epoch == 3
    assert [m["epoch"] for m in run.read_metrics()] == [1, 2, 3]


def test_a_resume_of_a_run_another_process_trains_is_a_refusal_not_a_failed_run(shared_data_dir, tmp_path):
    run = trained_run(shared_data_dir, tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run.path / LOCK_FILE).write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        before = files_of(run)
        events = []
        refusal = prepare_resume(run, {"epochs": 3}, on_event=events.append)
        assert isinstance(refusal, Refusal) and refusal.field is None
        assert f"process {holder.pid}" in refusal.reason and "being trained" in refusal.reason
        assert not any(isinstance(e, Failed) for e in events) and files_of(run) == before
    finally:
        holder.kill()
        holder.wait()
    assert isinstance(prepare_resume(run, {"epochs": 3}), PreparedRun)  # the lock's process is gone


def test_a_full_disk_at_start_leaves_no_empty_run_folder(shared_data_dir, tmp_path, monkeypatch):
    import errno

    from lstm_tui.core.runs import folder as folder_module

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(folder_module, "atomic_write_text", full)
    prepared = prepare_run(make_config(shared_data_dir), tmp_path)
    assert isinstance(prepared, PreparedRun) and prepared.run is None and "No space left" in prepared.run_error
    assert list(tmp_path.iterdir()) == [] and list_runs(tmp_path) == []


def test_a_resume_mends_a_metrics_line_torn_by_a_kill_and_removes_stale_temp_files(shared_data_dir, tmp_path):
    run = trained_run(shared_data_dir, tmp_path, epochs=3)
    lines = run.metrics_path.read_bytes().split(b"\n")
    lines[1] = lines[1][:15]  # epoch 2's line torn by a kill
    run.metrics_path.write_bytes(b"\n".join(lines))
    stale = run.path / ".checkpoint.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    assert [m["epoch"] for m in run.read_metrics()] == [1, 3]  # a reader skips the torn line
    prepared = prepare_resume(run, {"epochs": 4})
    assert isinstance(prepared, PreparedRun) and isinstance(prepared.trainer.run(), Finished)
    assert [m["epoch"] for m in run.read_metrics()] == [1, 2, 3, 4]  # every epoch once, in order
    assert not stale.exists()
    summary = run.summary()
    assert summary.status is RunStatus.FINISHED and summary.checkpoint_epoch == 4 and summary.epoch == 4
