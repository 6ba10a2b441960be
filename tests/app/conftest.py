"""Fixtures for the app tests: a tiny, fast, seeded run on the shared corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstm_tui.core.presets import PRESETS


@pytest.fixture
def tiny_config(shared_data_dir: Path):
    return PRESETS["scratch"].config.replace(
        data_dir=str(shared_data_dir), max_tokens=2000, hidden=32, batch_size=8, num_steps=10,
        epochs=4, predict_every=2, predict_length=20, device="cpu", seed=0, checkpoint_every=0)


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"
