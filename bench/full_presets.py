"""The four book presets, trained for their full 500 epochs through the project's engine.

Records, per preset: final training perplexity, wall time, tokens/s, and the book's two closing
predictions (after "time traveller" and "traveller"; a bidirectional model cannot generate).
These are the figures the README quotes next to the book's own (perplexity 1.3 / 1.1 / 1.0 / 1.1).

    python bench/full_presets.py                       # all four, 500 epochs, on the CPU
    python bench/full_presets.py --presets scratch --epochs 100 --device cuda

Writes ``<out>/presets-<device>.json`` and ``.md`` after every preset (partial results survive).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

import common  # noqa: F401  (puts the repository on sys.path)
from common import DEFAULT_DATA_DIR, DEFAULT_OUT, PeakMemory, fmt_rate, machine_line, measure_each, start
from lstm_tui.core.data import load_corpus
from lstm_tui.core.engine import Trainer
from lstm_tui.core.events import EpochEnd, Failed, Finished, Sample
from lstm_tui.core.presets import PRESETS

PRESET_NAMES = ("scratch", "concise", "deep", "bidirectional")
BOOK_PERPLEXITY = {"scratch": 1.3, "concise": 1.1, "deep": 1.0, "bidirectional": 1.1}
PREFIXES = ("time traveller", "traveller")


def run_preset(name: str, args, device: torch.device, data_cache: dict) -> dict:
    cfg = PRESETS[name].config.replace(
        device=str(device),
        data_dir=str(args.data_dir),
        seed=args.seed,
        epochs=args.epochs or PRESETS[name].config.epochs,
        predict_every=0,
        checkpoint_every=0,
        prefix=PREFIXES[:1],
    )
    key = (cfg.max_tokens, cfg.val_split)
    if key not in data_cache:
        data_cache[key] = load_corpus(cfg)
    data = data_cache[key]
    epochs: list[dict] = []
    samples: dict[str, str] = {}
    last_print = [0.0]

    def on_event(event):
        if isinstance(event, EpochEnd):
            epochs.append(
                {
                    "epoch": event.epoch,
                    "perplexity": event.perplexity,
                    "tokens_per_s": event.tokens_per_s,
                    "elapsed_s": event.elapsed_s,
                }
            )
            now = time.perf_counter()
            if now - last_print[0] > 15 or event.epoch == event.epochs:
                last_print[0] = now
                print(
                    f"  [{name}] epoch {event.epoch}/{event.epochs} ppl {event.perplexity:.3f} "
                    f"{fmt_rate(event.tokens_per_s)} tok/s {event.elapsed_s:.0f}s",
                    flush=True,
                )
        elif isinstance(event, Sample):
            samples[event.prefix] = event.text

    print(f"[{name}] {cfg.epochs} epochs on {device}", flush=True)
    wall = time.perf_counter()
    with PeakMemory(device) as mem:
        result = Trainer(cfg, on_event=on_event, data=data).run()
    wall = time.perf_counter() - wall
    if isinstance(result, Failed):
        return {"preset": name, "failed": f"{result.reason} ({result.hint})", "epochs_done": len(epochs)}
    assert isinstance(result, Finished)
    rates = [e["tokens_per_s"] for e in epochs[1:]] or [e["tokens_per_s"] for e in epochs]
    return {
        "preset": name,
        "epochs": result.epoch,
        "final_perplexity": result.perplexity,
        "book_perplexity": BOOK_PERPLEXITY.get(name),
        "elapsed_s": result.elapsed_s,
        "wall_s": wall,
        "tokens_per_s_median": statistics.median(rates) if rates else None,
        "generation_perplexity": result.generation_perplexity,
        "predictions": {p: samples.get(p) for p in PREFIXES} if cfg.can_generate else None,
        "memory": mem.to_dict(),
        "config": {k: v for k, v in cfg.to_dict().items() if k != "data_dir"},
        "perplexity_by_epoch": [round(e["perplexity"], 4) for e in epochs],
    }


def markdown(results: list[dict], info: dict, args) -> str:
    lines = [
        f"# The four presets, full runs through the engine ({info['device']})",
        "",
        f"Measured {args.started} with `{' '.join(args.argv)}`.",
        "",
        f"Machine: {machine_line(info)}.",
        "",
        '| preset | epochs | final ppl (book) | generation ppl | wall time | tokens/s (median) | after "time traveller" | after "traveller" |',
        "|---|---:|---|---:|---:|---:|---|---|",
    ]
    for r in results:
        if "failed" in r:
            lines.append(f"| {r['preset']} | {r['epochs_done']} | failed: {r['failed']} | | | | | |")
            continue
        preds = r["predictions"]
        if preds is None:
            first = second = "(bidirectional: cannot generate)"
        else:
            first, second = (f"`{preds.get(p) or ''}`" for p in PREFIXES)
        gen = r.get("generation_perplexity")
        lines.append(
            f"| {r['preset']} | {r['epochs']} | {r['final_perplexity']:.2f} ({r['book_perplexity']}) "
            f"| {'n/a' if gen is None else f'{gen:.2f}'} | {r['wall_s']:.0f}s | {fmt_rate(r['tokens_per_s_median'])} | {first} | {second} |"
        )
    lines += [
        "",
        "Final ppl: the engine's training perplexity of the last epoch (the book prints the same "
        "number, in brackets). Generation ppl: the same text scored one character at a time, as the model "
        "writes, never seeing what comes next. Wall time includes the final predictions.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", default=",".join(PRESET_NAMES), help="comma-separated, default all four")
    p.add_argument("--epochs", type=int, default=0, help="override the presets' 500 epochs")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (default: torch's choice)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = p.parse_args(argv)
    names = [n.strip() for n in args.presets.split(",") if n.strip()]
    bad = [n for n in names if n not in PRESET_NAMES]
    if bad:
        p.error(f"unknown preset(s) {', '.join(bad)}; expected {', '.join(PRESET_NAMES)}")
    device, info = start(args, argv, "bench/full_presets.py")
    data_cache: dict = {}
    results, table = measure_each(
        names,
        lambda name: run_preset(name, args, device, data_cache),
        lambda done: markdown(done, info, args),
        args,
        info,
        f"presets-{device.type}",
    )
    print()
    print(table)
    return 1 if any("failed" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
