"""Pause / resume / stop, shared between the training thread and any other thread.

The training loop calls :meth:`RunControl.checkpoint` at every batch boundary: it returns at
once while running, blocks on an ``Event`` (no polling, no CPU) while paused, and reports a
stop request. :meth:`stop` also wakes a paused loop, so stopping a paused run works.
"""

from __future__ import annotations

import threading
import time


class RunControl:
    """Thread-safe run control flags (all methods may be called from any thread)."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._go = threading.Event()
        self._go.set()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ requests
    def pause(self) -> None:
        with self._lock:
            if not self._stop.is_set():
                self._go.clear()

    def resume(self) -> None:
        with self._lock:
            self._go.set()

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            self._go.set()  # wake a paused loop so it can see the stop

    # ------------------------------------------------------------------ state
    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def pause_requested(self) -> bool:
        return not self._go.is_set()

    def wait_while_paused(self) -> float:
        """Block while paused; the seconds spent waiting (0.0 when not paused)."""
        if self._go.is_set():
            return 0.0
        start = time.perf_counter()
        self._go.wait()
        return time.perf_counter() - start
