"""From the command line to the first batch of a big text: ``lstm-tui train`` as a user runs it.

    python bench/cli_first_batch.py [--sizes 10 100] [--tries 3] [--keep DIR]

Each try starts a fresh ``python -m lstm_tui train --corpus FILE --raw --max-tokens 0
--batch-size 256 --num-steps 64 --json --no-run-dir`` on a generated text (the generator of
``corpus_pipeline.py``; never shipped) and reads its JSON events: when the corpus load first
reports, when the run has started (the corpus loaded and cut, the model and the optimizer
built: what comes next is the first batch), and when batch 1 is done; then it is killed and its
peak memory read (``ru_maxrss`` of the whole process). As a same-run reference, a fresh
``python -c "import torch"`` is timed the same number of times: the floor for any run that
trains with torch. Reported: the median and the range of each, and the ratio of the start of
the first batch to that floor.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

import common  # noqa: F401  (puts the repository on sys.path)
from common import DEFAULT_OUT, REPO, machine_info, machine_line, now_iso, write_results
from corpus_pipeline import generate

TRAIN_FLAGS = ["--raw", "--max-tokens", "0", "--batch-size", "256", "--num-steps", "64"]
#: The generated text has no "m" or "v": the book's "time traveller" is not a valid prefix.
SAMPLE_FLAGS = ["--prefix", "the ", "--device", "cpu", "--epochs", "1", "--json", "--no-run-dir"]


def one_train(path: Path) -> dict:
    """One fresh ``lstm-tui train``: seconds to its first load event, to Started, to batch 1."""
    command = [sys.executable, "-m", "lstm_tui", "train", "--corpus", str(path), *TRAIN_FLAGS, *SAMPLE_FLAGS]
    begin = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: dict[str, float] = {}
    assert process.stdout is not None
    for line in process.stdout:
        event = json.loads(line).get("event")
        seen.setdefault(event, time.perf_counter() - begin)
        if event in ("progress", "failed", "finished"):
            break
    process.kill()
    _, status, usage = os.wait4(process.pid, 0)
    if "progress" not in seen:
        raise SystemExit(
            f"no first batch from {' '.join(command)}: {process.stderr.read()[-2000:] if process.stderr else ''}"
        )
    return {
        "load_s": seen.get("load"),
        "started_s": seen["started"],
        "batch1_s": seen["progress"],
        "peak_mb": usage.ru_maxrss / 1024,
    }


def import_torch() -> float:
    begin = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - begin


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def measure(sizes: list[int], tries: int, folder: Path) -> list[dict]:
    rows = []
    for size in sizes:
        path = folder / f"gen-{size}mb.txt"
        if not path.exists():
            generate(path, size)
        one_train(path)  # (a warm-up: the file and the packages in the page cache)
        trains, floors = [], []
        for _ in range(tries):  # (interleaved: the machine's load falls on both alike)
            trains.append(one_train(path))
            floors.append(import_torch())
        started = [t["started_s"] for t in trains]
        rows.append(
            {
                "megabytes": size,
                "tries": trains,
                "import_torch_s": floors,
                "started_median_s": statistics.median(started),
                "batch1_median_s": statistics.median(t["batch1_s"] for t in trains),
                "peak_mb_max": max(t["peak_mb"] for t in trains),
                "ratio_to_import": statistics.median(started) / statistics.median(floors),
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| text | first batch starts, s | batch 1 done, s | `import torch` alone, s | ratio (starts / import) | peak memory, MB |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        tries = row["tries"]
        lines.append(
            f"| {row['megabytes']} MB | {spread([t['started_s'] for t in tries])} | "
            f"{spread([t['batch1_s'] for t in tries])} | {spread(row['import_torch_s'])} | "
            f"{row['ratio_to_import']:.2f} | {row['peak_mb_max']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100], help="text sizes in MB")
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the generated texts in this folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temp:
        folder = args.keep or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        rows = measure(args.sizes, args.tries, folder)
    info = machine_info(torch.device("cpu"))
    markdown = f"{now_iso()} · {machine_line(info)}\n\n{table(rows)}"
    print(markdown)
    write_results(args.out, "cli-first-batch", {"when": now_iso(), "machine": info, "rows": rows}, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
