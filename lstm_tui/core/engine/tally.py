"""One epoch's running totals: the loss sum (kept on the device), tokens and time.

The loss sum stays a device tensor so that a batch never waits for the device; ``total()`` is
the host sync, called only for a progress event, a checkpoint or the epoch's end, and it checks
the loss is finite. Time spent paused does not count towards tokens/s.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from .errors import check_loss


class EpochTally:
    def __init__(self, number: int, device: torch.device, accum: dict[str, Any] | None = None):
        """``accum``: the totals of the batches already done (a mid-epoch checkpoint's), if any."""
        self.number = number
        self.loss_sum = torch.zeros((), dtype=torch.float32, device=device)
        self.tokens = 0
        if accum:
            self.loss_sum += float(accum.get("loss_sum", 0.0))
            self.tokens = int(accum.get("tokens", 0))
        self.tokens_before = self.tokens  # tokens/s counts this session's batches only
        self.start = time.perf_counter()
        self.paused = 0.0

    def add(self, loss: torch.Tensor, count: int) -> None:
        """A batch's mean loss over ``count`` tokens (no host sync)."""
        self.loss_sum.add_(loss, alpha=count)  # (in place: no temporary, one op a batch)
        self.tokens += count

    def total(self) -> float:
        """The loss sum on the host; raises :class:`~.errors.NonFinite` if it is not finite."""
        total = self.loss_sum.item()
        check_loss(total, self.tokens, self.number)
        return total

    def rate(self, now: float | None = None) -> float:
        """Tokens per second since the epoch (or the resume) began, pauses excluded."""
        wall = max((time.perf_counter() if now is None else now) - self.start - self.paused, 1e-9)
        return (self.tokens - self.tokens_before) / wall
