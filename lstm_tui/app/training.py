"""The app's side of training, mixed into :class:`~lstm_tui.app.main.LstmTuiApp`.

- the "train" thread worker: prepares the run (:func:`~.worker.prepare_new` /
  :func:`~.worker.prepare_resumed`: corpus, prefixes, run folder, Trainer), calls
  ``Trainer.run()`` inside :func:`~.gil.short_gil_switches` and posts every engine event as its
  own message (:func:`~.messages.engine_message`), handled in :mod:`.engine_view`;
- pause, stop, save now (ctrl+s -> ``Trainer.checkpoint_now()``) and resume (F8, with the chart
  and log refilled from the run's history first).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from textual import work

from lstm_tui.core import events as ev
from lstm_tui.core.config import ConfigError, RunConfig
from lstm_tui.core.presets import BIDIRECTIONAL_NOTE

from .gil import short_gil_switches
from .messages import RunHistory, StartCancelled, StartRefused, engine_message
from .screens import LoadRunScreen
from .screens.confirm import Confirm
from .state import DONE_STATES, AppState
from .widgets.status_bar import bits_unit
from .worker import Cancelled, Prepared, Refused, prepare_new, prepare_resumed, record_epoch


class TrainingMixin:
    """Start, pause, stop, save and resume a run; the train worker."""

    _state_before_run: AppState = AppState.IDLE  # the state a refused resume goes back to
    _load_cancel: threading.Event | None = None  # set by F7 while the run's corpus loads
    _start_args: tuple[RunConfig, str | None, dict | None] | None = None  # the last start (to retry it)

    _save_asked: bool = False
    exit_note: str | None = None  # printed by run_app after the app is gone (plain, unwrapped)

    def _begin_run(
        self,
        config: RunConfig,
        resume: str | None = None,
        changes: dict | None = None,
        allow_corpus_change: bool = False,
    ) -> None:
        self._state_before_run = self.state  # (a refused resume goes back to it)
        self._start_args = (config, resume, changes)
        self._load_cancel = cancel = threading.Event()
        run_id = self.session.begin_run(config)
        if resume:
            self.session.run_path = resume  # the chosen run, even if its resume is refused (F8 again)
        self._stop_requested = False
        self._update_generate_note()  # no model until the trainer is ready: the form decides
        self.chart.reset(config.epochs)
        self.status_bar.update_status(
            epoch=0,
            epochs=config.epochs,
            perplexity=None,
            val_perplexity=None,
            grad_norm=None,
            clipped_share=None,
            tokens_per_s=None,
            elapsed_s=None,
            eta_s=None,
            device=config.device,
            message="preparing",
            vocab_size=None,
            test_perplexity=None,
            bits_unit=bits_unit(config.token),
        )
        self.status_bar.set_progress(0, None)
        self._set_state(AppState.PREPARING)
        if resume:
            self.form.set_config(config)
        self.log_view.add(
            f"▶ {'resume' if resume else 'start'}: {config.preset} · {config.impl} {config.cell} · {config.layers}x{config.hidden}"
            f"{' bidirectional' if config.bidirectional else ''} · {config.optimizer} lr {config.lr:g}"
            f" · {config.epochs} epochs",
            "bold",
        )
        if config.bidirectional:
            self.log_view.warn(BIDIRECTIONAL_NOTE)
        self._train(config, run_id, resume, changes, cancel, allow_corpus_change)

    # ------------------------------------------------------------------ the worker
    @work(thread=True, exclusive=True, group="train", exit_on_error=False)
    def _train(
        self,
        config: RunConfig,
        run_id: int,
        resume: str | None = None,
        changes: dict | None = None,
        cancel: threading.Event | None = None,
        allow_corpus_change: bool = False,
    ) -> None:
        def on_event(event: Any) -> None:
            if not isinstance(event, (ev.Finished, ev.Failed)):  # the result of run() is posted once, below
                self.post_message(engine_message(event, run_id))

        try:
            with short_gil_switches():
                result = self._run_trainer(
                    config, run_id, (resume, changes, allow_corpus_change), on_event, cancel or threading.Event()
                )
        except BaseException as exc:  # noqa: BLE001 - nothing may take the app down
            result = ev.Failed(
                reason=f"{type(exc).__name__}: {exc}", hint="this is a bug in lstm-tui; the app is still usable"
            )
        if result is not None:  # None: the start was refused (StartRefused was posted)
            self.post_message(engine_message(result, run_id))

    def _run_trainer(self, config: RunConfig, run_id: int, how: tuple, on_event, cancel: threading.Event):
        """Prepare the run and train it; the result, or None when the start was refused or cancelled."""
        resume, changes, allow_corpus_change = how
        made = (
            prepare_resumed(resume, changes, on_event, cancel=cancel.is_set, allow_corpus_change=allow_corpus_change)
            if resume
            else prepare_new(config, self.runs_dir, on_event, cancel=cancel.is_set)
        )
        if isinstance(made, Cancelled):
            self.post_message(StartCancelled(run_id, made.message))
            return None
        if isinstance(made, Refused):
            self.post_message(StartRefused(run_id, made.field, made.message, made.corpus_changed))
            return None
        if not isinstance(made, Prepared):
            return made  # Failed
        for warning in getattr(made.data, "warnings", ()):  # (the log has them too, as status lines)
            self.call_from_thread(
                self.notify, warning, title="About the corpus", severity="warning", timeout=10, markup=False
            )
        if made.history is not None:
            history = made.history
            self.post_message(
                RunHistory(run_id, history.name, history.metrics, history.samples, history.epoch, history.batch)
            )
        self.call_from_thread(self._trainer_ready, made.trainer, run_id, made.run_path, made.trainer.config)
        if self._stop_requested:
            made.trainer.stop()
        return made.trainer.run()

    def _trainer_ready(self, trainer: Any, run_id: int, run_path: str | None, config: RunConfig) -> None:
        if self.session.trainer_ready(run_id, trainer, run_path, config):
            self._update_generate_note()

    def _back_to_before_run(self, message: str = "") -> None:
        """A start that did not happen: the state before it (a chosen run's finished/stopped), else idle."""
        before = self._state_before_run
        resumed_run_kept = self.session.run_path is not None and before in DONE_STATES
        self._set_state(before if resumed_run_kept else AppState.IDLE, message=message)
        self.status_bar.set_progress(0, 1)  # (None would keep the bar pulsing as if work went on)

    def on_start_cancelled(self, message: StartCancelled) -> None:
        if not self.session.is_current(message.run_id):
            return
        self._back_to_before_run(message.message)
        self.log_view.info(f"■ {message.message}: nothing was trained or saved")
        if self._quit_after_stop:
            self.exit(0)

    def on_start_refused(self, message: StartRefused) -> None:
        if not self.session.is_current(message.run_id):
            return
        self._back_to_before_run()
        if message.corpus_changed and not self._quit_after_stop:
            self._offer_corpus_change(message.message)
        elif message.field is None or message.field not in self.form.editors:  # a refused resume: no field at fault
            self.log_view.error(f"✗ not resumed: {message.message}")
            self.notify(message.message, title="Cannot resume", severity="error", markup=False)
        else:
            self.form.mark(message.field, message.message)
            self.log_view.error(f"✗ not started: {message.field} {message.message}")
            self._refuse(message.field, message.message)
        if self._quit_after_stop:
            self.exit(0)

    def _offer_corpus_change(self, reason: str) -> None:
        """A resume over another text: say so (both SHA-1s), and let the user resume anyway."""
        self.log_view.error(f"✗ not resumed: {reason}")
        args = self._start_args
        if args is None or args[1] is None:
            return

        def answered(yes: bool | None) -> None:
            if yes and not self.run_active and self._start_args == args:
                self.log_view.warn("resuming on the new text (the run records its SHA-1 from now on)")
                self._begin_run(*args, allow_corpus_change=True)

        self.push_screen(
            Confirm(
                "The corpus has changed",
                f"{reason[0].upper()}{reason[1:]}.\n\nResume anyway, training on the text as it is now?",
                yes="Resume anyway",
                no="Cancel",
                width=76,
            ),
            answered,
        )

    def on_run_history(self, message: RunHistory) -> None:
        if not self.session.is_current(message.run_id):
            return
        where = f"epoch {message.epoch}" + (f", batch {message.batch}" if message.batch else "")
        self.log_view.good(f"▶ resume {message.name} from its checkpoint at {where}")
        by_epoch = self.chart.add_records(message.metrics)
        for sample in message.samples:
            ppl, val = by_epoch.get(record_epoch(sample), (None, None))
            self.log_view.sample(
                record_epoch(sample),
                ppl,
                val,
                str(sample.get("prefix", "")),
                str(sample.get("text", "")),
                str(sample.get("warning", "") or ""),
            )
        if message.metrics:
            last = message.metrics[-1]
            self.session.note_perplexity(last.get("perplexity"), last.get("val_perplexity"))
            elapsed = last.get("elapsed_s")
            self._eta_base = (float(record_epoch(last)), float(elapsed) if isinstance(elapsed, (int, float)) else 0.0)
            self.status_bar.update_status(
                epoch=message.epoch,
                perplexity=self.session.last_ppl,
                val_perplexity=self.session.last_val,
                elapsed_s=elapsed,
            )

    # ------------------------------------------------------------------ pause, stop
    def action_pause(self) -> None:
        trainer = self.session.trainer
        if self.state is AppState.TRAINING and trainer is not None:
            trainer.pause()
            self._set_state(AppState.PAUSED, message="F6 resumes")
        elif self.state is AppState.PAUSED and trainer is not None:
            trainer.resume()
            self._set_state(AppState.TRAINING, message="")
        else:
            self.notify("Nothing to pause: no run is training.", severity="warning")

    def action_stop(self) -> None:
        if not self.run_active:
            self.notify("No run is going.", severity="warning")
            return
        self._request_stop()

    def _request_stop(self) -> None:
        self._stop_requested = True
        if self._load_cancel is not None:
            self._load_cancel.set()  # (a corpus still loading stops at its next chunk)
        trainer = self.session.trainer
        if trainer is not None:
            trainer.stop()
        if self.state is not AppState.STOPPING and trainer is None:
            self._set_state(AppState.STOPPING, message="cancelling the start…")
        elif self.state is not AppState.STOPPING:
            self._set_state(AppState.STOPPING, message="stopping at the next batch…")
            self.log_view.info("stopping (a checkpoint is saved)…")

    # ------------------------------------------------------------------ save now
    def action_save(self) -> None:
        session = self.session
        trainer = session.trainer
        if self.run_active and trainer is None:
            self.notify("The run is still starting: press ctrl+s again in a moment.", severity="warning")
        elif trainer is not None and self.run_active:
            if session.run_path is None:
                self.notify(
                    "This run has no run folder (see the log): there is nowhere to save it.", severity="warning"
                )
                return
            trainer.checkpoint_now()
            session.save_asked = True
            self.notify(
                f"Saving a checkpoint at the next batch to {Path(session.run_path) / _checkpoint_file()}", markup=False
            )
        elif session.run_path:
            resume = " F8 continues it." if self.state in (AppState.STOPPED, AppState.FAILED) else ""
            self.notify(f"The run is saved in {session.run_path}.{resume}", markup=False)
        elif session.trained_without_folder:
            self.notify(
                "The last run had no run folder (see the log): it was not saved. Start a new run (F5) to save one.",
                severity="warning",
            )
        else:
            self.notify("Nothing to save yet: start a run (F5).", severity="warning")

    # ------------------------------------------------------------------ resume
    def action_resume(self) -> None:
        if self.run_active or self.state is AppState.LOADING:
            self.notify(
                "A run is going: F7 stops it first."
                if self.run_active
                else "A saved run is loading: resume once it is shown.",
                severity="warning",
            )
            return
        path = self.session.run_path
        if path and (Path(path) / _checkpoint_file()).is_file():
            self.resume_run(path, use_form_epochs=True)
            return
        screen = LoadRunScreen(self.runs_dir, mode="resume")
        self.push_screen(screen, lambda path: self._load_chosen(path, screen.mode))

    def resume_run(self, path: str, use_form_epochs: bool = False) -> None:
        """Continue the run at ``path`` from its checkpoint (the form shows its config).

        Only the run's config is read here (for the form); the worker's ``prepare_resume`` does
        every check (another process trains it, no checkpoint, no epochs left: the form's epochs
        field is marked) and reads the rest once."""
        from lstm_tui.core.runs import RunDir, RunError

        try:
            run = RunDir.open(path, self.runs_dir)
            config = run.read_config()
        except RunError as exc:
            self._cannot_resume(Path(path).name, str(exc))
            return
        changes: dict = {}
        epochs = self.form.values.get("epochs") if use_form_epochs else None
        if isinstance(epochs, int) and epochs != config.epochs:
            changes["epochs"] = epochs
        try:
            resumed = config.replace(**changes)
        except ConfigError as exc:
            self._cannot_resume(run.name, str(exc))
            return
        self.form.set_config(resumed)
        self._begin_run(resumed, resume=str(run.path), changes=changes)

    def _cannot_resume(self, name: str, reason: str) -> None:
        self.log_view.error(f"✗ cannot resume {name}: {reason}")
        self.notify(reason, title=f"Cannot resume {name}", severity="error", markup=False)


def _checkpoint_file() -> str:
    from lstm_tui.core.runs import CHECKPOINT_FILE

    return CHECKPOINT_FILE
