"""In-app training speed against headless training, same config, one process.

The app trains in a Textual thread worker while the chart, log and status line update live;
this bench checks that all of that costs little: in-app tokens/s should stay >= 90% of
headless (the same Trainer with no UI). Both write a run folder, and both read their per-epoch
tokens/s back from that folder's metrics.jsonl, so they are measured the same way. Runs
alternate (headless, app, headless, app, ...) so a load spike hits both, each in a fresh process.

    python bench/app_throughput.py                      # concise and scratch, book config, 100 epochs, 5 rounds
    python bench/app_throughput.py --presets concise --epochs 200 --repeat 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from textual.events import Key

import common  # noqa: F401  (puts the repository on sys.path)
from common import DEFAULT_DATA_DIR, DEFAULT_OUT, fmt_rate, machine_info, machine_line, now_iso, write_results
from lstm_tui.app.main import LstmTuiApp
from lstm_tui.core.engine import Trainer
from lstm_tui.core.presets import PRESETS
from lstm_tui.core.runs import RunDir

TARGET = 0.90
KEY_EVERY_S = 1.0  # a key a second: a busy user, not a stress test of the log


def epoch_rates(run_path: Path) -> list[float]:
    """tokens/s of each epoch after the first (warm-up), from the run's metrics file."""
    return [m["tokens_per_s"] for m in RunDir(run_path).read_metrics()[1:]]


def headless(config, root: Path) -> Path:
    run = RunDir.create(root, config, name="headless")
    Trainer(config, run_dir=run).run()
    return run.path


async def in_app(config, root: Path, latencies: list[float]) -> Path:
    """Start the run from the app (F5, as a person would) and wait until it is done.

    Meanwhile a key (ctrl+l, clear the log) is sent every :data:`KEY_EVERY_S` seconds the way a
    terminal sends it (a Key event, no test-harness waiting), and the time until its action runs
    goes into ``latencies``: the UI must stay responsive while it trains.
    """
    app = LstmTuiApp(config, runs_dir=root, detect_devices=False)
    clear_log = app.action_clear_log
    handled = asyncio.Event()
    handled_at = 0.0

    def timed_clear_log() -> None:
        nonlocal handled_at
        handled_at = time.perf_counter()
        handled.set()
        clear_log()

    app.action_clear_log = timed_clear_log
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        deadline = time.monotonic() + 3600
        while app.state not in ("finished", "stopped", "failed") and time.monotonic() < deadline:
            await asyncio.sleep(KEY_EVERY_S)
            if app.state == "training":
                handled.clear()
                sent = time.perf_counter()
                app.post_message(Key("ctrl+l", None))
                try:  # an event, not a polling loop: the bench must not add UI-thread work of its own
                    await asyncio.wait_for(handled.wait(), timeout=5)
                    latencies.append(handled_at - sent)
                except asyncio.TimeoutError:
                    pass
        if app.state != "finished":
            raise RuntimeError(f"the in-app run ended as {app.state}")
        return Path(app.run_path)


def one_side(side: str, preset: str, epochs: int, data_dir: Path) -> dict:
    """Train ``preset`` once, headless or in the app, in THIS process; median tokens/s and latencies."""
    config = PRESETS[preset].config.replace(
        epochs=epochs, data_dir=str(data_dir), device="cpu", seed=0, checkpoint_every=0
    )
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = headless(config, Path(tmp)) if side == "headless" else asyncio.run(in_app(config, Path(tmp), latencies))
        return {"tokens_per_s": statistics.median(epoch_rates(path)), "latencies": latencies}


def measure(preset: str, args) -> dict:
    """Alternate fresh processes (headless, app, headless, app, ...), as a user runs them.

    One process per run, because that is what a person does (``lstm-tui train`` or ``lstm-tui``)
    and because a process that already trained on its main thread runs a later worker-thread
    run slower (a second OpenMP thread pool), which would bias a same-process comparison.
    """
    rates, latencies = {"headless": [], "app": []}, []
    for _ in range(args.repeat):
        for side in ("headless", "app"):
            cmd = [
                sys.executable,
                __file__,
                "--side",
                side,
                "--presets",
                preset,
                "--epochs",
                str(args.epochs),
                "--data-dir",
                str(args.data_dir),
            ]
            result = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
            rates[side].append(result["tokens_per_s"])
            latencies += result["latencies"]
    # Each round is a pair run back to back; the median of the pairs' ratios is robust to a load
    # spike that hits one round (this VM's speed drifts by 20-40% within minutes).
    ratio = statistics.median(a / h for a, h in zip(rates["app"], rates["headless"]))
    medians = {side: statistics.median(values) for side, values in rates.items()}
    return {
        "preset": preset,
        "epochs": args.epochs,
        "repeat": args.repeat,
        "headless_tokens_per_s": medians["headless"],
        "app_tokens_per_s": medians["app"],
        "ratio": ratio,
        "target": TARGET,
        "pass": ratio >= TARGET,
        "rounds": rates,
        "key_latency_ms": _latency_ms(latencies),
    }


def _latency_ms(latencies: list[float]) -> dict:
    if not latencies:
        return {"median": None, "p95": None, "max": None, "count": 0}
    ordered = sorted(latencies)
    return {
        "median": 1000 * statistics.median(ordered),
        "p95": 1000 * ordered[int(0.95 * (len(ordered) - 1))],
        "max": 1000 * ordered[-1],
        "count": len(ordered),
    }


def table(rows: list[dict]) -> str:
    lines = [
        "| preset | headless tok/s (median) | in-app tok/s (median) | app / headless (median of paired rounds) "
        "| target | result | key latency ms (median / p95, n) |",
        "|---|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        lat = r["key_latency_ms"]
        keys = f"{lat['median']:.1f} / {lat['p95']:.1f}, {lat['count']}" if lat["count"] else "n/a"
        lines.append(
            f"| {r['preset']} | {fmt_rate(r['headless_tokens_per_s'])} | {fmt_rate(r['app_tokens_per_s'])} "
            f"| {r['ratio']:.2f} | >= {TARGET:.2f} | {'PASS' if r['pass'] else 'FAIL'} | {keys} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--presets", default="concise,scratch", help="comma-separated presets (default concise,scratch)")
    p.add_argument("--epochs", type=int, default=100, help="epochs per run (default 100; medians skip the first)")
    p.add_argument(
        "--repeat", type=int, default=5, help="rounds of (headless, app); the median of the rounds' ratios counts"
    )
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--side", choices=("headless", "app"), help=argparse.SUPPRESS)  # one run, in this process
    args = p.parse_args(argv)
    if args.side:
        print(json.dumps(one_side(args.side, args.presets, args.epochs, args.data_dir)))
        return 0
    rows = [measure(name.strip(), args) for name in args.presets.split(",") if name.strip()]
    info = machine_info(torch.device("cpu"))
    text = table(rows)
    header = (
        f"# In-app vs headless training speed (cpu)\n\nMeasured {now_iso()} with "
        f"`python bench/app_throughput.py --epochs {args.epochs} --repeat {args.repeat}`.\n\n{machine_line(info)}\n\n"
    )
    write_results(
        args.out, "app-throughput-cpu", {"machine": info, "rows": rows, "measured": now_iso()}, header + text + "\n"
    )
    print(machine_line(info))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
