"""What following live runs costs: 8 real trainers, one RunFollower, CPU share and delay.

Starts ``--runs`` real ``python -m lstm_tui train`` processes (tiny configs, ``--threads 1``)
into one runs folder, waits until each has started training, then follows them all with a
:class:`~lstm_tui.core.follow.RunFollower` on a thread of this process for ``--seconds``, the
way the app would (``wait(1.0)`` then ``poll()``). It reports:

* the follower's CPU as % of one core: the following thread's ``time.thread_time`` and the
  whole process's ``time.process_time`` (which also holds the watcher's own native thread)
  over the wall time, less what the bench's own delay measurement cost;
* the delay from each new metrics line's write to its arrival from ``poll()``: the write
  time is the metrics file's mtime, taken only where the file did not change during the poll
  (then its last line was the last write), median and max.

The trainers load the machine's cores; the follower's share is what counts.

    python bench/follow_cost.py                  # 8 runs, 30 s, watchfiles where it works
    python bench/follow_cost.py --polling        # the stat-polling fallback (network file systems)
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import common  # noqa: F401  (puts the repository on sys.path)
from common import DEFAULT_DATA_DIR, DEFAULT_OUT, REPO, cpu_model, now_iso, write_results
from lstm_tui.core.follow import RunFollower


def start_trainers(count: int, runs: Path, data_dir: Path) -> list[subprocess.Popen]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    procs = []
    for index in range(count):
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
            "1000000",
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
            "--seed",
            str(index),
            "--data-dir",
            str(data_dir),
            "--runs-dir",
            str(runs),
            "--name",
            f"follow-{index}",
            "--quiet",
        ]
        procs.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def wait_started(runs: Path, count: int, procs: list[subprocess.Popen], timeout: float = 300.0) -> list[Path]:
    """The run folders, once each has a metrics line (its trainer got past its imports)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        folders = sorted(runs.glob("*follow-*"))
        if len(folders) == count and all((f / "metrics.jsonl").is_file() for f in folders):
            return folders
        if any(proc.poll() is not None for proc in procs):
            raise SystemExit("a trainer exited before it started training")
        time.sleep(0.2)
    raise SystemExit("the trainers did not start in time")


def stop_trainers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # stop at the next batch, with a checkpoint
    deadline = time.monotonic() + 60
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Measured:
    """The following thread: wait, poll, and note when each new epoch arrived."""

    def __init__(self, follower: RunFollower, seconds: float) -> None:
        self.follower, self.seconds = follower, seconds
        self.delays: list[float] = []
        self.epochs = 0
        self.polls = 0
        self.thread_cpu = self.overhead_cpu = self.process_cpu = self.wall = 0.0

    def _stats(self) -> dict[Path, tuple[int, float]]:
        begin = time.thread_time()
        stats = {}
        for path in self.follower.paths:
            info = os.stat(path / "metrics.jsonl")
            stats[path] = (info.st_size, info.st_mtime_ns / 1e9)
        self.overhead_cpu += time.thread_time() - begin
        return stats

    def run(self) -> None:
        self.follower.poll()  # the runs' history so far: not part of the measurement
        wall0, cpu0, proc0 = time.monotonic(), time.thread_time(), time.process_time()
        while time.monotonic() - wall0 < self.seconds:
            self.follower.wait(1.0)
            before = self._stats()
            updates = self.follower.poll()
            arrived = time.time()
            self.polls += 1
            if any(update.metrics for update in updates):
                after = self._stats()
                for update in updates:
                    self.epochs += len(update.metrics)
                    if update.metrics and not update.reset and before[update.run] == after[update.run]:
                        self.delays.append(arrived - before[update.run][1])
        self.wall = time.monotonic() - wall0
        self.thread_cpu = time.thread_time() - cpu0
        self.process_cpu = time.process_time() - proc0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--polling", action="store_true", help="force the stat-polling fallback")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores; load average {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="follow-cost-") as tmp:
        runs = Path(tmp) / "runs"
        procs = start_trainers(args.runs, runs, args.data_dir)
        try:
            folders = wait_started(runs, args.runs, procs)
            with RunFollower(folders, force_polling=True if args.polling else None) as follower:
                measured = Measured(follower, args.seconds)
                thread = threading.Thread(target=measured.run, name="follower")
                thread.start()
                thread.join()
                backend = follower.backend
        finally:
            stop_trainers(procs)
    report(args, backend, measured)


def report(args: argparse.Namespace, backend: str, m: Measured) -> None:
    thread_pct = 100 * (m.thread_cpu - m.overhead_cpu) / m.wall
    process_pct = 100 * (m.process_cpu - m.overhead_cpu) / m.wall
    delays = sorted(m.delays)
    median = statistics.median(delays) if delays else float("nan")
    worst = delays[-1] if delays else float("nan")
    within = sum(d <= 1.0 for d in delays) / len(delays) if delays else float("nan")
    lines = [
        f"# Following {args.runs} live runs ({backend})",
        "",
        f"{m.wall:.1f} s followed: {m.epochs} new epochs in {m.polls} polls; load average {os.getloadavg()}",
        "",
        "| measure | value |",
        "|---|---|",
        f"| follower thread CPU, % of one core | {thread_pct:.2f} |",
        f"| whole process CPU, % of one core | {process_pct:.2f} |",
        f"| delay write -> poll, median (s) | {median:.3f} |",
        f"| delay write -> poll, max (s) | {worst:.3f} |",
        f"| epochs within 1 s | {100 * within:.1f}% of {len(delays)} measured |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    payload = {
        "started": now_iso(),
        "backend": backend,
        "runs": args.runs,
        "wall_s": m.wall,
        "epochs": m.epochs,
        "polls": m.polls,
        "thread_cpu_pct": thread_pct,
        "process_cpu_pct": process_pct,
        "delay_median_s": median,
        "delay_max_s": worst,
        "delays_measured": len(delays),
        "within_1s": within,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
    }
    write_results(args.out, f"follow-cost-{backend}", payload, text)


if __name__ == "__main__":
    main()
