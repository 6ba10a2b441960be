"""What following 8 live runs costs the app: CPU of the app process and delay to the chart.

Starts ``--runs`` real ``python -m lstm_tui train`` processes (tiny, ``--threads 1``; the helpers
of ``follow_cost.py``), waits until each has trained an epoch, then runs the app headless
(``App.run_test`` in this script) following all of them for ``--seconds``. It reports:

* the app process's CPU as % of one core: ``time.process_time`` over the wall time (every
  thread of the process: the app's, the follow worker, the change watcher), less what the
  measuring itself cost (timed around each of its checks); then, as a reference measured in the
  same run with the same trainers going, the same app following no run (its own idle cost:
  timers, the screen's compositor), and the difference;
* the delay from each new metrics line's write to its point in the chart's data, and to the
  chart's redraw that drew it (the chart's ``redraw`` is wrapped: what is in its data then is
  drawn), median and max. A line's write time is when an observer thread of this script first
  saw it (it stats each metrics file every OBSERVE_S; its own CPU time is left out).

    python bench/follow_app.py                  # 8 runs, 30 s
    python bench/follow_app.py --profile /tmp/follow.prof   # and a cProfile of the app thread
    python bench/follow_app.py --breakdown      # and CPU-time counters around the app's parts
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import common  # noqa: F401  (puts the repository on sys.path)
from breakdown import Breakdown
from common import DEFAULT_DATA_DIR, DEFAULT_OUT, cpu_model, now_iso, write_results
from follow_cost import start_trainers, stop_trainers, wait_started

CHECK_S = 0.05
OBSERVE_S = 0.01
#: Seconds from the followed runs' history on the chart to the measurement: the app's start-up
#: work (the footer recomposed as focus and bindings settle) is not following's cost.
SETTLE_S = 3.0


class Observer(threading.Thread):
    """Notes when each metrics line of each run appears (its time, by line number); lines there
    before it started have ``None``. ``cpu`` is its own CPU time, to leave out of the app's."""

    def __init__(self, folders: list[Path]) -> None:
        super().__init__(name="bench-observer", daemon=True)
        self.folders = folders
        self.times: dict[str, list[float | None]] = {path.name: [] for path in folders}
        self.sizes = {path.name: 0 for path in folders}
        self.first = True
        self.cpu = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        begin = time.thread_time()
        while not self.done.is_set():
            self.look()
            self.first = False
            time.sleep(OBSERVE_S)
        self.cpu = time.thread_time() - begin

    def look(self) -> None:
        now = time.time()
        for path in self.folders:
            metrics = path / "metrics.jsonl"
            size = os.stat(metrics).st_size
            if size == self.sizes[path.name]:
                continue
            with open(metrics, "rb") as handle:
                handle.seek(self.sizes[path.name])
                new = handle.read(size - self.sizes[path.name])
            complete = new.rfind(b"\n") + 1  # (a line still being written: next time)
            self.sizes[path.name] += complete
            self.times[path.name] += [None if self.first else now] * new[:complete].count(b"\n")


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each of this process's threads by name (Linux; empty elsewhere): a Python
    thread's own name (the app's workers, the change watcher), else the system's."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    names = {thread.native_id: thread.name for thread in threading.enumerate()}
    out: dict[str, float] = {}
    for task in Path("/proc/self/task").glob("*"):
        try:
            name = names.get(int(task.name)) or (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return out


class Watch:
    """Checks the app's chart every CHECK_S seconds: when each run's line grows, and when drawn."""

    def __init__(self, app, folders: list[Path], observer: Observer) -> None:
        self.app, self.folders, self.observer = app, folders, observer
        self.seen = {path.name: 0 for path in folders}
        self.to_data: list[float] = []
        self.to_draw: list[float] = []
        self.pending: list[float] = []  # write times of points not yet drawn
        self.draws = 0
        self.overhead = 0.0
        self.epochs = 0
        self.threads: dict[str, float] = {}  # % of one core by thread name, over the measurement
        self.parts: Breakdown | None = None  # (--breakdown)
        self.app_thread = 0.0  # CPU seconds of the app's own thread (this one), measuring included

    def hook(self) -> None:
        """Wrap the chart's redraw: what is in its data when it redraws is what it draws."""
        chart = self.app.chart
        original = chart.redraw

        def redraw() -> None:
            self.check()  # (new points that reached the data since the last check)
            original()
            begin = time.process_time()
            now = time.time()
            self.draws += 1
            self.to_draw += [now - written for written in self.pending]
            self.pending = []
            self.overhead += time.process_time() - begin

        chart.redraw = redraw

    def check(self) -> None:
        begin = time.process_time()
        now, chart = time.time(), self.app.chart
        for path in self.folders:
            count = len(chart.lines.get(path.name, []))
            old, self.seen[path.name] = self.seen[path.name], count
            if count > old:
                self.epochs += count - old
                for written in self.observer.times[path.name][old:count]:
                    if written is not None:
                        self.to_data.append(now - written)
                        self.pending.append(written)
        self.overhead += time.process_time() - begin


async def idle(runs: Path, seconds: float, settle: float = 0.0) -> tuple[float, float]:
    """The reference: the same app following no run, same size, same wall time (wall, cpu)."""
    from lstm_tui.app.main import LstmTuiApp

    app = LstmTuiApp(runs_dir=runs, detect_devices=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(1.0 + settle)
        wall0, cpu0 = time.monotonic(), time.process_time()
        while time.monotonic() - wall0 < seconds:
            await asyncio.sleep(CHECK_S)
        return time.monotonic() - wall0, time.process_time() - cpu0


async def follow(
    folders: list[Path],
    seconds: float,
    profile: Path | None = None,
    settle: float = 0.0,
    parts: Breakdown | None = None,
) -> tuple[Watch, float, float]:
    from lstm_tui.app.main import LstmTuiApp

    app = LstmTuiApp(runs_dir=folders[0].parent, detect_devices=False, follow=folders)
    profiler = None
    observer = Observer(folders)
    async with app.run_test(size=(120, 40)) as pilot:
        deadline = time.monotonic() + 30
        while not all(app.chart.lines.get(path.name) for path in folders) and time.monotonic() < deadline:
            await pilot.pause(0.1)  # each run's history so far: not part of the measurement
        await pilot.pause(settle)  # nor the app's settling after it (the footer, focus): steady state
        watch = Watch(app, folders, observer)
        if parts is not None:  # (before the hook, which keeps the chart's redraw as it finds it)
            watch.parts = parts
            parts.install()
        watch.check()
        watch.hook()
        watch.to_data, watch.to_draw, watch.pending, watch.epochs = [], [], [], 0
        if profile is not None:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        observer.start()  # (the lines it finds there at first are not timed)
        wall0, cpu0, threads0, own0 = time.monotonic(), time.process_time(), thread_cpu(), time.thread_time()
        if parts is not None:
            parts.reset()
        while time.monotonic() - wall0 < seconds:
            await asyncio.sleep(CHECK_S)
            watch.check()
        watch.app_thread = time.thread_time() - own0
        if parts is not None:
            parts.uninstall()
        observer.done.set()
        observer.join()
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0 - observer.cpu
        threads = thread_cpu()
        watch.threads = {name: 100 * (threads[name] - threads0.get(name, 0.0)) / wall for name in threads}
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
    return watch, wall, cpu


def summary(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return float("nan"), float("nan"), float("nan")
    return statistics.median(values), max(values), sum(v <= 1.0 for v in values) / len(values)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--no-reference", action="store_true", help="skip the idle app's reference measurement")
    parser.add_argument(
        "--profile", type=Path, help="write a cProfile of the app's thread while following (adds its own cost)"
    )
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="count the CPU time of the app's parts (compositor, chart, log, status, polls) while following",
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=SETTLE_S,
        help="seconds after the runs' history is drawn before measuring (the app's start-up settles)",
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    print(f"Machine: {cpu_model()}, {os.cpu_count()} cores; load average {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="follow-app-") as tmp:
        runs = Path(tmp) / "runs"
        procs = start_trainers(args.runs, runs, args.data_dir)
        try:
            folders = wait_started(runs, args.runs, procs)
            parts = Breakdown() if args.breakdown else None
            watch, wall, cpu = asyncio.run(follow(folders, args.seconds, args.profile, args.settle, parts))
            ref = None if args.no_reference else asyncio.run(idle(runs, args.seconds, args.settle))
        finally:
            stop_trainers(procs)
    report(args, watch, wall, cpu, ref)


def report(args: argparse.Namespace, watch: Watch, wall: float, cpu: float, ref: tuple[float, float] | None) -> None:
    cpu_pct = 100 * (cpu - watch.overhead) / wall
    idle_pct = 100 * ref[1] / ref[0] if ref else float("nan")
    data_median, data_max, data_within = summary(watch.to_data)
    draw_median, draw_max, draw_within = summary(watch.to_draw)
    lines = [
        f"# The app following {args.runs} live runs",
        "",
        f"{wall:.1f} s followed: {watch.epochs} new epochs on the chart, {watch.draws} redraws; "
        f"{cpu_model()}, {os.cpu_count()} cores; load average {os.getloadavg()}",
        "",
        "| measure | value |",
        "|---|---|",
        f"| app process CPU, % of one core | {cpu_pct:.2f} |",
        f"| the same app idle (following no run, same trainers running), % of one core | {idle_pct:.2f} |",
        f"| following's own cost (the difference), % of one core | {cpu_pct - idle_pct:.2f} |",
        f"| by thread: {', '.join(f'{n} {v:.1f}' for n, v in sorted(watch.threads.items(), key=lambda i: -i[1]) if v >= 0.05)} | |",
        f"| delay write -> chart data, median / max (s) | {data_median:.3f} / {data_max:.3f} |",
        f"| delay write -> chart drawn, median / max (s) | {draw_median:.3f} / {draw_max:.3f} |",
        f"| epochs in the chart data within 1 s | {100 * data_within:.1f}% of {len(watch.to_data)} |",
        f"| epochs drawn within 1 s | {100 * draw_within:.1f}% of {len(watch.to_draw)} |",
        "",
    ]
    if watch.parts is not None:
        lines += [
            f"Where it went (CPU-time counters; parts nest; the app's thread {100 * watch.app_thread / wall:.2f}% "
            "of one core, measuring included):",
            "",
            watch.parts.table(wall),
            "",
        ]
    text = "\n".join(lines)
    print(text)
    payload = {
        "started": now_iso(),
        "runs": args.runs,
        "wall_s": wall,
        "epochs": watch.epochs,
        "draws": watch.draws,
        "app_cpu_pct": cpu_pct,
        "idle_cpu_pct": idle_pct,
        "to_data": watch.to_data,
        "to_draw": watch.to_draw,
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
    }
    write_results(args.out, "follow-app", payload, text)


if __name__ == "__main__":
    main()
