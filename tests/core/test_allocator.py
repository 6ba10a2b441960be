"""Freed tensor memory stays with the process: training batches stop faulting in fresh pages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = r"""
import json, resource, sys, torch
torch.set_num_threads(1)
from lstm_tui.core.engine import Trainer
from lstm_tui.core.engine import allocator
from lstm_tui.core.presets import PRESETS
config = PRESETS["concise"].config.replace(epochs=5, data_dir=sys.argv[2], device="cpu", predict_every=0)
marks = {}
def on_event(event):
    if type(event).__name__ == "EpochEnd" and event.epoch in (1, 5):
        marks[event.epoch] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    if type(event).__name__ == "Started":
        marks["batches"] = event.batches_per_epoch
Trainer(config, on_event=on_event).run()
print(json.dumps({"tuned": allocator._done, "faults_per_batch": (marks[5] - marks[1]) / (4 * marks["batches"])}))
"""


def _probe(mode: str, data_dir) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, mode, str(data_dir)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_tuned_process_stops_page_faulting_every_batch(shared_data_dir):
    """The book's concise config trained by the engine: a batch reuses the memory of the last.

    With glibc's defaults the same probe gives anywhere from ~10 to ~900 page faults per batch
    (its dynamic mmap threshold settles differently from run to run); tuned, it stays low every
    time. A batch that got fresh pages for its ~4 MB of activations would fault ~1,000 times.
    """
    for _ in range(2):
        tuned = _probe("tuned", shared_data_dir)
        assert tuned["tuned"] is True
        assert tuned["faults_per_batch"] < 100


def test_the_opt_out_leaves_the_defaults(monkeypatch):
    from lstm_tui.core.engine import allocator

    monkeypatch.setattr(allocator, "_done", False)
    monkeypatch.setenv(allocator.OPT_OUT_ENV, "1")
    assert allocator.keep_freed_memory() is False
