"""Fixtures for the app tests: a tiny, fast, seeded run on the small generated corpus (or on
the shared book, for the tests that go back to The Time Machine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstm_tui.core.presets import PRESETS

TINY = {
    "max_tokens": 2000,
    "hidden": 32,
    "batch_size": 8,
    "num_steps": 10,
    "epochs": 4,
    "predict_every": 2,
    "predict_length": 20,
    "device": "cpu",
    "seed": 0,
    "checkpoint_every": 0,
}


@pytest.fixture
def tiny_config(small_corpus: Path):
    """The scratch preset, tiny, on the small generated corpus (its folder as the data dir)."""
    return PRESETS["scratch"].config.replace(corpus=str(small_corpus), data_dir=str(small_corpus.parent), **TINY)


@pytest.fixture
def book_tiny_config(shared_data_dir: Path):
    """``tiny_config`` on The Time Machine, for tests that clear the corpus field to get the book."""
    return PRESETS["scratch"].config.replace(data_dir=str(shared_data_dir), **TINY)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"
