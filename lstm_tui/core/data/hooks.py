"""What a corpus load reports while it works, and how it is cancelled.

Every loading loop (reading, decoding, cleaning, counting, indexing) works in chunks and calls
:meth:`LoadHooks.step` after each one: the progress callback sees ``(stage, done, total)`` and a
cancel request raises :class:`~.errors.LoadCancelled` at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import LoadCancelled

#: ``progress(stage, done, total_or_None)``; ``done``/``total`` count bytes of the text.
LoadProgressFn = Callable[[str, int, "int | None"], None]

STAGES = ("reading", "decoding", "checking", "counting", "cleaning", "indexing")


@dataclass(frozen=True)
class LoadHooks:
    """Progress, cancel and status callbacks of one load (all optional)."""

    progress: LoadProgressFn | None = None
    cancelled: Callable[[], bool] | None = None
    status: Callable[[str], None] | None = None

    def check(self) -> None:
        """Raise :class:`LoadCancelled` when a cancel was asked for."""
        if self.cancelled is not None and self.cancelled():
            raise LoadCancelled()

    def step(self, stage: str, done: int, total: int | None) -> None:
        """After a chunk: cancel check, then the progress report."""
        self.check()
        if self.progress is not None:
            self.progress(stage, done, total)

    def say(self, message: str) -> None:
        if self.status is not None:
            self.status(message)


NO_HOOKS = LoadHooks()
