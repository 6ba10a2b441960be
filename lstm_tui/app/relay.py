"""Engine events from the training thread to the UI, in a few batches a second.

Every message posted from the worker wakes the UI thread, and every wake-up is work on the
thread that shares the GIL (and the two cores) with training. So the relay collects events and
posts them together at most every :data:`POST_INTERVAL_S` seconds (messages posted together are
handled in one wake-up); events a person waits for (a state change, a status line, a saved
checkpoint) go at once, taking the queue with them. Nothing is dropped except superseded
progress: a newer ``BatchProgress``/``DownloadProgress`` replaces a queued one of its kind at
the end of the queue. (The Trainer already emits ``BatchProgress`` at most every 0.2 s; a
download reports every chunk, and the replacing keeps that to one per post.)
"""

from __future__ import annotations

import time
from typing import Any, Callable

from lstm_tui.core import events as ev

POST_INTERVAL_S = 0.25  # batches of events reach the UI at most ~4 times a second
PROGRESS = (ev.BatchProgress, ev.DownloadProgress)
URGENT = (ev.Started, ev.Status, ev.Checkpointed, ev.Finished, ev.Failed)


class EventRelay:
    """Call :meth:`__call__` with each engine event; ``post(event)`` gets them in order.

    One relay per train worker, called only from that worker's thread (the Trainer emits every
    event from the thread that runs it), so it needs no lock.
    """

    def __init__(self, post: Callable[[Any], None], clock: Callable[[], float] = time.monotonic) -> None:
        self._post = post
        self._clock = clock
        self._pending: list[Any] = []
        self._last_post = float("-inf")

    def __call__(self, event: Any) -> None:
        now = self._clock()
        if isinstance(event, PROGRESS) and self._pending and type(self._pending[-1]) is type(event):
            self._pending.pop()  # superseded by this newer progress
        self._pending.append(event)
        if isinstance(event, URGENT) or now - self._last_post >= POST_INTERVAL_S:
            self._flush(now)

    def flush(self) -> None:
        """Post whatever is queued (the worker calls this before it ends)."""
        self._flush(self._clock())

    def _flush(self, now: float) -> None:
        pending, self._pending = self._pending, []
        self._last_post = now
        for event in pending:
            self._post(event)
