"""The app's side of training, mixed into :class:`~lstm_tui.app.main.LstmTuiApp`.

- the "train" thread worker: reads the corpus, checks the prefixes (a prefix the vocabulary
  cannot read refuses the start, naming the field), makes or resumes the run, calls
  ``Trainer.run()`` and posts every engine event as an :class:`EngineEvent` (batched by
  :class:`~lstm_tui.app.relay.EventRelay`, a few times a second);
- engine events -> chart, log and status line;
- save now (ctrl+s -> ``Trainer.checkpoint_now()``) and resume (F8 -> ``Trainer.resume_from``,
  with the chart and log refilled from the run's history first);
- a short GIL switch interval while a run trains (see :func:`short_gil_switches`);
- SIGTERM / SIGHUP / SIGINT: stop at the next batch, save a checkpoint, exit 0 (a second
  signal quits without waiting). Textual installs no handler for these (only SIGTSTP/SIGCONT/
  SIGWINCH, and raw mode turns Ctrl+C into a key), so without this SIGHUP from a dropped SSH
  session would kill the process mid-batch. The handlers go on the event loop
  (``loop.add_signal_handler``), so they run on the app's thread, never inside a handler frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from textual import work
from textual.message import Message

from lstm_tui.core import events as ev
from lstm_tui.core.config import ConfigError, RunConfig

from .messages import EngineEvent
from .relay import EventRelay

STOP_SIGNALS = ("SIGTERM", "SIGHUP", "SIGINT")
HISTORY_SAMPLES = 30  # sample lines shown again when a run is resumed
GIL_SWITCH_INTERVAL_S = 0.0005  # Python's default is 0.005


_gil_lock = threading.Lock()
_gil_holders = 0  # runs inside short_gil_switches (the main screen's and the book's never overlap, but may touch)
_gil_default = 0.005


@contextlib.contextmanager
def short_gil_switches(interval: float = GIL_SWITCH_INTERVAL_S):
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


class RunHistory(Message):
    """A resumed run's metrics and samples up to its checkpoint (posted before its first event)."""

    def __init__(self, run_id: int, name: str, metrics: list[dict], samples: list[dict], epoch: int, batch: int) -> None:
        super().__init__()
        self.run_id, self.name, self.metrics, self.samples = run_id, name, metrics, samples
        self.epoch, self.batch = epoch, batch


class StartRefused(Message):
    """The run could not start because of a form field (e.g. a prefix the vocabulary cannot read)."""

    def __init__(self, run_id: int, field: str, message: str) -> None:
        super().__init__()
        self.run_id, self.field, self.message = run_id, field, message


class TrainingMixin:
    """Training worker, engine events, save now, resume, and stop-on-signal for the app."""

    _signal_previous: dict
    _signalled: int | None = None
    _save_asked: bool = False
    _eta_base: tuple[float, float] = (0.0, 0.0)
    exit_note: str | None = None  # printed by run_app after the app is gone (plain, unwrapped)

    # ------------------------------------------------------------------ the worker
    @work(thread=True, exclusive=True, group="train", exit_on_error=False)
    def _train(self, config: RunConfig, run_id: int, resume: str | None = None, changes: dict | None = None) -> None:
        relay = EventRelay(lambda event: self.post_message(EngineEvent(event, run_id)))

        def on_event(event: Any) -> None:
            if not isinstance(event, (ev.Finished, ev.Failed)):  # the result of run() is posted once, below
                relay(event)

        try:
            with short_gil_switches():
                result = self._run_trainer(config, run_id, resume, changes, on_event)
        except BaseException as exc:  # noqa: BLE001 - nothing may take the app down
            result = ev.Failed(reason=f"{type(exc).__name__}: {exc}",
                               hint="this is a bug in lstm-tui; the app is still usable")
        relay.flush()
        if result is not None:  # None: the start was refused (StartRefused was posted)
            self.post_message(EngineEvent(result, run_id))

    def _run_trainer(self, config: RunConfig, run_id: int, resume, changes, on_event):
        """Make (or resume) the Trainer and run it; the result, or None when the start was refused."""
        made = self._resume_trainer(resume, changes, run_id, on_event) if resume else \
            self._new_trainer(config, run_id, on_event)
        if made is None or isinstance(made, ev.Failed):
            return made
        trainer, run_dir = made
        self.call_from_thread(self._trainer_ready, trainer, run_id, run_dir)
        if self._stop_requested:
            trainer.stop()
        return trainer.run()

    def _new_trainer(self, config: RunConfig, run_id: int, on_event):
        """Read the corpus and check the prefixes before making a run folder (worker thread)."""
        from lstm_tui.core.data import CorpusError, load_corpus
        from lstm_tui.core.engine import Trainer
        from lstm_tui.core.runs import RunDir, RunError

        on_event(ev.Status("loading corpus"))
        try:
            data = load_corpus(config, progress=lambda done, total: on_event(ev.DownloadProgress(int(done), total)))
        except CorpusError as exc:
            if not config.corpus.strip():  # The Time Machine itself: the failure says where to put it
                return ev.Failed(exc.reason, exc.hint)
            self.post_message(StartRefused(run_id, "corpus", f"{exc.reason}; {exc.hint}"))
            return None
        if config.can_generate:
            from lstm_tui.core.generate import GenerationError, prefix_tokens

            for prefix in config.prefix:
                try:
                    prefix_tokens(data.vocab, prefix)
                except GenerationError as exc:
                    self.post_message(StartRefused(run_id, "prefix", f"{prefix!r}: {exc.explain()}"))
                    return None
        try:
            run_dir = str(RunDir.create(self.runs_dir, config).path)
            on_event(ev.Status(f"run folder: {run_dir}"))
        except RunError as exc:
            run_dir = None
            on_event(ev.Status(f"not saving this run: {exc}"))
        return Trainer(config, on_event=on_event, run_dir=run_dir, data=data), run_dir

    def _resume_trainer(self, path: str, changes: dict | None, run_id: int, on_event):
        """``Trainer.resume_from`` the run at ``path``; its history is posted first (worker thread)."""
        from lstm_tui.core.engine import Trainer
        from lstm_tui.core.runs import RunDir

        name = Path(path).name
        try:
            run = RunDir.open(path)
            trainer = Trainer.resume_from(run, on_event=on_event, **(changes or {}))
            metrics = [m for m in run.read_metrics() if _epoch(m) <= trainer.epoch]
            samples = [s for s in run.read_samples() if _epoch(s) <= trainer.epoch]
        except Exception as exc:  # noqa: BLE001 - CheckpointError, RunError, ConfigError: readable
            return ev.Failed(f"cannot resume {name}: {exc}", "start a new run (F5), or pick another run (ctrl+o)")
        self.post_message(RunHistory(run_id, name, metrics, samples[-HISTORY_SAMPLES:], trainer.epoch, trainer.batch))
        return trainer, str(run.path)

    def _trainer_ready(self, trainer: Any, run_id: int, run_path: str | None) -> None:
        if run_id == self._run_id:
            self._trainer = trainer
            self.run_path = run_path
            self._update_generate_note()

    def on_start_refused(self, message: StartRefused) -> None:
        if message.run_id != self._run_id:
            return
        self._set_state("idle", message="")
        self.status_bar.set_progress(0, 1)  # (None would keep the bar pulsing as if work went on)
        self.form.mark(message.field, message.message)
        self.log_view.error(f"✗ not started: {message.field} {message.message}")
        self._refuse(message.field, message.message)
        if self._quit_after_stop:
            self.exit(0)

    def on_run_history(self, message: RunHistory) -> None:
        if message.run_id != self._run_id:
            return
        where = f"epoch {message.epoch}" + (f", batch {message.batch}" if message.batch else "")
        self.log_view.good(f"▶ resume {message.name} from its checkpoint at {where}")
        by_epoch = self.chart.add_records(message.metrics)
        for sample in message.samples:
            ppl, val = by_epoch.get(_epoch(sample), (None, None))
            self.log_view.sample(_epoch(sample), ppl, val, str(sample.get("prefix", "")), str(sample.get("text", "")))
        if message.metrics:
            last = message.metrics[-1]
            self._last_ppl, self._last_val = last.get("perplexity"), last.get("val_perplexity")
            elapsed = last.get("elapsed_s")
            self._eta_base = (float(_epoch(last)), float(elapsed) if isinstance(elapsed, (int, float)) else 0.0)
            self.status_bar.update_status(epoch=message.epoch, perplexity=self._last_ppl,
                                          val_perplexity=self._last_val, elapsed_s=elapsed)

    # ------------------------------------------------------------------ engine events
    def on_engine_event(self, message: EngineEvent) -> None:
        if message.run_id != self._run_id:
            return
        event = message.event
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            handler(event)

    def _on_Status(self, event: ev.Status) -> None:
        self.log_view.info(event.message)
        self.status_bar.update_status(message=event.message[:60])

    def _on_NoRunFolder(self, event: ev.NoRunFolder) -> None:
        self.log_view.info(event.reason)
        if self._save_asked:
            self._save_asked = False
            self.notify(event.reason, severity="warning", markup=False)

    def _on_CheckpointFailed(self, event: ev.CheckpointFailed) -> None:
        self.log_view.error(f"checkpoint not saved: {event.reason}")

    def _on_DownloadProgress(self, event: ev.DownloadProgress) -> None:
        done = event.done_bytes / 1000
        total = f"/{event.total_bytes / 1000:.0f}" if event.total_bytes else ""
        self.status_bar.update_status(message=f"downloading corpus {done:.0f}{total} kB")
        self.status_bar.set_progress(event.done_bytes, event.total_bytes)

    def _on_Started(self, event: ev.Started) -> None:
        self._start_epoch = event.start_epoch
        if event.start_epoch <= 1:
            self._eta_base = (0.0, 0.0)
        self._set_state("training", message="", device=event.device, epochs=event.epochs, epoch=event.start_epoch - 1)
        self.status_bar.set_progress(event.start_epoch - 1, event.epochs)
        self.log_view.info(f"training on {event.device}: {event.parameters:,} parameters, vocabulary {event.vocab_size},"
                           f" {event.corpus_tokens:,} tokens, {event.batches_per_epoch} batches per epoch")

    def _eta(self, done_epochs: float, epochs: int, elapsed: float) -> float | None:
        base_epoch, base_elapsed = self._eta_base
        run, spent = done_epochs - base_epoch, elapsed - base_elapsed
        if run <= 0 or spent <= 0:
            return None
        return spent / run * max(epochs - done_epochs, 0)

    def _on_BatchProgress(self, event: ev.BatchProgress) -> None:
        if self.state not in ("training", "stopping", "paused"):
            return
        epochs = self.status_bar.status.epochs or 1
        done = (event.epoch - 1) + event.batch / max(event.batches, 1)
        self.chart.add(done, event.perplexity)
        self.status_bar.update_status(epoch=event.epoch - 1, perplexity=event.perplexity,
                                      tokens_per_s=event.tokens_per_s, elapsed_s=event.elapsed_s,
                                      eta_s=self._eta(done, epochs, event.elapsed_s))
        self.status_bar.set_progress(done, epochs)

    def _on_EpochEnd(self, event: ev.EpochEnd) -> None:
        self._last_ppl, self._last_val = event.perplexity, event.val_perplexity
        self.chart.add(event.epoch, event.perplexity, event.val_perplexity)
        self.status_bar.update_status(epoch=event.epoch, epochs=event.epochs, perplexity=event.perplexity,
                                      val_perplexity=event.val_perplexity, tokens_per_s=event.tokens_per_s,
                                      elapsed_s=event.elapsed_s,
                                      eta_s=self._eta(event.epoch, event.epochs, event.elapsed_s))
        self.status_bar.set_progress(event.epoch, event.epochs)
        if event.generation_perplexity is not None:
            self.log_view.info(f"epoch {event.epoch}: generation perplexity {event.generation_perplexity:.2f} "
                               "(one character at a time, as the model writes)")

    def _on_Sample(self, event: ev.Sample) -> None:
        self.log_view.sample(event.epoch, self._last_ppl, self._last_val, event.prefix, event.text)

    def _on_Checkpointed(self, event: ev.Checkpointed) -> None:
        self.log_view.info(f"checkpoint saved (epoch {event.epoch})")
        if self._save_asked:
            self._save_asked = False
            self.notify(f"Checkpoint saved (after epoch {event.epoch}) to {event.path}", title="Saved", markup=False)

    def _on_Finished(self, event: ev.Finished) -> None:
        state = "stopped" if event.stopped else "finished"
        self._set_state(state, message="", perplexity=event.perplexity, val_perplexity=event.val_perplexity,
                        tokens_per_s=event.tokens_per_s, elapsed_s=event.elapsed_s, eta_s=None, epoch=event.epoch)
        if not event.stopped:
            self.status_bar.set_progress(event.epoch, self.status_bar.status.epochs or event.epoch)
        text = (f"■ {state} at epoch {event.epoch}: perplexity {event.perplexity:.2f}"
                + (f", val {event.val_perplexity:.2f}" if event.val_perplexity is not None else "")
                + f", {event.tokens_per_s:,.0f} tokens/s on {event.device}")
        self.log_view.good(text)
        if event.generation_perplexity is not None:
            self.log_view.add(f"  generation perplexity {event.generation_perplexity:.2f} (scored one character at"
                              " a time, as the model writes)", "green")
        if self.run_path and not event.checkpoint_saved:
            self.log_view.error("✗ the closing checkpoint could not be written (see above): the run folder holds "
                                "an older one, or none")
            self.notify("The closing checkpoint could not be written.", title="Not saved", severity="error")
        elif self.run_path:
            self.log_view.info(f"saved in {self.run_path}" + ("; F8 continues it" if event.stopped else ""))
        if self._quit_after_stop:
            if event.stopped and self.run_path:
                self.exit_note = (f"lstm-tui: stopped at epoch {event.epoch}; checkpoint in {self.run_path}\n"
                                  f"continue with: lstm-tui train --resume {self.run_path}")
            self.exit(0)

    def _on_Failed(self, event: ev.Failed) -> None:
        reason = event.reason + (f" — {event.hint}" if event.hint else "")
        self._set_state("failed", message=event.reason[:80], eta_s=None)
        self.status_bar.set_progress(0, 1)
        self.log_view.error(f"✗ run failed: {event.reason}")
        if event.hint:
            self.log_view.warn(f"  fix: {event.hint}")
        self.notify(reason, title="Run failed", severity="error", timeout=8, markup=False)
        if self._quit_after_stop:
            self.exit_note = f"lstm-tui: the run failed: {reason}"
            self.exit(0)

    # ------------------------------------------------------------------ save now
    def action_save(self) -> None:
        trainer = self._trainer
        if self.run_active and trainer is None:
            self.notify("The run is still starting: press ctrl+s again in a moment.", severity="warning")
        elif trainer is not None and self.run_active:
            if self.run_path is None:
                self.notify("This run has no run folder (see the log): there is nowhere to save it.",
                            severity="warning")
                return
            trainer.checkpoint_now()
            self._save_asked = True
            self.notify(f"Saving a checkpoint at the next batch to {Path(self.run_path) / 'checkpoint.pt'}",
                        markup=False)
        elif self.run_path:
            resume = " F8 continues it." if self.state in ("stopped", "failed") else ""
            self.notify(f"The run is saved in {self.run_path}.{resume}", markup=False)
        else:
            self.notify("Nothing to save yet: start a run (F5).", severity="warning")

    # ------------------------------------------------------------------ resume
    def action_resume(self) -> None:
        if self.run_active:
            self.notify("A run is going: F7 stops it first.", severity="warning")
            return
        if self.run_path and (Path(self.run_path) / "checkpoint.pt").is_file():
            self.resume_run(self.run_path, use_form_epochs=True)
            return
        from .screens import LoadRunScreen

        screen = LoadRunScreen(self.runs_dir, mode="resume")
        self.push_screen(screen, lambda path: self._load_chosen(path, screen.mode))

    def resume_run(self, path: str, use_form_epochs: bool = False) -> None:
        """Continue the run at ``path`` from its checkpoint (the form shows its config)."""
        from lstm_tui.core.runs import RunDir, RunError

        try:
            run = RunDir.open(path, self.runs_dir)
            config = run.read_config()
            metrics = run.read_metrics()
        except RunError as exc:
            self._cannot_resume(Path(path).name, str(exc))
            return
        if not run.has_checkpoint():
            self._cannot_resume(run.name, "it has no checkpoint yet (it stopped before its first one)")
            return
        done = max((_epoch(m) for m in metrics), default=0)
        changes: dict = {}
        epochs = self.form.values.get("epochs") if use_form_epochs else None
        if isinstance(epochs, int) and epochs != config.epochs and epochs > done:
            changes["epochs"] = epochs
        try:
            resumed = config.replace(**changes)
        except ConfigError as exc:
            self._cannot_resume(run.name, str(exc))
            return
        self.form.set_config(resumed)
        if (run.read_summary() or {}).get("status") == "finished" and done >= resumed.epochs:
            self.run_path, self.run_config = str(run.path), config
            self.notify(f"{run.name} has trained all its {config.epochs} epochs: raise 'epochs' in the form, "
                        "then F8 continues it.", title="Nothing to resume", markup=False)
            editor = self.form.editors.get("epochs")
            if editor is not None:
                editor.focus()
            return
        self._begin_run(resumed, resume=str(run.path), changes=changes)

    def _cannot_resume(self, name: str, reason: str) -> None:
        self.log_view.error(f"✗ cannot resume {name}: {reason}")
        self.notify(reason, title=f"Cannot resume {name}", severity="error", markup=False)

    # ------------------------------------------------------------------ signals
    def _install_signal_handlers(self) -> None:
        """SIGTERM/SIGHUP/SIGINT stop the run with a checkpoint and quit (main thread only)."""
        self._signal_previous = {}
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for name in STOP_SIGNALS:
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            try:
                previous = signal.getsignal(sig)
                loop.add_signal_handler(sig, self.stop_on_signal, int(sig))
            except (NotImplementedError, RuntimeError, ValueError, OSError):
                continue
            self._signal_previous[sig] = previous

    def _remove_signal_handlers(self) -> None:
        previous_handlers, self._signal_previous = getattr(self, "_signal_previous", {}), {}
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for sig, previous in previous_handlers.items():
            try:
                loop.remove_signal_handler(sig)
                if previous is not None:
                    signal.signal(sig, previous)
            except (RuntimeError, ValueError, OSError, TypeError):
                pass

    def stop_on_signal(self, signum: int) -> None:
        """First signal: stop at the next batch, save, exit 0; a second one quits without waiting."""
        name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else str(signum)
        if self._signalled is not None:
            self.exit_note = f"lstm-tui: {name} again: quit without waiting for the run to stop"
            self.exit(None, return_code=128 + signum)
            return
        self._signalled = signum
        if not self.run_active:
            self.exit(0)
            return
        self.log_view.warn(f"{name}: stopping after this batch, saving a checkpoint, then quitting")
        self._quit_after_stop = True
        self._request_stop()


def _epoch(record: dict) -> int:
    value = record.get("epoch") if isinstance(record, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
