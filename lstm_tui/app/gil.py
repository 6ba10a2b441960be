"""A short GIL switch interval while a run trains (the main screen's run and the book's)."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator

GIL_SWITCH_INTERVAL_S = 0.0005  # Python's default is 0.005

_gil_lock = threading.Lock()
_gil_holders = 0  # runs inside short_gil_switches (the main screen's and the book's never overlap, but may touch)
_gil_default = 0.005


@contextlib.contextmanager
def short_gil_switches(interval: float = GIL_SWITCH_INTERVAL_S) -> Iterator[None]:
    """Make a thread that waits for the GIL get it within ``interval`` seconds, for a run's length.

    The training thread drops the GIL inside every torch op and needs it back between ops. When
    the UI thread holds it (redrawing the chart, laying out a log line), Python's default 5 ms
    switch interval leaves the training thread -- and the OpenMP threads waiting on it -- idle
    for up to 5 ms per op, many times over during one redraw. 0.5 ms keeps the UI's share of
    the training time small; the UI still gets the GIL whenever torch runs, so keys stay fast.
    The first run in sets it and the last one out puts the old value back.
    """
    global _gil_holders, _gil_default
    with _gil_lock:
        if _gil_holders == 0:
            _gil_default = sys.getswitchinterval()
            sys.setswitchinterval(min(_gil_default, interval))
        _gil_holders += 1
    try:
        yield
    finally:
        with _gil_lock:
            _gil_holders -= 1
            if _gil_holders == 0:
                sys.setswitchinterval(_gil_default)
