"""How much of a training batch the ``nn.LSTM`` kernel itself takes, for the engine and the book.

The concise, deep, bidirectional and large engines call the same LSTM kernel as the book's
code (on the CPU, oneDNN's ``mkldnn_rnn_layer`` forward and backward). What the engine can win
lies outside that kernel: one-hot inputs, the per-batch host syncs, clipping, the update. This
bench measures, per config and on the same batches and weights:

* the wall time per batch of the engine's training step and of the book's (``train_epoch_ch8``),
  unprofiled, in back-to-back pairs with alternating order (the ratio is the median pair);
* under ``torch.profiler``, the time per batch inside the LSTM kernel on each side;
* the **ceiling**: one over the kernel's share of the book's batch (both timed in the same
  profiled pass), i.e. the ratio an engine calling the same kernel would reach if everything
  outside the kernel cost nothing. (Kernel times from separate passes are not compared: this
  VM's speed moves 20-40% from one pass to the next.)

    python bench/kernel_share.py                          # concise, deep, bidirectional, large
    python bench/kernel_share.py --configs deep --pairs 12

Writes ``<out>/kernel-share-<device>.json`` and ``.md``. CPU only (the kernel names are oneDNN's).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

import common  # noqa: F401  (puts the repository on sys.path)
import reference_d2l
from common import DEFAULT_DATA_DIR, DEFAULT_OUT, machine_line, measure_each, start
from lstm_tui.core.data import load_corpus
from lstm_tui.core.data.iterators import data_iter
from lstm_tui.core.engine.allocator import keep_freed_memory
from lstm_tui.core.engine.step import make_optimizer, make_step
from lstm_tui.core.models import build_model
from throughput import bench_configs

#: The LSTM kernel's operators on the CPU (forward and backward, one call per layer).
KERNEL_OPS = ("aten::mkldnn_rnn_layer", "aten::mkldnn_rnn_layer_backward")
TORCH_CONFIGS = ("concise", "deep", "bidirectional", "large")


class Sides:
    """The engine's step and the book's model on one config, from the same initial weights."""

    def __init__(self, cfg, vocab_size: int, batches: list, device: torch.device):
        torch.manual_seed(cfg.seed)
        self.model = build_model(cfg, vocab_size).to(device)
        self.step = make_step(cfg, self.model, make_optimizer(cfg, self.model), device)
        self.ref = reference_d2l.build_reference(cfg, vocab_size, device, init_from=self.model)
        self.batches, self.device = batches, device

    def engine(self) -> float:
        """One pass over the batches the way the Trainer runs them; seconds."""
        start_s = time.perf_counter()
        loss_sum, state = torch.zeros((), device=self.device), None
        for X, Y in self.batches:
            state = (
                self.model.begin_state(X.shape[0], self.device) if state is None else tuple(s.detach() for s in state)
            )
            loss, state = self.step(X, Y, state)
            loss_sum += loss * Y.numel()
        loss_sum.item()
        return time.perf_counter() - start_s

    def reference(self) -> float:
        """One pass of the book's ``train_epoch_ch8`` over the same batches; seconds."""
        start_s = time.perf_counter()
        self.ref.epoch(self.batches)
        return time.perf_counter() - start_s


def kernel_share(run) -> tuple[float, float]:
    """``(seconds inside the LSTM kernel, its share of the pass)`` for one profiled ``run()``."""
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        seconds = run()
    kernel = sum(e.self_cpu_time_total for e in prof.key_averages() if e.key in KERNEL_OPS) / 1e6
    return kernel, kernel / seconds


def measure(name: str, args, device: torch.device, data_cache: dict) -> dict:
    cfg = bench_configs()[name].config.replace(device=str(device), data_dir=str(args.data_dir), seed=args.seed)
    key = (cfg.max_tokens, cfg.val_split)
    if key not in data_cache:
        data_cache[key] = load_corpus(cfg)
    data = data_cache[key]
    batches = list(
        data_iter(data.train.to(device), cfg.batch_size, cfg.num_steps, cfg.sampling, random.Random(cfg.seed))
    )[: args.batches]
    sides = Sides(cfg, len(data.vocab), batches, device)
    sides.engine(), sides.reference()  # warm-up
    pairs = []
    for i in range(args.pairs):
        order = (sides.engine, sides.reference) if i % 2 == 0 else (sides.reference, sides.engine)
        times = {fn.__name__: fn() for fn in order}
        pairs.append((times["engine"], times["reference"]))
    n = len(batches)
    engine_s = statistics.median(e for e, _ in pairs) / n
    ref_s = statistics.median(r for _, r in pairs) / n
    profiled = [kernel_share(fn) for _ in range(args.profiled) for fn in (sides.engine, sides.reference)]
    kernel_engine = statistics.median(k for k, _ in profiled[0::2]) / n
    kernel_ref = statistics.median(k for k, _ in profiled[1::2]) / n
    share_engine = statistics.median(s for _, s in profiled[0::2])
    share_ref = statistics.median(s for _, s in profiled[1::2])
    result = {
        "name": name,
        "batches": n,
        "pairs": args.pairs,
        "engine_ms": engine_s * 1e3,
        "reference_ms": ref_s * 1e3,
        "ratio": statistics.median(r / e for e, r in pairs),
        "pair_ratios": [r / e for e, r in pairs],
        "kernel_engine_ms": kernel_engine * 1e3,
        "kernel_reference_ms": kernel_ref * 1e3,
        "kernel_share_reference": share_ref,
        "kernel_share_engine": share_engine,
        "ceiling": 1 / share_ref,
    }
    print(
        f"[{name}] {n} batches: engine {result['engine_ms']:.1f} ms, book {result['reference_ms']:.1f} ms a batch, "
        f"ratio {result['ratio']:.2f}x; kernel {result['kernel_engine_ms']:.1f} / {result['kernel_reference_ms']:.1f} ms "
        f"(share: engine {share_engine * 100:.0f}%, book {share_ref * 100:.0f}%); ceiling {result['ceiling']:.2f}x",
        flush=True,
    )
    return result


def markdown_table(results: list[dict], info: dict, args) -> str:
    lines = [
        f"# The LSTM kernel's share of a training batch ({info['device']})",
        "",
        f"Measured {args.started} with `{' '.join(args.argv)}`.",
        "",
        f"Machine: {machine_line(info)}.",
        "",
        "| config | engine ms/batch | book ms/batch | ratio (median pair) | kernel ms/batch, engine / book "
        "| kernel share, engine / book | ceiling |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['name']} | {r['engine_ms']:.1f} | {r['reference_ms']:.1f} | {r['ratio']:.2f}x "
            f"| {r['kernel_engine_ms']:.1f} / {r['kernel_reference_ms']:.1f} "
            f"| {r['kernel_share_engine'] * 100:.0f}% / {r['kernel_share_reference'] * 100:.0f}% | {r['ceiling']:.2f}x |"
        )
    lines += [
        "",
        "Kernel: oneDNN's LSTM layer, forward and backward (`" + "`, `".join(KERNEL_OPS) + "`), self "
        "time under torch.profiler, median of the profiled passes. Kernel share: the kernel's time over "
        "the whole pass, within each profiled pass. Ceiling: 1 / the book's kernel share, the ratio an "
        "engine calling the same kernel would reach if everything outside the kernel took no time.",
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--configs", default=",".join(TORCH_CONFIGS), help="comma-separated: " + ",".join(TORCH_CONFIGS))
    p.add_argument("--pairs", type=int, default=8, help="engine/book pairs timed per config (default 8)")
    p.add_argument("--profiled", type=int, default=3, help="profiled passes per side (default 3)")
    p.add_argument("--batches", type=int, default=8, help="batches per pass (default 8: the book config's epoch)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder (default bench/results)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="folder holding timemachine.txt (default ../shared/data)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.config_names = [c.strip() for c in args.configs.split(",") if c.strip()]
    bad = [c for c in args.config_names if c not in TORCH_CONFIGS]
    if bad:
        p.error(f"unknown config(s) {', '.join(bad)}; expected {', '.join(TORCH_CONFIGS)} (nn.LSTM configs)")
    if min(args.pairs, args.batches, args.profiled) < 1:
        p.error("--pairs, --batches and --profiled must be at least 1")
    if args.device != "cpu":
        p.error("--device: CPU only (the kernel names are oneDNN's)")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    device, info = start(args, argv, "bench/kernel_share.py")
    keep_freed_memory()  # as the Trainer does; both sides share the process
    data_cache: dict = {}
    _results, table = measure_each(
        args.config_names,
        lambda name: measure(name, args, device, data_cache),
        lambda done: markdown_table(done, info, args),
        args,
        info,
        f"kernel-share-{device.type}",
    )
    print()
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
