"""Pause / resume / stop / save-now, shared between the training thread and any other thread.

The training loop looks at these flags at every batch boundary: :meth:`RunControl.wait_while_paused`
returns at once while running and blocks on a condition (no polling, no CPU) while paused;
:attr:`stopping` reports a stop request. :meth:`stop` also wakes a paused loop, so stopping a
paused run works. :meth:`request_checkpoint` asks for a checkpoint at the next batch boundary;
it wakes a paused loop too, which writes the checkpoint and goes on waiting.
"""

from __future__ import annotations

import threading
import time
from typing import Callable


class RunControl:
    """Thread-safe run control flags (all methods may be called from any thread)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._stop = False
        self._paused = False
        self._save = False

    # ------------------------------------------------------------------ requests
    def pause(self) -> None:
        with self._cond:
            if not self._stop:
                self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._paused = False  # wake a paused loop so it can see the stop
            self._cond.notify_all()

    def request_checkpoint(self) -> None:
        with self._cond:
            self._save = True
            self._cond.notify_all()

    def take_checkpoint_request(self) -> bool:
        """Whether a checkpoint was asked for (the request is consumed)."""
        with self._cond:
            pending, self._save = self._save, False
            return pending

    # ------------------------------------------------------------------ state
    @property
    def stopping(self) -> bool:
        return self._stop

    @property
    def pause_requested(self) -> bool:
        return self._paused

    @property
    def checkpoint_requested(self) -> bool:
        return self._save

    def wait_while_paused(self, on_checkpoint: Callable[[], None] | None = None) -> float:
        """Block while paused; the seconds spent waiting (0.0 when not paused).

        A checkpoint request that comes in while paused calls ``on_checkpoint`` (on this
        thread, without the lock held) and the wait goes on.
        """
        start = time.perf_counter()
        with self._cond:
            if not self._paused:
                return 0.0
            while self.pause_requested:  # (a property: re-read on every turn)
                if self._save and on_checkpoint is not None:
                    self._save = False
                    self._cond.release()
                    try:
                        on_checkpoint()
                    finally:
                        self._cond.acquire()
                    continue
                self._cond.wait()
        return time.perf_counter() - start
