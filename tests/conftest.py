"""Shared fixtures: the real corpus from ../shared/data (never copied into the project)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Tests use tiny tensors: one intra-op thread avoids OpenMP barrier stalls when the machine is
# busy (a batch-1 LSTM step took 50 ms with 2 threads under load, 0.4 ms with one).
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LSTM_TUI_TEST_DATA", REPO.parent / "shared" / "data"))
CORPUS_FILE = SHARED_DATA / "timemachine.txt"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The folder holding d2l's timemachine.txt, used as the project's data-directory setting."""
    if not CORPUS_FILE.is_file():
        pytest.skip(f"corpus not found at {CORPUS_FILE}; set LSTM_TUI_TEST_DATA")
    return SHARED_DATA


@pytest.fixture(scope="session")
def corpus_bytes(shared_data_dir: Path) -> bytes:
    return (shared_data_dir / "timemachine.txt").read_bytes()


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path_factory, monkeypatch):
    """No test touches the user's real cache or runs directory."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("LSTM_TUI_RUNS_DIR", str(home / "runs"))
    monkeypatch.setenv("LSTM_TUI_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("LSTM_TUI_CONFIG_DIR", str(home / "config"))  # no user settings.toml


TINY_RUN = dict(
    device="cpu", batch_size=8, num_steps=10, max_tokens=2000, predict_every=1,
    checkpoint_every=0, predict_length=10, lr=1.0, seed=0,
)
TRAINED_RUNS = {
    "small": dict(preset="scratch", impl="scratch", hidden=16, epochs=2),
    "held-out": dict(preset="concise", impl="torch", hidden=32, epochs=3, val_split=0.1),
}


@pytest.fixture(scope="session")
def trained_runs_root(tmp_path_factory, shared_data_dir) -> Path:
    """A runs folder with two finished tiny runs (one with held-out data), trained once.

    Tests that change runs copy the folder first (``shutil.copytree``).
    """
    from lstm_tui.core.config import RunConfig
    from lstm_tui.core.engine import Trainer
    from lstm_tui.core.events import Finished
    from lstm_tui.core.runs import RunDir

    root = tmp_path_factory.mktemp("trained-runs")
    for name, changes in TRAINED_RUNS.items():
        config = RunConfig.from_mapping({**TINY_RUN, "data_dir": str(shared_data_dir), **changes})
        assert isinstance(Trainer(config, run_dir=RunDir.create(root, config, name=name)).run(), Finished)
    return root


@pytest.fixture(scope="session")
def trained_runs_spec() -> dict:
    """What each run in ``trained_runs_root`` was trained with, by run name."""
    return TRAINED_RUNS
