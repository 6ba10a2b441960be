"""The names of a run folder's files (one place: everything else imports them from here)."""

from __future__ import annotations

RUNS_ENV = "LSTM_TUI_RUNS_DIR"
CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
#: The checkpoint of the best validation perplexity so far (early stopping keeps it).
BEST_FILE = "best.pt"
SUMMARY_FILE = "summary.json"
#: The time-lapse's weight snapshots: ``snapshots/epoch-00010.pt`` (see snapshots.py).
SNAPSHOTS_DIR = "snapshots"
SNAPSHOT_PATTERN = "epoch-{epoch:05d}.pt"
#: Held by the trainer while it trains the run (see lock.py); names its pid and host.
LOCK_FILE = ".training.lock"
#: The summary's record of when a renamed run was created (ISO 8601, local time).
CREATED_KEY = "created"

#: A forked run's origin: its parent and the epoch and batch it forked at (see core/fork.py).
FORK_FILE = "fork.json"
#: The key of a live-knob record in metrics.jsonl (epoch records have none).
KNOB_KEY = "knob"


def is_knob_record(record: object) -> bool:
    """A metrics.jsonl line that records a live-knob change, not an epoch."""
    return isinstance(record, dict) and KNOB_KEY in record


class RunError(Exception):
    """A run folder is missing, not a run, or cannot be written; ``str()`` says which."""


# ----------------------------------------------------------------------------- sweeps (core/sweep)
#: Under the runs root: ``<name>.json`` records a sweep (its runs and varying fields) and the
#: folder ``<name>/`` holds each run's launch config (``<run>.toml``) and output (``<run>.log``).
SWEEPS_DIR = ".sweeps"
#: In a run folder that a sweep made: ``{"sweep": name, "index": i, "values": {field: value}}``.
SWEEP_TAG_FILE = "sweep.json"
