"""The one throttle of the event streams (the trainer's batch progress, a corpus load's and a download's progress).

In the core's top level, not the engine: the run preparation throttles a load with it before torch is imported.
"""

from __future__ import annotations

import time


class Throttle:
    """``due()`` is True at most once every ``interval_s`` seconds (and always when forced)."""

    def __init__(self, interval_s: float, start: float | None = None):
        self.interval_s = interval_s
        self.last = time.perf_counter() if start is None else start

    def due(self, now: float | None = None, force: bool = False) -> bool:
        now = time.perf_counter() if now is None else now
        if force or now - self.last >= self.interval_s:
            self.last = now
            return True
        return False
