"""The corpus pipeline against the book's, on generated texts of 1, 10 and 100 MB.

    python bench/corpus_pipeline.py [--sizes 1 10 100] [--keep DIR]

The book's pipeline (d2l's chapter: ``readlines``, a regex per line, lists of one-character
strings, a Counter, a list of indices, then a LongTensor) and ours (``load_corpus`` and the
first minibatch of batch_size 256 x num_steps 64) each run in a fresh subprocess, so the peak
memory (``ru_maxrss``: the whole process, imports included) is each one's own. Times exclude
starting Python and importing torch (measured separately: "import" column). Both build the
same vocabulary and indices (checked by comparing a digest of the indices). The texts are
generated (English-like words, punctuation, lines of about 70 characters), never shipped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: A digest of the indices, taken after the peak was read (in chunks: it adds little memory).
DIGEST_CODE = r"""
def DIGEST(ids):
    digest = hashlib.sha1()
    for start in range(0, len(ids), 1 << 22):
        digest.update(ids[start:start + (1 << 22)].to(torch.int32).numpy().tobytes())
    return digest.hexdigest()
"""

BOOK = r"""
import collections, hashlib, re, resource, sys, time, torch
path = sys.argv[1]
t0 = time.perf_counter()
with open(path) as f:
    lines = f.readlines()
lines = [re.sub('[^A-Za-z]+', ' ', line).strip().lower() for line in lines]
tokens = [list(line) for line in lines]
counter = collections.Counter(token for line in tokens for token in line)
freqs = sorted(counter.items(), key=lambda x: x[1], reverse=True)
idx_to_token = ['<unk>'] + [t for t, _ in freqs]
token_to_idx = {t: i for i, t in enumerate(idx_to_token)}
corpus = [token_to_idx[token] for line in tokens for token in line]
ids = torch.tensor(corpus, dtype=torch.long)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
del corpus, tokens, lines
digest = DIGEST(ids)
print({"seconds": seconds, "first_batch_s": None, "peak_mb": peak,
       "tokens": len(ids), "vocab": len(idx_to_token), "digest": digest})
"""

OURS = r"""
import hashlib, random, resource, sys, time, torch
from lstm_tui.core.config import RunConfig
from lstm_tui.core.data import data_iter, load_corpus
path, raw = sys.argv[1], sys.argv[2] == "raw"
t0 = time.perf_counter()
data = load_corpus(RunConfig(corpus=path, raw=raw, max_tokens=0, batch_size=256, num_steps=64))
loaded = time.perf_counter() - t0
X, Y = next(iter(data_iter(data.train, 256, 64, "sequential", random.Random(0))))
first = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
digest = DIGEST(data.train)
print({"seconds": loaded, "first_batch_s": first, "peak_mb": peak,
       "tokens": len(data.train), "vocab": len(data.vocab), "digest": digest, "dtype": str(data.train.dtype)})
"""

IMPORTS = r"""
import resource, time
t0 = time.perf_counter()
import torch
from lstm_tui.core.data import load_corpus
print({"seconds": time.perf_counter() - t0, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
"""


def generate(path: Path, megabytes: int, seed: int = 0) -> None:
    """English-like text: words from a Zipf-ish list, punctuation, lines of about 70 characters."""
    rng = random.Random(seed)
    syllables = ["th", "e", "an", "re", "in", "on", "er", "at", "en", "nd", "ti", "es", "or", "te", "of", "ed"]
    words = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(3000)]
    weights = [1 / (rank + 1) for rank in range(len(words))]
    block_words = rng.choices(words, weights, k=200_000)
    lines, line = [], []
    for i, word in enumerate(block_words):
        line.append(word.capitalize() if i % 17 == 0 else word)
        if i % 11 == 10:
            line[-1] += rng.choice([",", ".", ";", "!", "?"])
        if sum(map(len, line)) + len(line) > 70:
            lines.append(" ".join(line))
            line = []
    block = ("\n".join(lines) + "\n").encode()
    target = megabytes * 2**20
    with open(path, "wb") as f:
        written = 0
        while written < target:
            piece = block[: target - written]
            f.write(piece)
            written += len(piece)


def run(script: str, *args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    code = script
    if "DIGEST(" in code:
        head, _, rest = code.partition("\nt0 = time.perf_counter()")
        code = head + DIGEST_CODE + "\nt0 = time.perf_counter()" + rest
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
    return eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own subprocess's dict


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100], help="text sizes in MB")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    ns = parser.parse_args(argv)
    imports = run(IMPORTS)
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"python {platform.python_version()}"
    )
    print(f"importing torch + lstm_tui: {imports['seconds']:.2f} s, {imports['peak_mb']:.0f} MB (in every row's peak)")
    header = (
        f"{'text':>6} | {'book s':>7} {'book MB':>8} | {'ours s':>7} {'1st batch s':>11} {'ours MB':>8} | "
        f"{'speed-up':>8} {'memory':>7} | {'raw s':>6} {'raw MB':>7}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    with tempfile.TemporaryDirectory(prefix="corpus-bench-") as folder:
        for size in ns.sizes:
            path = Path(folder) / f"text_{size}mb.txt"
            generate(path, size)
            book, ours, raw = run(BOOK, str(path)), run(OURS, str(path), "clean"), run(OURS, str(path), "raw")
            assert book["digest"] == ours["digest"] and book["vocab"] == ours["vocab"], "the indices differ"
            rows.append({"mb": size, "book": book, "ours": ours, "raw": raw})
            print(
                f"{size:>4}MB | {book['seconds']:>7.2f} {book['peak_mb']:>8.0f} | {ours['seconds']:>7.2f} "
                f"{ours['first_batch_s']:>11.2f} {ours['peak_mb']:>8.0f} | {book['seconds'] / ours['seconds']:>7.1f}x "
                f"{book['peak_mb'] / ours['peak_mb']:>6.1f}x | {raw['first_batch_s']:>6.2f} {raw['peak_mb']:>7.0f}",
                flush=True,
            )
            path.unlink()
    if ns.json:
        Path(ns.json).write_text(json.dumps({"imports": imports, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
