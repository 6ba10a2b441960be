"""Learning-rate schedules per epoch, as pure functions of the config and the run's history
(so a resumed or forked run gets the same rates without extra state; no torch here).

The rate of epoch ``n`` (1-based) is ``config.lr * lr_factor(config, n, val_history)``:

* warm-up: ``n / warmup_epochs`` for the first ``warmup_epochs`` epochs (any schedule);
* ``none``: 1 (the book's constant rate);
* ``step``: ``lr_gamma ** (t // lr_step_every)``, ``t`` the schedule's epochs before this one;
* ``cosine``: ``(1 + cos(pi * t / T)) / 2`` over the ``T = epochs - warmup_epochs`` epochs;
* ``plateau``: ``lr_gamma ** k``, ``k`` the decreases so far: one each time ``plateau_patience``
  epochs in a row brought no validation perplexity below the best so far (the count restarts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .config import RunConfig


def scheduled(config: RunConfig) -> bool:
    """Whether the rate changes from epoch to epoch (False: the book's constant ``lr``)."""
    return config.lr_schedule != "none" or config.warmup_epochs > 0


def lr_factor(config: RunConfig, epoch: int, val_history: Sequence[float | None] = ()) -> float:
    """The factor on ``config.lr`` for epoch ``epoch``; ``val_history``: the validation
    perplexities of the epochs before it (None where an epoch had none)."""
    warm = config.warmup_epochs
    if warm and epoch <= warm:
        return epoch / warm
    t = max(0, epoch - 1 - warm)
    if config.lr_schedule == "step":
        return float(config.lr_gamma ** (t // config.lr_step_every))
    if config.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t / max(1, config.epochs - warm)))
    if config.lr_schedule == "plateau":
        return float(config.lr_gamma ** plateau_decreases(val_history[: max(0, epoch - 1)], config.plateau_patience))
    return 1.0


def plateau_decreases(values: Sequence[float | None], patience: int) -> int:
    """How many times ``patience`` epochs in a row brought no new best (lowest) value."""
    best, bad, decreases = math.inf, 0, 0
    for value in values:
        if value is None:
            continue
        if value < best:
            best, bad = value, 0
            continue
        bad += 1
        if bad >= patience:
            decreases, bad = decreases + 1, 0
    return decreases


def epochs_since_best(values: Sequence[float | None]) -> tuple[int, int | None]:
    """``(epochs since the best value, index of the best)``: ``(0, i)`` when the last is the best."""
    best_index: int | None = None
    for index, value in enumerate(values):
        if value is not None and (best_index is None or value < (values[best_index] or math.inf)):
            best_index = index
    if best_index is None:
        return 0, None
    return len(values) - 1 - best_index, best_index
