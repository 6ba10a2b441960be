"""Freed tensor memory stays with the process: a batch-sized block comes from the reusable heap."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# A fresh process (the thresholds are process-wide and cannot be put back): malloc a 24 MB block,
# the size of a batch's activations, and ask glibc (mallinfo2) whether it was served by mmap --
# fresh pages on every batch, given back on free -- or from the heap, which keeps them.
PROBE = r"""
import ctypes, json, sys
import torch  # noqa: F401  (what a run has imported before it starts)
from lstm_tui.core.engine.allocator import keep_freed_memory

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, (ctypes.c_size_t,)
libc.free.argtypes = (ctypes.c_void_p,)
tuned = keep_freed_memory() if sys.argv[1] == "tuned" else False
before = libc.mallinfo2().hblkhd
block = libc.malloc(24 * 1024 * 1024)
mmapped = libc.mallinfo2().hblkhd - before
libc.free(block)
print(json.dumps({"tuned": tuned, "mmapped_bytes": mmapped}))
"""


def _probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and mallinfo2")
def test_a_batch_sized_block_comes_from_the_heap_once_tuned():
    default, tuned = _probe("default"), _probe("tuned")
    assert default["tuned"] is False and default["mmapped_bytes"] >= 24 * 1024 * 1024  # glibc's own choice
    assert tuned["tuned"] is True and tuned["mmapped_bytes"] == 0


def test_a_run_tunes_the_allocator(small_corpus, monkeypatch):
    from lstm_tui.core.engine import Trainer, allocator
    from lstm_tui.core.presets import PRESETS

    calls = []
    monkeypatch.setattr(allocator, "keep_freed_memory", lambda: calls.append(1) or True)
    monkeypatch.setattr("lstm_tui.core.engine.trainer.keep_freed_memory", allocator.keep_freed_memory)
    config = PRESETS["scratch"].config.replace(
        corpus=str(small_corpus), max_tokens=1000, hidden=8, batch_size=4, num_steps=5, epochs=1, predict_every=0
    )
    Trainer(config).run()
    assert calls == [1]


def test_the_opt_out_leaves_the_defaults(monkeypatch):
    from lstm_tui.core.engine import allocator

    monkeypatch.setattr(allocator, "_done", False)
    monkeypatch.setenv(allocator.OPT_OUT_ENV, "1")
    assert allocator.keep_freed_memory() is False
