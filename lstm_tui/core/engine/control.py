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
from collections.abc import Callable
from typing import Any


class RunControl:
    """Thread-safe run control flags (all methods may be called from any thread)."""

    def __init__(self, check_knobs: Callable[[dict[str, Any]], dict[str, float]] | None = None) -> None:
        self._cond = threading.Condition()
        self._stop = False
        self._paused = False
        self._save = False
        self._check_knobs = check_knobs  # validates set_knobs' changes (raises ConfigError)
        self._knobs: dict[str, float] = {}

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

    def set_knobs(self, **changes: Any) -> dict[str, float]:
        """Queue live-knob changes for the next batch boundary (later ones win); returns them
        as validated. Raises what the validator raises (``ConfigError`` naming the field)."""
        parsed = (
            self._check_knobs(dict(changes))
            if self._check_knobs is not None
            else {k: float(v) for k, v in changes.items()}
        )
        with self._cond:
            self._knobs.update(parsed)
        return parsed

    def take_knobs(self) -> dict[str, float]:
        """The queued knob changes (consumed); {} when none."""
        with self._cond:
            pending, self._knobs = self._knobs, {}
            return pending

    @property
    def knobs_pending(self) -> bool:
        return bool(self._knobs)

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
