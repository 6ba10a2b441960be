"""Shared fixtures: the real corpus from ../shared/data (never copied into the project), and a
small generated corpus for the tests that need some text but not the book's numbers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from small_text import small_corpus_text  # (its own module: tests import it, and two conftests share a name)

# Tests use tiny tensors: one intra-op thread avoids OpenMP barrier stalls when the machine is
# busy (a batch-1 LSTM step took 50 ms with 2 threads under load, 0.4 ms with one).
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LSTM_TUI_TEST_DATA", REPO.parent / "shared" / "data"))
CORPUS_FILE = SHARED_DATA / "timemachine.txt"


def in_ci() -> bool:
    """True where the environment variable CI is set to anything but "", "0" or "false"."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The folder holding d2l's timemachine.txt, used as the project's data-directory setting.

    Missing, it fails the test in CI (a suite must never pass by skipping) and skips it elsewhere.
    """
    if not CORPUS_FILE.is_file():
        reason = f"corpus not found at {CORPUS_FILE}; set LSTM_TUI_TEST_DATA to the folder holding timemachine.txt"
        if in_ci():
            pytest.fail(f"{reason} (CI is set, so a missing corpus is a failure)", pytrace=False)
        pytest.skip(reason)
    return SHARED_DATA


#: Words of the generated corpus: every lowercase letter occurs, and so do the words of the
#: prefixes the tests use ("time traveller", "the time", "zebra").


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory) -> Path:
    """A generated corpus file (``small_corpus_text()``, about 40 KB) for tests that need some
    English-like text but not the book; a config points at it with ``corpus=str(small_corpus)``."""
    path = tmp_path_factory.mktemp("small-corpus") / "small.txt"
    path.write_text(small_corpus_text(), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def small_corpus_bytes(small_corpus: Path) -> bytes:
    return small_corpus.read_bytes()


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
    device="cpu",
    batch_size=8,
    num_steps=10,
    max_tokens=2000,
    predict_every=1,
    checkpoint_every=0,
    predict_length=10,
    lr=1.0,
    seed=0,
)
TRAINED_RUNS = {
    "small": dict(preset="scratch", impl="scratch", hidden=16, epochs=2),
    "held-out": dict(preset="concise", impl="torch", hidden=32, epochs=3, val_split=0.1),
}


def train_runs(root: Path, source: dict) -> Path:
    """Train each of ``TRAINED_RUNS`` into ``root`` on the corpus ``source`` names."""
    from lstm_tui.core.config import RunConfig
    from lstm_tui.core.engine import Trainer
    from lstm_tui.core.events import Finished
    from lstm_tui.core.runs import RunDir

    for name, changes in TRAINED_RUNS.items():
        config = RunConfig.from_mapping({**TINY_RUN, **source, **changes})
        assert isinstance(Trainer(config, run_dir=RunDir.create(root, config, name=name)).run(), Finished)
    return root


@pytest.fixture(scope="session")
def trained_runs_root(tmp_path_factory, small_corpus) -> Path:
    """A runs folder with two finished tiny runs (one with held-out data) on the small generated
    corpus, trained once.

    Tests that change runs copy the folder first (``shutil.copytree``).
    """
    return train_runs(tmp_path_factory.mktemp("trained-runs"), {"corpus": str(small_corpus)})


@pytest.fixture(scope="session")
def book_trained_runs_root(tmp_path_factory, shared_data_dir) -> Path:
    """The runs of ``trained_runs_root`` trained on the book, for a test whose expectation was
    recorded from the book's weights (the gate inspector's snapshot)."""
    return train_runs(tmp_path_factory.mktemp("book-trained-runs"), {"data_dir": str(shared_data_dir)})


@pytest.fixture(scope="session")
def trained_runs_spec() -> dict:
    """What each run in ``trained_runs_root`` was trained with, by run name."""
    return TRAINED_RUNS
