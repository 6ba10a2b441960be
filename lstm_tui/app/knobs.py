"""Live knobs from the main screen (ctrl+k), mixed into :class:`~lstm_tui.app.main.LstmTuiApp`.

The app's own run: ``Trainer.set_knobs`` (applied at the next batch). A run another live
process trains (``session.run_path`` whose lock names another pid): the control file's ``set``
command, its acknowledgement waited for on a worker and shown. Each change that took effect
(:class:`~.messages.EngineKnobChanged`) is a marker on the perplexity chart and a log line.
"""

from __future__ import annotations

import os
from typing import Any

from textual import work

from lstm_tui.core.config import ConfigError
from lstm_tui.core.knobs import LIVE_KNOBS, parse_knobs

from . import messages as m
from .screens.knobs import KnobsDialog


def knob_line(name: str, previous: float, value: float, epoch: int, batch: int) -> str:
    """``"lr 1 -> 0.5 at epoch 3, batch 17"``."""
    return f"{name} {previous:g} -> {value:g} at epoch {epoch}, batch {batch}"


def other_trainer(run_path: str | None) -> dict[str, Any] | None:
    """The live holder of ``run_path``'s lock when it is another process, else None."""
    if not run_path:
        return None
    from lstm_tui.core.runs import lock_holder

    holder = lock_holder(run_path)
    if holder is None or holder.get("pid") == os.getpid():
        return None
    return holder


class KnobsMixin:
    """ctrl+k: change the run's learning rate, clipping, momentum and weight decay live."""

    _batches_per_epoch: int = 0

    def action_knobs(self) -> None:
        trainer = self.session.trainer
        if trainer is not None and self.run_active:
            self.push_screen(KnobsDialog(trainer.config, "this run", self._set_own), self._knobs_done)
            return
        run_path = self.session.run_path
        holder = other_trainer(run_path)
        if holder is None:
            self.notify("No run is training: live knobs change a run as it trains (F5 starts one).", severity="warning")
            return
        from lstm_tui.core.runs import RunDir

        try:
            config = RunDir(run_path).read_config()
        except Exception as exc:  # noqa: BLE001 - said, never raised
            self.notify(f"Cannot read the run's config: {exc}", severity="error", markup=False)
            return
        what = f"{os.path.basename(run_path)} (process {holder.get('pid', '?')})"
        self.push_screen(KnobsDialog(config, what, self._set_other), self._knobs_done)

    def _set_own(self, changes: dict[str, str]) -> tuple[str, str] | None:
        try:
            self.session.trainer.set_knobs(**changes)
        except ConfigError as exc:
            return exc.field, exc.message
        return None

    def _set_other(self, changes: dict[str, str]) -> tuple[str, str] | None:
        from lstm_tui.core import control_file

        run_path = self.session.run_path
        try:
            parsed = parse_knobs(changes)
            sent = control_file.send(run_path, "set", **parsed)
        except ConfigError as exc:
            return exc.field, exc.message
        except control_file.ControlRefused as exc:
            return "run", str(exc)
        self._wait_knob_ack(run_path, sent)
        return None

    def _knobs_done(self, changes: dict[str, str] | None) -> None:
        if changes:
            text = ", ".join(f"{name} {changes[name]}" for name in LIVE_KNOBS if name in changes)
            self.log_view.info(f"knobs asked for: {text} (from the next batch)")

    @work(thread=True, group="knobs", exit_on_error=False)
    def _wait_knob_ack(self, run_path: str, sent: Any) -> None:
        from lstm_tui.core.control_file import wait_for_ack

        ack = wait_for_ack(run_path, sent, timeout=10.0)
        self.post_message(m.KnobAck(ack.outcome if ack else None, ack.detail if ack else ""))

    def on_knob_ack(self, message: m.KnobAck) -> None:
        if message.outcome is None:
            self.notify(
                "The trainer has not answered yet (it applies the knobs at its next batch).", severity="warning"
            )
        else:
            severity = "information" if message.outcome == "applied" else "warning"
            self.notify(f"{message.outcome}: {message.detail}", title="Knobs", severity=severity, markup=False)
            self.log_view.info(f"the trainer answered: {message.outcome} {message.detail}")

    def on_engine_knob_changed(self, message: m.EngineKnobChanged) -> None:
        if not self.session.is_current(message.run_id):
            return
        event = message.event
        self.chart.add_knob(knob_x(event.epoch, event.batch, self._batches_per_epoch), event.name)
        self.log_view.info(knob_line(event.name, event.previous, event.value, event.epoch, event.batch))


def knob_x(epoch: int, batch: int, batches: int) -> float:
    """Where a knob change goes on the chart's epoch axis: ``epoch - 1 + batch / batches``."""
    return epoch - 1 + (batch / batches if batches > 0 else 0.0)
