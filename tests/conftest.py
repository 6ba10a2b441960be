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
