"""Internal exceptions of the training loop (``run()`` turns each into a :class:`Failed`)."""

from __future__ import annotations

import math

from ..events import Event
from .metrics import diverged


class HandlerError(Exception):
    """The ``on_event`` handler raised; the run ends with a Failed saying so."""

    def __init__(self, event: Event, cause: BaseException):
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.event = event
        self.cause = cause


class NonFinite(Exception):
    """The loss (mean per token, ``value``) or the weights stopped being finite numbers."""

    def __init__(self, value: float, epoch: int, what: str = "loss"):
        super().__init__(f"{what} {value} at epoch {epoch}")
        self.value = value
        self.epoch = epoch
        self.what = what


def check_loss(loss_sum: float, tokens: int, epoch: int) -> None:
    if diverged(loss_sum, tokens):
        raise NonFinite(loss_sum / tokens if tokens and math.isfinite(loss_sum) else loss_sum, epoch)
