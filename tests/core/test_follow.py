"""RunFollower: run folders followed as other threads and processes write them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lstm_tui.core import follow as follow_module
from lstm_tui.core import mounts
from lstm_tui.core.atomic import append_line, atomic_write_text
from lstm_tui.core.follow import RunFollower, RunUpdate, network_file_system

REPO = Path(__file__).resolve().parents[2]
BACKENDS = [pytest.param(True, id="polling"), pytest.param(False, id="watchfiles")]


def make_run(
    root: Path, name: str = "20261203-120000-scratch", status: str | None = "running", epochs: int = 0
) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('preset = "scratch"\n', encoding="utf-8")
    for epoch in range(1, epochs + 1):
        add_epoch(folder, epoch)
    if status is not None:
        write_summary(folder, status)
    return folder


def add_epoch(folder: Path, epoch: int) -> None:
    append_line(
        folder / "metrics.jsonl",
        json.dumps(
            {
                "epoch": epoch,
                "perplexity": 20.0 / epoch,
                "val_perplexity": None,
                "tokens_per_s": 1e4,
                "elapsed_s": 0.1 * epoch,
            }
        ),
    )


def write_summary(folder: Path, status: str, **fields: object) -> None:
    atomic_write_text(folder / "summary.json", json.dumps({"status": status, **fields}))


def hold_lock(folder: Path, pid: int | None = None) -> None:
    """What a live trainer leaves in its folder: a lock naming its process (see the run lock)."""
    (folder / ".training.lock").write_text(json.dumps({"pid": pid or os.getpid(), "host": socket.gethostname()}))


def by_run(updates: list[RunUpdate]) -> dict[str, RunUpdate]:
    return {update.name: update for update in updates}


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    """A run folder whose lock this process holds (a live trainer)."""
    folder = make_run(tmp_path, epochs=2)
    hold_lock(folder)
    return folder


def test_the_first_update_is_the_whole_run_then_only_what_is_new(lock: Path) -> None:
    folder = lock
    append_line(folder / "samples.jsonl", json.dumps({"epoch": 2, "prefix": "time", "text": "time a"}))
    with RunFollower([folder], force_polling=True) as follower:
        (first,) = follower.poll()
        assert first.reset is True and first.status == "running"
        assert [m["epoch"] for m in first.metrics] == [1, 2] and first.samples[0]["text"] == "time a"
        assert first.summary == {"status": "running"}
        assert follower.poll() == []
        add_epoch(folder, 3)
        (update,) = follower.poll()
        assert update.reset is False and update.latest is not None and update.latest["epoch"] == 3
        assert update.metrics == (update.latest,) and update.samples == ()
        assert update.status is None and update.summary is None  # unchanged


def test_a_finished_run_reports_its_summary_and_status_once(lock: Path) -> None:
    folder = lock
    with RunFollower([folder], force_polling=True) as follower:
        follower.poll()
        write_summary(folder, "finished", perplexity=1.5)
        (folder / ".training.lock").unlink()
        (update,) = follower.poll()
        assert update.status == "finished" and update.summary == {"status": "finished", "perplexity": 1.5}
        assert follower.poll() == []


def test_a_torn_metrics_line_is_not_shown_until_complete(lock: Path) -> None:
    folder = lock
    with RunFollower([folder], force_polling=True) as follower:
        follower.poll()
        line = json.dumps({"epoch": 3, "perplexity": 4.0}) + "\n"
        with open(folder / "metrics.jsonl", "a", encoding="utf-8") as out:
            out.write(line[:10])
        assert follower.poll() == []
        with open(folder / "metrics.jsonl", "a", encoding="utf-8") as out:
            out.write(line[10:])
        (update,) = follower.poll()
        assert update.metrics == ({"epoch": 3, "perplexity": 4.0},)


def test_rewritten_files_reset_the_run(lock: Path) -> None:
    folder = lock
    append_line(folder / "samples.jsonl", json.dumps({"epoch": 1, "text": "a"}))
    with RunFollower([folder], force_polling=True) as follower:
        follower.poll()
        add_epoch(folder, 3)
        # a resume from epoch 2's checkpoint trims epoch 3 (atomically: a new file)
        lines = (folder / "metrics.jsonl").read_text().splitlines(keepends=True)
        atomic_write_text(folder / "metrics.jsonl", "".join(lines[:2]))
        (update,) = follower.poll()
        assert update.reset is True
        assert [m["epoch"] for m in update.metrics] == [1, 2]
        assert [s["text"] for s in update.samples] == ["a"]  # both files start over together


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_run_whose_trainer_died_is_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(follow_module, "LIVENESS_S", 0.1)
    folder = make_run(tmp_path, epochs=1)
    trainer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    hold_lock(folder, trainer.pid)
    try:
        with RunFollower([folder], force_polling=True) as follower:
            assert follower.poll()[0].status == "running"
            trainer.kill()  # kill -9: no file changes
            trainer.wait()
            assert follower.wait(5.0) is True  # the lock is due for another look
            (update,) = follower.poll()
            assert update.status == "interrupted"
    finally:
        trainer.kill()


def test_no_summary_yet_is_running_while_locked_else_unknown(tmp_path: Path) -> None:
    started = make_run(tmp_path, "a", status=None)
    hold_lock(started)
    bare = make_run(tmp_path, "b", status=None)
    with RunFollower([started, bare], force_polling=True) as follower:
        statuses = {name: update.status for name, update in by_run(follower.poll()).items()}
    assert statuses == {"a": "running", "b": "unknown"}


@pytest.mark.parametrize("force_polling", BACKENDS)
def test_wait_wakes_on_a_new_epoch_and_times_out_when_nothing_happens(lock: Path, force_polling: bool) -> None:
    folder = lock
    with RunFollower([folder], force_polling=force_polling, poll_interval=0.1) as follower:
        assert follower.backend == ("polling" if force_polling else "watchfiles")
        follower.poll()
        start = time.monotonic()
        assert follower.wait(0.4) is False
        assert time.monotonic() - start >= 0.35
        writer = threading.Timer(0.3, add_epoch, (folder, 3))
        writer.start()
        start = time.monotonic()
        assert follower.wait(10.0) is True
        waited = time.monotonic() - start
        writer.join()
        assert 0.2 < waited < 2.0
        (update,) = follower.poll()
        assert [m["epoch"] for m in update.metrics] == [3]


def test_busy_runs_are_statted_with_the_watcher_stopped_and_quiet_ones_watched(lock: Path) -> None:
    """A poll with news (busy runs) stops the change watcher: the next wait stats the files
    (and still wakes on a new epoch); a poll with none starts it again, and it wakes the wait."""
    folder = lock
    with RunFollower([folder], force_polling=False, poll_interval=2.0) as follower:
        assert follower.watching and follower.backend == "watchfiles"
        assert follower.poll()  # (the first update: news)
        assert follower.wait(0.2) is False and not follower.watching
        add_epoch(folder, 3)  # (while the caller was away: seen at once, not a poll_interval later)
        start = time.monotonic()
        assert follower.wait(5.0) is True and time.monotonic() - start < 1.0  # (a stat saw it)
        assert not follower.watching and [m["epoch"] for m in follower.poll()[0].metrics] == [3]
        assert follower.poll() == []  # quiet: watched again from the next wait
        writer = threading.Timer(0.4, add_epoch, (folder, 4))
        writer.start()
        assert follower.wait(5.0) is True
        assert follower.watching and follower.backend == "watchfiles"
        writer.join()
        assert [m["epoch"] for m in follower.poll()[0].metrics] == [4]
    assert not follower.watching


def test_a_change_while_the_watcher_starts_is_not_lost(lock: Path) -> None:
    folder = lock
    with RunFollower([folder], force_polling=False) as follower:
        assert follower.poll() and follower.wait(0.1) is False and not follower.watching  # (busy)
        assert follower.poll() == []  # quiet: the next wait starts the watcher
        add_epoch(folder, 3)  # (before it starts: no event of its own says so)
        start = time.monotonic()
        assert follower.wait(5.0) is True and time.monotonic() - start < 0.5
        assert [m["epoch"] for m in follower.poll()[0].metrics] == [3]


def test_runs_can_be_added_and_removed_while_followed(lock: Path, tmp_path: Path) -> None:
    other = make_run(tmp_path, "other", status="finished", epochs=3)
    with RunFollower([lock]) as follower:
        follower.poll()
        follower.add(other)
        assert follower.wait(1.0) is True  # the new run has a first update to give
        (update,) = follower.poll()
        assert update.run == other and update.reset and update.status == "finished" and len(update.metrics) == 3
        follower.remove(lock)
        add_epoch(lock, 3)
        assert follower.poll() == [] and follower.paths == [other]


def test_network_file_systems_are_polled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = str(tmp_path / "shared")
    monkeypatch.setattr(mounts, "_mounts", lambda: [("/", "ext4"), (shared, "nfs4")])
    assert network_file_system(tmp_path / "shared" / "runs" / "a") is True
    assert network_file_system(tmp_path / "sharedother") is False
    run = make_run(tmp_path / "shared" / "runs")
    with RunFollower([run]) as follower:
        assert follower.backend == "polling"
    with RunFollower([run], force_polling=False) as follower:  # the caller knows better
        assert follower.backend == "watchfiles"


def test_poll_interval_is_checked() -> None:
    with pytest.raises(ValueError, match="poll_interval"):
        RunFollower([], poll_interval=0)


def test_a_real_training_subprocess_is_followed_live(tmp_path: Path, shared_data_dir: Path) -> None:
    runs = tmp_path / "runs"
    command = [
        sys.executable,
        "-m",
        "lstm_tui",
        "train",
        "--preset",
        "scratch",
        "--hidden",
        "16",
        "--epochs",
        "50",
        "--max-tokens",
        "2000",
        "--batch-size",
        "8",
        "--num-steps",
        "10",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--predict-every",
        "10",
        "--data-dir",
        str(shared_data_dir),
        "--runs-dir",
        str(runs),
        "--name",
        "followed",
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not list(runs.glob("*followed*/config.toml")):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        folder = next(runs.glob("*followed*"))
        epochs: list[int] = []
        samples, statuses, live_gains = 0, [], 0
        with RunFollower([folder]) as follower:
            while time.monotonic() < deadline:
                follower.wait(1.0)
                alive = proc.poll() is None
                for update in follower.poll():
                    if update.reset:
                        epochs.clear()
                    epochs += [m["epoch"] for m in update.metrics]
                    samples += len(update.samples)
                    statuses += [update.status] if update.status else []
                    live_gains += bool(update.metrics) and alive
                if not alive and statuses and statuses[-1] == "finished":
                    break
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
    assert epochs == list(range(1, 51))
    assert live_gains >= 2  # records arrived over several polls while the trainer was still training
    assert samples >= 5 and statuses[-1] == "finished" and "running" in statuses
