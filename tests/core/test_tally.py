"""EpochTally: an epoch's loss sum, tokens and tokens/s (pauses excluded), resumed totals."""

from __future__ import annotations

import math

import pytest
import torch

from lstm_tui.core.engine.errors import NonFinite
from lstm_tui.core.engine.tally import EpochTally


def test_sums_mean_losses_weighted_by_tokens():
    tally = EpochTally(1, torch.device("cpu"))
    tally.add(torch.tensor(2.0), 10)
    tally.add(torch.tensor(4.0), 30)
    assert tally.tokens == 40
    assert tally.total() == pytest.approx(2.0 * 10 + 4.0 * 30)


def test_resumed_totals_count_in_the_sum_but_not_in_the_rate():
    tally = EpochTally(3, torch.device("cpu"), accum={"loss_sum": 50.0, "tokens": 100})
    tally.add(torch.tensor(1.0), 20)
    assert tally.total() == pytest.approx(70.0) and tally.tokens == 120
    assert tally.rate(tally.start + 2.0) == pytest.approx(20 / 2.0)  # the 100 resumed tokens are not this session's


def test_rate_leaves_out_paused_time():
    tally = EpochTally(1, torch.device("cpu"))
    tally.add(torch.tensor(1.0), 300)
    tally.paused = 2.0
    assert tally.rate(tally.start + 3.0) == pytest.approx(300 / 1.0)


def test_a_non_finite_loss_is_reported_with_its_epoch():
    tally = EpochTally(7, torch.device("cpu"))
    tally.add(torch.tensor(math.nan), 5)
    with pytest.raises(NonFinite) as info:
        tally.total()
    assert "epoch 7" in str(info.value)
