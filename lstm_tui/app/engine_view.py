"""Engine messages -> chart, log and status line, mixed into :class:`~lstm_tui.app.main.LstmTuiApp`.

One handler per message class of :mod:`.messages` (``on_engine_<event>``); a message of a run
that is no longer the session's (``run_id``) is dropped.
"""

from __future__ import annotations

from typing import Any

from lstm_tui.core import events as ev

from ..core.numbers import format_perplexity
from . import messages as m
from .state import AppState
from .widgets.status_bar import bits

ACTIVE = (AppState.TRAINING, AppState.STOPPING, AppState.PAUSED)


class EngineViewMixin:
    """Draws what the engine reports."""

    _eta_base: tuple[float, float] = (0.0, 0.0)

    def _current(self, message: m.EngineMessage[Any]) -> bool:
        return self.session.is_current(message.run_id)

    def on_engine_status(self, message: m.EngineStatus) -> None:
        if not self._current(message):
            return
        text = message.event.message
        self.log_view.info(text)
        self.status_bar.update_status(message=text[:60])

    def on_engine_download_progress(self, message: m.EngineDownloadProgress) -> None:
        if not self._current(message):
            return
        event = message.event
        total = f"/{event.total_bytes / 1000:.0f}" if event.total_bytes else ""
        self.status_bar.update_status(message=f"downloading corpus {event.done_bytes / 1000:.0f}{total} kB")
        self.status_bar.set_progress(event.done_bytes, event.total_bytes)

    def on_engine_load_progress(self, message: m.EngineLoadProgress) -> None:
        if not self._current(message) or self.state is not AppState.PREPARING:
            return  # (F7 while loading: the status line says "stopping", not the next chunk)
        event = message.event
        self.status_bar.update_status(message=event.describe())
        self.status_bar.set_progress(event.done, event.total)

    def on_engine_started(self, message: m.EngineStarted) -> None:
        if not self._current(message):
            return
        event = message.event
        if event.start_epoch <= 1:
            self._eta_base = (0.0, 0.0)
        self._batches_per_epoch = event.batches_per_epoch  # (knob markers: .knobs)
        self._set_state(
            AppState.TRAINING,
            message="",
            device=event.device,
            epochs=event.epochs,
            epoch=event.start_epoch - 1,
            vocab_size=event.vocab_size,
        )
        self.status_bar.set_progress(event.start_epoch - 1, event.epochs)
        self.log_view.info(
            f"training on {event.device}: {event.parameters:,} parameters, vocabulary {event.vocab_size},"
            f" {event.corpus_tokens:,} tokens, {event.batches_per_epoch} batches per epoch"
        )

    def _eta(self, done_epochs: float, epochs: int, elapsed: float) -> float | None:
        base_epoch, base_elapsed = self._eta_base
        run, spent = done_epochs - base_epoch, elapsed - base_elapsed
        if run <= 0 or spent <= 0:
            return None
        return spent / run * max(epochs - done_epochs, 0)

    def on_engine_batch_progress(self, message: m.EngineBatchProgress) -> None:
        if not self._current(message) or self.state not in ACTIVE:
            return
        event = message.event
        epochs = self.status_bar.status.epochs or 1
        done = (event.epoch - 1) + event.batch / max(event.batches, 1)
        self.chart.add(done, event.perplexity)
        self.status_bar.update_status(
            epoch=event.epoch - 1,
            perplexity=event.perplexity,
            tokens_per_s=event.tokens_per_s,
            elapsed_s=event.elapsed_s,
            eta_s=self._eta(done, epochs, event.elapsed_s),
        )
        self.status_bar.set_progress(done, epochs)

    def on_engine_epoch_end(self, message: m.EngineEpochEnd) -> None:
        if not self._current(message):
            return
        event = message.event
        self.session.note_perplexity(event.perplexity, event.val_perplexity)
        self.chart.add(event.epoch, event.perplexity, event.val_perplexity)
        self.status_bar.update_status(
            epoch=event.epoch,
            epochs=event.epochs,
            perplexity=event.perplexity,
            val_perplexity=event.val_perplexity,
            tokens_per_s=event.tokens_per_s,
            elapsed_s=event.elapsed_s,
            eta_s=self._eta(event.epoch, event.epochs, event.elapsed_s),
            grad_norm=event.grad_norm,
            clipped_share=event.clipped_share,
        )
        self.chart.add_grad(event.epoch, event.grad_norm)
        self.status_bar.set_progress(event.epoch, event.epochs)
        if event.generation_perplexity is not None:
            self.log_view.info(
                f"epoch {event.epoch}: generation perplexity {format_perplexity(event.generation_perplexity)} "
                "(one character at a time, as the model writes)"
            )

    def on_engine_sample(self, message: m.EngineSample) -> None:
        if self._current(message):
            event = message.event
            self.log_view.sample(
                event.epoch, self.session.last_ppl, self.session.last_val, event.prefix, event.text, event.warning
            )

    def on_engine_checkpointed(self, message: m.EngineCheckpointed) -> None:
        if not self._current(message):
            return
        event = message.event
        self.log_view.info(f"checkpoint saved (epoch {event.epoch})")
        if self.session.save_asked:
            self.session.save_asked = False
            self.notify(f"Checkpoint saved (after epoch {event.epoch}) to {event.path}", title="Saved", markup=False)

    def on_engine_checkpoint_failed(self, message: m.EngineCheckpointFailed) -> None:
        if not self._current(message):
            return
        event = message.event
        kept = f"; the run folder keeps epoch {event.kept_epoch}" if event.kept_epoch is not None else ""
        text = f"checkpoint not saved (epoch {event.epoch}): {event.reason}{kept}"
        self.log_view.error(f"✗ {text}")
        self.status_bar.update_status(message=text[:60])
        if self.session.save_asked:
            self.session.save_asked = False
            self.notify(text, title="Not saved", severity="warning", markup=False)

    def on_engine_no_run_folder(self, message: m.EngineNoRunFolder) -> None:
        if not self._current(message):
            return
        self.log_view.warn(message.event.reason)
        if self.session.save_asked:
            self.session.save_asked = False
            self.notify(message.event.reason, severity="warning", markup=False)

    def on_engine_finished(self, message: m.EngineFinished) -> None:
        if self._current(message):
            self._finished(message.event)

    def _finished(self, event: ev.Finished) -> None:
        state = AppState.STOPPED if event.stopped else AppState.FINISHED
        self._set_state(
            state,
            message="",
            perplexity=event.perplexity,
            val_perplexity=event.val_perplexity,
            tokens_per_s=event.tokens_per_s,
            elapsed_s=event.elapsed_s,
            eta_s=None,
            epoch=event.epoch,
            test_perplexity=event.test_perplexity,
        )
        if not event.stopped:
            self.status_bar.set_progress(event.epoch, self.status_bar.status.epochs or event.epoch)
        text = (
            f"■ {state.value} at epoch {event.epoch}: perplexity {format_perplexity(event.perplexity)}"
            + (f", val {format_perplexity(event.val_perplexity)}" if event.val_perplexity is not None else "")
            + f", {event.tokens_per_s:,.0f} tokens/s on {event.device}"
        )
        self.log_view.good(text)
        if event.test_perplexity is not None:
            self.log_view.add(
                f"  test perplexity {format_perplexity(event.test_perplexity)} ({bits(event.test_perplexity)} "
                f"{self.status_bar.status.bits_unit}): the held-out end of the corpus, scored once",
                "magenta",
            )
        if event.generation_perplexity is not None:
            self.log_view.add(
                f"  generation perplexity {format_perplexity(event.generation_perplexity)} (scored one character at"
                " a time, as the model writes)",
                "green",
            )
        run_path = self.session.run_path
        if run_path and not event.checkpoint_saved:
            why = f" ({event.checkpoint_error})" if event.checkpoint_error else " (see above)"
            self.log_view.error(
                f"✗ the closing checkpoint could not be written{why}: the run folder holds an older one, or none"
            )
            self.notify("The closing checkpoint could not be written.", title="Not saved", severity="error")
        elif run_path:
            self.log_view.info(f"saved in {run_path}" + ("; F8 continues it" if event.stopped else ""))
        if self._quit_after_stop:
            if event.stopped and run_path:
                self.exit_note = (
                    f"lstm-tui: stopped at epoch {event.epoch}; checkpoint in {run_path}\n"
                    f"continue with: lstm-tui train --resume {run_path}"
                )
            self.exit(0)

    def on_engine_failed(self, message: m.EngineFailed) -> None:
        if not self._current(message):
            return
        event = message.event
        reason = event.reason + (f" — {event.hint}" if event.hint else "")
        self._set_state(AppState.FAILED, message=event.reason[:80], eta_s=None)
        self.status_bar.set_progress(0, 1)
        self.log_view.error(f"✗ run failed: {event.reason}")
        if event.hint:
            self.log_view.warn(f"  fix: {event.hint}")
        self.notify(reason, title="Run failed", severity="error", timeout=8, markup=False)
        if self._quit_after_stop:
            self.exit_note = f"lstm-tui: the run failed: {reason}"
            self.exit(0)
