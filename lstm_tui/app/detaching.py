"""Detach, mixed into :class:`~lstm_tui.app.main.LstmTuiApp`: hand the app's own run to a
headless ``lstm-tui train --resume`` in a session of its own (:mod:`lstm_tui.core.detach`).

F9 stops the run at the next batch with an exact (mid-epoch) checkpoint; when its
``Finished(stopped)`` arrives a worker (group "detach") starts the background trainer, waits
until it holds the run's lock and the app follows the run (:mod:`.following`). The app no longer
trains it: quitting leaves it training, and any later ``lstm-tui`` follows it from F2.

``on_hangup`` (``--on-hangup``): ``stop`` (the default) stops the run with a checkpoint on a
hangup and exits; ``detach`` detaches it instead: on the app's thread when its Finished arrives
(before the exit), or, if the app's thread is stuck on a dead terminal, from the lifecycle
watchdog (:meth:`DetachMixin.detach_on_hangup`, thread-safe and done once).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from textual import work
from textual.message import Message

from lstm_tui.core import events as ev
from lstm_tui.core.settings import ON_HANGUP_CHOICES

from .state import AppState

#: What a hangup does to a run the app trains.
HANGUP_CHOICES = ON_HANGUP_CHOICES
TAKEN_TIMEOUT_S = 30.0  # the background trainer imports torch and reads the corpus first


class DetachDone(Message):
    """The background trainer started (``detached``) and took the run (``taken``), or ``error``."""

    def __init__(self, run_path: str, detached: Any = None, taken: bool = False, error: str = "") -> None:
        super().__init__()
        self.run_path, self.detached, self.taken, self.error = run_path, detached, taken, error


class DetachMixin:
    """F9: detach the app's run; ``on_hangup = "detach"``: a hangup detaches it too."""

    on_hangup: str = "stop"
    _detach_pending = False  # F9 (or a hangup with on_hangup "detach") stopped the run: detach it once stopped
    detached: Any = None  # the core.detach.Detached of the last detach
    _detach_lock = threading.Lock()  # (replaced per app in _detach_once's first call)

    def action_detach(self) -> None:
        if self.state not in (AppState.TRAINING, AppState.PAUSED) or not self.session.run_path:
            why = "it has no run folder" if self.run_active and not self.session.run_path else "no run is training here"
            self.notify(f"Nothing to detach: {why}.", severity="warning")
            return
        self._detach_pending = True
        self.log_view.info(
            "detaching: stopping at the next batch with a checkpoint; a background "
            "`lstm-tui train --resume` takes the run on"
        )
        self._request_stop()

    def stop_on_signal(self, signum: int) -> None:
        if (
            self.on_hangup == "detach"
            and self._signalled is None
            and self.session.run_path
            and self.state in (AppState.TRAINING, AppState.PAUSED)
        ):
            self._detach_pending = True
        super().stop_on_signal(signum)  # type: ignore[misc]

    def on_engine_finished(self, message: Any) -> None:
        # (Textual calls each class's handler in MRO order: the engine view's runs after this
        # one unless prevent_default; a detach runs it here, first, then prevents the second call.)
        if not (self._detach_pending and self._current(message)):
            return
        self._detach_pending = False
        message.prevent_default()
        run_path, event = self.session.run_path, message.event
        detachable = event.stopped and event.checkpoint_saved and run_path is not None
        outcome = self._detach_once(run_path) if detachable and self._quit_after_stop else None  # a hangup
        super().on_engine_finished(message)  # type: ignore[misc]  (a hangup: the app exits next)
        if outcome is not None and not isinstance(outcome, str):
            self.exit_note = (
                f"lstm-tui: detached: process {outcome.pid} trains {run_path} (log: {outcome.log_path});"
                f" follow it with: lstm-tui watch {run_path}"
            )
        if not detachable:
            self.log_view.warn("not detached: the run ended before it could be handed over")
        elif not self._quit_after_stop:
            self._detach_worker(run_path)

    def detach_on_hangup(self) -> None:
        """For the lifecycle watchdog (any thread): detach the run a hangup stopped, once."""
        trainer = self.session.trainer
        result = getattr(trainer, "result", None)
        run_path = self.session.run_path
        if isinstance(result, ev.Finished) and result.stopped and result.checkpoint_saved and run_path:
            self._detach_once(run_path)

    def _detach_once(self, run_path: str) -> Any:
        """Start the background trainer of ``run_path`` unless it was started: the Detached, or
        the reason it could not start (a str)."""
        from lstm_tui.core.detach import DetachError, detach

        with DetachMixin._detach_lock:
            current = self.detached
            if current is not None and str(current.run_path) == str(Path(run_path).resolve()):
                return current
            try:
                self.detached = detach(run_path)
            except DetachError as exc:
                return str(exc)
            return self.detached

    @work(thread=True, group="detach", exit_on_error=False)
    def _detach_worker(self, run_path: str) -> None:
        from lstm_tui.core.detach import DetachError, wait_taken

        outcome = self._detach_once(run_path)
        if isinstance(outcome, str):
            self.post_message(DetachDone(run_path, error=outcome))
            return
        try:
            taken = wait_taken(outcome, TAKEN_TIMEOUT_S)
        except DetachError as exc:
            self.post_message(DetachDone(run_path, outcome, error=str(exc)))
            return
        self.post_message(DetachDone(run_path, outcome, taken))

    def on_detach_done(self, message: DetachDone) -> None:
        name = Path(message.run_path).name
        if message.error:
            self.log_view.error(f"✗ not detached: {message.error}")
            self.notify(message.error, title=f"{name} not detached", severity="error", markup=False)
            return
        pid = message.detached.pid
        if not message.taken:
            self.log_view.warn(f"process {pid} has not taken {name} yet; following it anyway")
        self.log_view.good(
            f"▶ detached: process {pid} trains {name} in the background "
            f"(log: {message.detached.log_path}); quitting leaves it training"
        )
        self.notify(f"process {pid} trains {name}; F6/F7/ctrl+s still control it", title="Detached", markup=False)
        self.follow_runs([message.run_path])
