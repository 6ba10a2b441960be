"""Following run folders as another process trains them (on this host or over a shared folder).

:class:`RunFollower` reads each followed run's ``metrics.jsonl`` and ``samples.jsonl`` with a
:class:`~lstm_tui.core.tail.JsonlTail` and watches its ``summary.json`` and ``.training.lock``.
:meth:`RunFollower.poll` returns a :class:`RunUpdate` for each run with something new: new
metrics records (one a finished epoch), new samples, and the summary and status when they
changed. A run's first update, and the one after its files were rewritten (a resume trims
them atomically), has ``reset=True``: its records are the run's whole record so far.

The status is the summary's, read with :func:`~lstm_tui.core.runs.run_status` (``running`` with
no live lock holder is ``interrupted``); a run with no summary yet is ``running`` while a live
trainer holds its lock and ``unknown`` otherwise. A trainer killed outright changes no file, so
the lock of a ``running`` run is looked at again every :data:`LIVENESS_S` seconds.

:meth:`RunFollower.wait` blocks until something may have changed. On a local file system it
uses ``watchfiles`` (inotify and its kin: no work while nothing happens); where that cannot be
imported, or a folder is on a network file system (where another host's writes raise no local
event), or a followed folder does not exist yet, it stats the run files every ``poll_interval``
seconds. ``force_polling=True`` makes it poll always, ``False`` watch wherever it can. While the
runs keep changing (the last poll found news) it stats too, with the watcher stopped: busy runs
write many times a poll, and the watcher's thread would handle every write only to say what the
next stat says anyway; after a poll with no news it watches again. Typical use, on a worker thread::

    with RunFollower([run_a, run_b]) as follower:
        while not done:
            for update in follower.poll():
                show(update)
            follower.wait(1.0)
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .mounts import network_file_system
from .runs import is_knob_record, lock_holder, run_status
from .tail import JsonlTail

log = logging.getLogger(__name__)

__all__ = ["LIVENESS_S", "RunFollower", "RunUpdate", "network_file_system", "watchfiles_available"]

METRICS_NAME, SAMPLES_NAME, SUMMARY_NAME, LOCK_NAME = "metrics.jsonl", "samples.jsonl", "summary.json", ".training.lock"
WATCHED = (METRICS_NAME, SAMPLES_NAME, SUMMARY_NAME, LOCK_NAME)
#: Seconds between looks at the lock of a run that says it is running (a killed trainer).
LIVENESS_S = 2.0
Stat = tuple[int, int, int, int] | None  # (st_dev, st_ino, st_size, st_mtime_ns), None: missing


@dataclass(frozen=True)
class RunUpdate:
    """What is new in one followed run since the previous :meth:`RunFollower.poll`.

    ``reset``: ``metrics`` and ``samples`` are the run's whole record (its first update, or its
    files were rewritten): drop what was shown before. ``summary`` / ``status`` are set only
    when they changed. ``metrics`` holds epoch records only; ``knobs`` the live-knob records
    (``{"knob", "value", "previous", "epoch", "batch"}``: a marker on the chart, a log line)."""

    run: Path
    metrics: tuple[dict[str, Any], ...] = ()
    samples: tuple[dict[str, Any], ...] = ()
    summary: dict[str, Any] | None = None
    status: str | None = None
    reset: bool = False
    knobs: tuple[dict[str, Any], ...] = ()

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def latest(self) -> dict[str, Any] | None:
        """The newest metrics record in this update (the last epoch), if any."""
        return self.metrics[-1] if self.metrics else None


def _stat(path: Path) -> Stat:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


@dataclass
class _Run:
    """One followed run's readers and what was last seen of it."""

    path: Path
    metrics: JsonlTail = field(init=False)
    samples: JsonlTail = field(init=False)
    seen: tuple[Stat, ...] = ()
    summary: dict[str, Any] | None = None
    status: str | None = None
    checked: float = 0.0  # monotonic time of the last status check
    fresh: bool = True  # no update given yet

    def __post_init__(self) -> None:
        self.metrics, self.samples = JsonlTail(self.path / METRICS_NAME), JsonlTail(self.path / SAMPLES_NAME)

    def signature(self) -> tuple[Stat, ...]:
        return tuple(_stat(self.path / name) for name in WATCHED)

    def liveness_due(self, now: float) -> bool:
        return self.status == "running" and now - self.checked >= LIVENESS_S

    def poll(self, now: float) -> RunUpdate | None:
        sig = self.signature()
        old = self.seen or (None,) * len(WATCHED)
        self.seen = sig
        metrics, samples, reset = self._records(sig[0] != old[0] or self.fresh, sig[1] != old[1] or self.fresh)
        summary = self._read_summary() if sig[2] != old[2] else None
        status = None
        if sig[2:] != old[2:] or self.liveness_due(now) or self.fresh:
            status = self._check_status(now)
        if not (metrics or samples or reset or summary is not None or status is not None or self.fresh):
            return None
        self.fresh = False
        knobs = tuple(record for record in metrics if is_knob_record(record))
        epochs = tuple(record for record in metrics if not is_knob_record(record))
        return RunUpdate(self.path, epochs, tuple(samples), summary, status, reset, knobs)

    def _records(
        self, metrics_changed: bool, samples_changed: bool
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
        metrics = self.metrics.read_new() if metrics_changed else []
        samples = self.samples.read_new() if samples_changed else []
        if self.metrics.reset or self.samples.reset:  # one was rewritten: start both over
            self.metrics, self.samples = JsonlTail(self.metrics.path), JsonlTail(self.samples.path)
            return self.metrics.read_new(), self.samples.read_new(), True
        return metrics, samples, self.fresh

    def _read_summary(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self.path / SUMMARY_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data == self.summary:
            return None
        self.summary = data
        return data

    def _check_status(self, now: float) -> str | None:
        self.checked = now
        if self.summary is not None:
            status = str(run_status(self.path, self.summary))  # (a str enum in newer versions)
        else:
            status = "running" if lock_holder(self.path) is not None else "unknown"
        if status == self.status:
            return None
        self.status = status
        return status


def watchfiles_available() -> bool:
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        return False
    return True


class RunFollower:
    """Follows run folders; see the module docstring. ``poll`` and ``wait`` belong to one
    thread; ``add``, ``remove`` and ``close`` may be called from any."""

    def __init__(
        self,
        paths: Iterable[str | os.PathLike[str]] = (),
        *,
        force_polling: bool | None = None,
        poll_interval: float = 0.3,
    ) -> None:
        if not 0.01 <= poll_interval <= 60:
            raise ValueError(f"poll_interval must be between 0.01 and 60 seconds, not {poll_interval!r}")
        self.poll_interval = poll_interval
        self._force_polling = force_polling
        self._lock = threading.Lock()
        self._runs: dict[Path, _Run] = {}
        self._wake = threading.Event()
        self._stop_watch = threading.Event()
        self._watcher: threading.Thread | None = None
        self._watch_lock = threading.RLock()  # (the watcher is started and stopped from two threads)
        self._watchable = False  # whether these runs are watched (else polled) while quiet
        self._busy = False  # whether the last poll found news (then the files are statted)
        self._closed = False
        for path in paths:
            self._runs.setdefault(Path(path).absolute(), _Run(Path(path).absolute()))
        self._restart_watcher()

    # ------------------------------------------------------------------ what is followed
    @property
    def paths(self) -> list[Path]:
        with self._lock:
            return list(self._runs)

    @property
    def backend(self) -> str:
        """``"watchfiles"`` where a change watcher is used while the runs are quiet, else
        ``"polling"`` (network file systems, no watchfiles, a watcher that failed)."""
        return "watchfiles" if self._watchable else "polling"

    @property
    def watching(self) -> bool:
        """Whether the change watcher runs now (not while the runs are busy: see the module)."""
        watcher = self._watcher
        return watcher is not None and watcher.is_alive()

    def add(self, path: str | os.PathLike[str]) -> None:
        """Follow one more run (its first update, with ``reset``, comes at the next poll)."""
        key = Path(path).absolute()
        with self._lock:
            if key in self._runs:
                return
            self._runs[key] = _Run(key)
        self._restart_watcher()

    def remove(self, path: str | os.PathLike[str]) -> None:
        with self._lock:
            gone = self._runs.pop(Path(path).absolute(), None)
        if gone is not None:
            self._restart_watcher()

    # ------------------------------------------------------------------ reading
    def poll(self) -> list[RunUpdate]:
        """What is new in each run since the last call (one update per run that changed)."""
        self._wake.clear()  # before reading: a change from now on wakes the next wait()
        now = time.monotonic()
        with self._lock:
            runs = list(self._runs.values())
        updates = [update for run in runs if (update := run.poll(now)) is not None]
        self._busy = bool(updates)
        return updates

    def wait(self, timeout: float) -> bool:
        """Block until something may have changed (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + max(0.0, timeout)
        while not self._closed:
            now = time.monotonic()
            if self._liveness_due(now):
                return True
            left = deadline - now
            if left <= 0:
                return False
            step = min(left, LIVENESS_S)
            if self._fit_watcher():
                return True
            if self.watching:
                if self._wake.wait(step):
                    return True
            elif self._changed_within(min(step, self.poll_interval)):
                return True
        return False

    def _fit_watcher(self) -> bool:
        """Stop the watcher while the runs are busy, start it again once they are quiet; True
        when a file changed while it was starting (its events would be lost)."""
        with self._watch_lock:
            if self._busy or not self._watchable or self._closed:
                self._stop_watcher()
                return False
            if self.watching:
                return False
            self._start_watcher()
        return self._files_changed()

    def _liveness_due(self, now: float) -> bool:
        with self._lock:
            return any(run.liveness_due(now) for run in self._runs.values())

    def _changed_within(self, seconds: float) -> bool:
        """Whether a run's files changed since the last poll: looked at now, then in ``seconds``
        (a change made while the caller was busy elsewhere is seen without waiting)."""
        if self._wake.is_set() or self._files_changed():  # (wake: set by add, or a watcher that failed)
            return True
        return self._wake.wait(seconds) or self._files_changed()

    def _files_changed(self) -> bool:
        with self._lock:
            runs = list(self._runs.values())
        return any(run.signature() != run.seen for run in runs)

    # ------------------------------------------------------------------ the change watcher
    def _use_watcher(self, paths: list[Path]) -> bool:
        if self._force_polling or not paths or not watchfiles_available():
            return False
        if self._force_polling is None and any(network_file_system(path) for path in paths):
            return False
        return all(path.is_dir() for path in paths)

    def _restart_watcher(self) -> None:
        with self._watch_lock:
            self._stop_watcher()
            with self._lock:
                paths = list(self._runs)
            self._wake.set()  # a new run has a first update to give
            self._watchable = not self._closed and self._use_watcher(paths)
            if self._watchable and not self._busy:
                self._start_watcher()

    def _start_watcher(self) -> None:
        with self._lock:
            paths = list(self._runs)
        self._stop_watch = threading.Event()
        self._watcher = threading.Thread(
            target=self._watch, args=(paths, self._stop_watch), name="lstm-tui-follow", daemon=True
        )
        self._watcher.start()

    def _watch(self, paths: list[Path], stop: threading.Event) -> None:
        import watchfiles

        def relevant(_change: object, path: str) -> bool:
            return os.path.basename(path) in WATCHED

        try:
            for _changes in watchfiles.watch(
                *paths,
                watch_filter=relevant,
                debounce=100,
                step=50,
                stop_event=stop,
                rust_timeout=0,
                raise_interrupt=False,
                force_polling=False,
                recursive=False,
            ):
                self._wake.set()
        except Exception as exc:  # noqa: BLE001 - a folder removed, out of inotify watches: poll instead
            log.info("watching %d run folders failed (%s); polling them instead", len(paths), exc)
            self._watchable = False
        finally:
            if not stop.is_set():  # (it ended by itself: a waiting wait() polls from now on)
                self._wake.set()

    def _stop_watcher(self) -> None:
        with self._watch_lock:
            watcher, self._watcher = self._watcher, None
            if watcher is not None:
                self._stop_watch.set()
                watcher.join(timeout=2.0)

    def close(self) -> None:
        """Stop the change watcher (and wake a waiting :meth:`wait`)."""
        self._closed = True
        self._stop_watcher()
        self._wake.set()

    def __enter__(self) -> RunFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
