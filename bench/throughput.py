"""Throughput of the project's training engine against the book's own code, in one process.

For each config the project's :class:`~lstm_tui.core.engine.Trainer` (what users run) and the
reference in ``bench/reference_d2l.py`` (d2l's code path: one-hot floats, four gate matmul pairs
in a Python time loop, host-synced clipping and loss) train on the same data, config and seed,
from the same initial weights (the reference is loaded from the engine's freshly built model).

    python bench/throughput.py                        # quick: 6 epochs per book config, 2 for "large"
    python bench/throughput.py --configs scratch,concise --epochs 10
    python bench/throughput.py --device cuda --full   # 500 epochs, time to perplexity 1.3 / 1.1

    python bench/throughput.py --amp --configs concise,deep,bidirectional,large   # the engine in bf16

Writes ``<out>/throughput-<device>.json`` and ``.md`` (``-bf16`` with ``--amp``) and prints the
table and the machine.
See bench/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import gc
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

import common  # noqa: F401  (puts the repository on sys.path)
import reference_d2l
from common import DEFAULT_DATA_DIR, DEFAULT_OUT, PeakMemory, fmt_rate, machine_line, start, write_results
from lstm_tui.core.config import RunConfig
from lstm_tui.core.data import load_corpus
from lstm_tui.core.device import bf16_native
from lstm_tui.core.engine import Trainer
from lstm_tui.core.events import EpochEnd, Failed, Started
from lstm_tui.core.presets import PRESETS


@dataclass(frozen=True)
class BenchConfig:
    name: str
    config: RunConfig
    quick_epochs: int
    target_ppl: float | None = None  # time-to-perplexity (book configs, --full only)


def bench_configs() -> dict[str, BenchConfig]:
    book = {name: PRESETS[name].config for name in ("scratch", "concise", "deep", "bidirectional")}
    large = PRESETS["concise"].config.replace(
        preset="large", max_tokens=-1, val_split=0.0, batch_size=256, hidden=512, layers=2
    )
    return {
        "scratch": BenchConfig("scratch", book["scratch"], 6, 1.3),
        "concise": BenchConfig("concise", book["concise"], 6, 1.1),
        "deep": BenchConfig("deep", book["deep"], 6),
        "bidirectional": BenchConfig("bidirectional", book["bidirectional"], 6),
        "large": BenchConfig("large", large, 2),
    }


# The issue's targets: (minimum ratio engine/reference, minimum engine tokens/s or None).
TARGETS = {
    "cpu": {
        "scratch": (2.0, None),
        "concise": (1.05, None),
        "deep": (1.05, None),
        "bidirectional": (1.05, None),
        "large": (1.05, None),
    },
    "cuda": {"scratch": (20.0, None), "concise": (4.0, None), "large": (4.0, 8e6)},
}


def target_for(device_type: str, name: str) -> tuple[float, float | None] | None:
    return TARGETS.get(device_type, {}).get(name)


def target_text(target) -> str:
    if target is None:
        return "-"
    ratio, rate = target
    return f">= {ratio:g}x" + (f", >= {fmt_rate(rate)} tok/s" if rate else "")


# --------------------------------------------------------------------------- the two runs
def run_engine(cfg: RunConfig, data, stop_at: float | None) -> dict:
    """Train through Trainer; returns the per-epoch records and the initial model (a CPU copy)."""
    records: list[dict] = []
    holder: dict = {}
    trainer: Trainer

    def on_event(event):
        if isinstance(event, Started):
            holder["initial"], _ = trainer.snapshot()  # weights before the first step
            holder["t0"] = time.perf_counter()
        elif isinstance(event, EpochEnd):
            records.append(
                {
                    "epoch": event.epoch,
                    "perplexity": event.perplexity,
                    "tokens_per_s": event.tokens_per_s,
                    "elapsed_s": event.elapsed_s,
                    "wall_s": time.perf_counter() - holder["t0"],
                }
            )
            if stop_at is not None and event.perplexity <= stop_at:
                trainer.stop()

    trainer = Trainer(cfg, on_event=on_event, data=data)
    result = trainer.run()
    if isinstance(result, Failed):
        raise RuntimeError(f"the engine failed: {result.reason} ({result.hint})")
    return {"records": records, "initial": holder["initial"], "device": result.device}


def run_reference(cfg: RunConfig, data, device: torch.device, initial, stop_at: float | None) -> dict:
    torch.manual_seed(cfg.seed)
    ref = reference_d2l.build_reference(cfg, len(data.vocab), device, init_from=initial)
    loader = reference_d2l.BookLoader(
        data.train.tolist(), cfg.batch_size, cfg.num_steps, random.Random(cfg.seed), cfg.sampling == "random"
    )
    records, elapsed = [], 0.0
    for epoch in range(1, cfg.epochs + 1):
        ppl, speed, _tokens, seconds = ref.epoch(loader)
        elapsed += seconds
        records.append({"epoch": epoch, "perplexity": ppl, "tokens_per_s": speed, "elapsed_s": elapsed})
        if stop_at is not None and ppl <= stop_at:
            break
    return {"records": records}


# --------------------------------------------------------------------------- measures
def median_rate(records: list[dict]) -> float | None:
    """Median tokens/s over the epochs after the first (the warm-up); the only epoch if one."""
    rates = [r["tokens_per_s"] for r in records[1:]] or [r["tokens_per_s"] for r in records]
    return statistics.median(rates) if rates else None


def wall_rate_check(records: list[dict]) -> float | None:
    """The engine's reported epoch time over the harness's wall clock between EpochEnd events.

    1.0 means the engine's tokens/s is what the caller sees; it drops below 1 if per-epoch work
    happens outside the engine's timed window.
    """
    ratios = []
    for prev, cur in zip(records, records[1:]):
        engine_s, wall_s = cur["elapsed_s"] - prev["elapsed_s"], cur["wall_s"] - prev["wall_s"]
        if wall_s > 0:
            ratios.append(engine_s / wall_s)
    return statistics.median(ratios) if ratios else None


def time_to(records: list[dict], target: float | None) -> float | None:
    if target is None:
        return None
    for r in records:
        if r["perplexity"] <= target:
            return r["elapsed_s"]
    return None


def curve_check(engine: list[dict], reference: list[dict], epochs: int, tolerance: float) -> dict:
    n = min(len(engine), len(reference), epochs)
    diffs = [abs(a["perplexity"] - b["perplexity"]) / b["perplexity"] for a, b in zip(engine[:n], reference[:n])]
    worst = max(diffs) if diffs else math.nan
    return {"epochs": n, "max_rel_diff": worst, "tolerance": tolerance, "pass": bool(diffs) and worst < tolerance}


def bench_one(bc: BenchConfig, args, device: torch.device, data_cache: dict) -> dict:
    epochs = args.epochs or (500 if args.full and bc.name != "large" else bc.quick_epochs)
    if bc.name == "large" and args.large_epochs:
        epochs = args.large_epochs
    cfg = bc.config.replace(
        epochs=epochs,
        device=str(device),
        data_dir=str(args.data_dir),
        seed=args.seed,
        predict_every=0,
        checkpoint_every=0,
    )
    if args.no_fused:
        cfg = cfg.replace(fused=False)
    if args.amp:  # the engine only: the reference stays the book's float32
        cfg = cfg.replace(amp=True)
    key = (cfg.max_tokens, cfg.val_split)
    if key not in data_cache:
        data_cache[key] = load_corpus(cfg)
    data = data_cache[key]
    stop_at = bc.target_ppl if args.full else None

    print(
        f"[{bc.name}] {epochs} epochs, batch {cfg.batch_size} x {cfg.num_steps} steps, hidden {cfg.hidden}, "
        f"layers {cfg.layers}{', bidirectional' if cfg.bidirectional else ''}, impl {cfg.impl}, "
        f"{len(data.train):,} tokens",
        flush=True,
    )
    repeat = max(1, args.large_repeat if bc.name == "large" else args.repeat)
    engine_runs, reference_runs, mem_engine, mem_ref = [], [], None, None
    # Engine and reference alternate, and every other repeat the reference goes first, so a load
    # drift (this VM's speed moves 20-40% within minutes) hits both sides of each pair alike.
    for rep in range(repeat):
        for side in ("engine", "reference") if rep % 2 == 0 else ("reference", "engine"):
            gc.collect()
            if side == "engine":
                with PeakMemory(device) as mem:
                    engine_runs.append(run_engine(cfg, data, stop_at))
                mem_engine, run = mem_engine or mem, engine_runs[-1]
            else:
                with PeakMemory(device) as mem:
                    reference_runs.append(run_reference(cfg, data, device, engine_runs[0]["initial"], stop_at))
                mem_ref, run = mem_ref or mem, reference_runs[-1]
            print(
                f"  {side:<10}: {fmt_rate(median_rate(run['records']))} tok/s, "
                f"ppl {[round(r['perplexity'], 3) for r in run['records'][:8]]}",
                flush=True,
            )
    engine, reference = engine_runs[0], reference_runs[0]
    e_rates = [median_rate(run["records"]) for run in engine_runs]
    r_rates = [median_rate(run["records"]) for run in reference_runs]

    e_rate, r_rate = max(e_rates), max(r_rates)  # best of the repeats: the least disturbed run
    pair_ratios = [e / r for e, r in zip(e_rates, r_rates) if e and r]
    ratio = statistics.median(pair_ratios) if pair_ratios else None  # robust to a spike in one pair
    target = target_for(device.type, bc.name)
    passed = None
    if target is not None and ratio is not None:
        passed = ratio >= target[0] and (target[1] is None or e_rate >= target[1])
    curve = curve_check(engine["records"], reference["records"], args.curve_epochs, args.curve_tolerance)
    return {
        "name": bc.name + (" (engine bf16)" if args.amp else ""),
        "config": {k: v for k, v in cfg.to_dict().items() if k not in ("data_dir",)},
        "tokens": len(data.train),
        "repeats": repeat,
        "engine": {
            "tokens_per_s": e_rate,
            "tokens_per_s_per_repeat": e_rates,
            "records": engine["records"],
            "memory": mem_engine.to_dict(),
            "time_to_target_s": time_to(engine["records"], stop_at),
            "reported_vs_wall": wall_rate_check(engine["records"]),
        },
        "reference": {
            "tokens_per_s": r_rate,
            "tokens_per_s_per_repeat": r_rates,
            "records": reference["records"],
            "memory": mem_ref.to_dict(),
            "time_to_target_s": time_to(reference["records"], stop_at),
        },
        "ratio": ratio,
        "pair_ratios": pair_ratios,
        "target": None if target is None else {"min_ratio": target[0], "min_tokens_per_s": target[1]},
        "target_text": target_text(target),
        "target_pass": passed,
        "target_ppl": stop_at,
        "curve": curve,
    }


# --------------------------------------------------------------------------- output
def _verdict(value: bool | None) -> str:
    return "-" if value is None else ("PASS" if value else "FAIL")


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}s"


def markdown_table(results: list[dict], info: dict, args) -> str:
    mem_kind = (
        "CUDA max allocated" if info["device"].startswith("cuda") else "process peak RSS (sampled) / rise during run"
    )
    lines = [
        f"# Throughput: engine vs the book's code ({info['device']})",
        "",
        f"Measured {args.started} with `{' '.join(args.argv)}`.",
        "",
        f"Machine: {machine_line(info)}.",
        "",
        f"| config | engine tok/s | reference tok/s | ratio (pairs) | target | result | curve check | time to ppl (engine / ref) | peak mem MiB, engine / ref ({mem_kind}) |",
        "|---|---:|---:|---:|---|---|---|---|---|",
    ]
    for r in results:
        c = r["curve"]
        curve = f"{_verdict(c['pass'])} (max {c['max_rel_diff'] * 100:.3f}% over {c['epochs']} ep)"
        if r["target_ppl"] is None:
            ttp = "n/a"
        else:
            ttp = f"{r['target_ppl']:g}: {_seconds(r['engine']['time_to_target_s'])} / {_seconds(r['reference']['time_to_target_s'])}"
        me, mr = r["engine"]["memory"], r["reference"]["memory"]
        if info["device"].startswith("cuda"):
            mem = f"{me['peak_mib']:.0f} / {mr['peak_mib']:.0f}"
        else:
            mem = f"{me['peak_mib']:.0f} (+{me['delta_mib']:.0f}) / {mr['peak_mib']:.0f} (+{mr['delta_mib']:.0f})"
        ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        if len(r.get("pair_ratios", ())) > 1:
            ratio += " (" + ", ".join(f"{x:.2f}" for x in r["pair_ratios"]) + ")"
        lines.append(
            f"| {r['name']} | {fmt_rate(r['engine']['tokens_per_s'])} | {fmt_rate(r['reference']['tokens_per_s'])} "
            f"| {ratio} | {r['target_text']} | {_verdict(r['target_pass'])} | {curve} | {ttp} | {mem} |"
        )
    lines += [
        "",
        "tokens/s: median over the epochs after the first (warm-up) epoch; with repeats (engine and "
        "reference alternate, the reference first in every other repeat), the best of the repeats' medians. "
        "Ratio: the median over the repeats of engine/reference within each repeat (the pair run back to back). "
        "Curve check: largest relative difference between the two per-epoch training perplexities "
        f"(same seed, same initial weights), must stay under {args.curve_tolerance * 100:g}%.",
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--epochs",
        type=int,
        default=0,
        help="epochs per config (default: 6 per book config, 2 for large; 500 with --full)",
    )
    p.add_argument("--large-epochs", type=int, default=0, help="epochs for the large config (default: 2, or --epochs)")
    p.add_argument(
        "--configs",
        default="scratch,concise,deep,bidirectional,large",
        help="comma-separated: " + ",".join(bench_configs()),
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument(
        "--full",
        action="store_true",
        help="500 epochs for the book configs (scratch/concise stop at perplexity 1.3/1.1), for the time-to-perplexity column",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder (default bench/results)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="folder holding timemachine.txt (default ../shared/data)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--repeat",
        type=int,
        default=2,
        help="run engine and reference N times each, alternating; report the best median (default 2)",
    )
    p.add_argument("--large-repeat", type=int, default=1, help="repeats for the large config (default 1)")
    p.add_argument("--curve-epochs", type=int, default=10, help="epochs compared by the curve check (default 10)")
    p.add_argument(
        "--curve-tolerance", type=float, default=0.02, help="max relative perplexity difference (default 0.02)"
    )
    p.add_argument("--no-fused", action="store_true", help="run the engine with fused=false (its plain paths)")
    p.add_argument(
        "--amp",
        action="store_true",
        help="run the engine with bf16 autocast (where the device has native bf16); the reference stays float32",
    )
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--strict", action="store_true", help="exit 1 if a target or a curve check fails")
    args = p.parse_args(argv)
    known = bench_configs()
    args.config_names = [c.strip() for c in args.configs.split(",") if c.strip()]
    bad = [c for c in args.config_names if c not in known]
    if bad:
        p.error(f"unknown config(s) {', '.join(bad)}; expected {', '.join(known)}")
    if args.epochs and not args.large_epochs and "large" in args.config_names:
        args.large_epochs = args.epochs
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    device, info = start(args, argv, "bench/throughput.py")
    if args.amp and not bf16_native(device):  # the engine would train in float32 under a "bf16" label
        print(f"--amp: {device} has no native bf16 (a GPU, or a CPU with AVX-512 BF16 / AMX)", file=sys.stderr)
        return 2
    known, data_cache, results = bench_configs(), {}, []
    for name in args.config_names:
        results.append(bench_one(known[name], args, device, data_cache))
        # written after every config, so an interrupted run keeps what it measured
        table = markdown_table(results, info, args)
        payload = {
            "started": args.started,
            "argv": args.argv,
            "machine": info,
            "results": results,
            "complete": len(results) == len(args.config_names),
            "loadavg_at_end": common._loadavg(),
        }
        json_path, md_path = write_results(
            args.out, f"throughput-{device.type}{'-bf16' if args.amp else ''}", payload, table
        )
    print()
    print(table)
    print(f"wrote {json_path} and {md_path}")
    failed = [r["name"] for r in results if r["target_pass"] is False or not r["curve"]["pass"]]
    if failed:
        print(f"FAIL: {', '.join(failed)}" + ("" if args.strict else " (not fatal without --strict)"))
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
