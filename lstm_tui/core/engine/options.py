"""Live knobs, learning-rate schedules, early stopping with ``best.pt`` and the amp hint: the
methods of :class:`~lstm_tui.core.engine.Trainer` for the training options of issue 14.

A knob change (:meth:`OptionsMixin.set_knobs`, any thread) is queued on the run's
:class:`~.control.RunControl` and applied by the training thread at the next batch boundary:
the optimizer's parameter groups (lr, momentum, weight_decay) or the step's clip threshold
change, the trainer's config is replaced by one with the new values (so checkpoints, and an
exact resume, keep them; ``config.toml`` is rewritten too), and each change is a
:class:`~lstm_tui.core.events.KnobChanged` event and a ``metrics.jsonl`` record."""

from __future__ import annotations

from typing import Any

import torch

from ..device import bf16_native
from ..events import KnobChanged, Status
from ..knobs import KNOB_KEY, check_knobs
from ..models.base import RecurrentLM
from ..runs import RunError
from ..runs.payload import CheckpointError
from ..schedule import epochs_since_best, lr_factor, scheduled
from .graph_step import StaticStep
from .sgd import Optimizer
from .state import TrainerState


class OptionsMixin(TrainerState):
    """See the module docstring."""

    # ------------------------------------------------------------------ live knobs
    def set_knobs(self, **changes: Any) -> dict[str, float]:
        """Change live knobs (``lr``, ``clip`` (0: off), ``momentum``, ``weight_decay``) at the
        next batch boundary; thread-safe. Returns the parsed values; raises ``ConfigError``
        naming the field for an unknown knob or a bad value (nothing is queued then)."""
        return self._control.set_knobs(**changes)

    def _check_knobs(self, changes: dict[str, Any]) -> dict[str, float]:
        return check_knobs(self.config, changes)

    def _apply_knobs(self, epoch: int, batch: int) -> None:
        """The queued knob changes, applied before batch ``batch`` + 1 of epoch ``epoch``."""
        changes = {k: v for k, v in self._control.take_knobs().items() if getattr(self.config, k) != v}
        if not changes:
            return
        previous = {name: float(getattr(self.config, name)) for name in changes}
        self.config = self.config.replace(**changes)
        self._set_optimizer()
        self._step_settings.clip = self.config.clip
        if self._grad_stats is not None:  # the clipped share counts against the new threshold
            self._grad_stats.clip = float(self.config.clip)
        self._last_saved = None  # a checkpoint here must save the new values
        if self.run_dir is not None:
            self._persist("config", self.run_dir.write_config, self.config)
        for name, value in changes.items():
            record = {KNOB_KEY: name, "value": value, "previous": previous[name], "epoch": epoch, "batch": batch}
            self._emit(KnobChanged(name=name, value=value, previous=previous[name], epoch=epoch, batch=batch))
            if self.run_dir is not None:
                self._persist("metrics", self.run_dir.append_metric, record)

    def _set_optimizer(self) -> None:
        """The optimizer's groups from the config (and the schedule's factor); a captured step
        is captured again to see them."""
        cfg = self.config
        if self.optimizer is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.lr * self._lr_factor if self._lr_factor != 1.0 else cfg.lr
                group["weight_decay"] = cfg.weight_decay
                if "momentum" in group:  # SGD (Adam ignores momentum)
                    group["momentum"] = cfg.momentum
        if isinstance(self._step, StaticStep):
            self._step.invalidate()

    # ------------------------------------------------------------------ schedules
    def _schedule_epoch(self, epoch: int) -> float | None:
        """Set epoch ``epoch``'s learning rate; the rate, or None when nothing is scheduled."""
        if not scheduled(self.config):
            return None
        factor = lr_factor(self.config, epoch, [row.get("val_perplexity") for row in self.history])
        if factor != self._lr_factor:  # (the groups hold config.lr * self._lr_factor)
            self._lr_factor = factor
            self._set_optimizer()
        return self.config.lr * factor

    # ------------------------------------------------------------------ early stopping
    def _early_stop(self, model: RecurrentLM, optimizer: Optimizer) -> bool:
        """After an epoch: ``best.pt`` when its validation perplexity is the best so far; True
        when ``early_stop_patience`` epochs have passed without a better one."""
        since = self._epochs_since_best()
        if since == 0:
            self._save_best(model, optimizer)
            return False
        return self._patience_spent(since, "early stopping")

    def _stopped_early_before(self) -> bool:
        """On a resume: True (and says so) when the run's history already spent its patience,
        so a resume with unchanged settings trains nothing (raise early_stop_patience to go on)."""
        return self._patience_spent(self._epochs_since_best(), "stopped early before this resume")

    def _epochs_since_best(self) -> int | None:
        """Epochs since the best validation perplexity, or None when early stopping is off or the
        last epoch has no validation figure."""
        if not self.config.early_stop_patience or not self.history:
            return None
        if self.history[-1].get("val_perplexity") is None:
            return None
        return epochs_since_best([row.get("val_perplexity") for row in self.history])[0]

    def _patience_spent(self, since: int | None, what: str) -> bool:
        if since is None or since < self.config.early_stop_patience:
            return False
        best = self.history[len(self.history) - 1 - since]
        self._emit(
            Status(
                f"{what}: no better validation perplexity for {since} epochs "
                f"(best {best['val_perplexity']:.3f} at epoch {best['epoch']}, kept in best.pt)"
            )
        )
        return True

    def _save_best(self, model: RecurrentLM, optimizer: Optimizer) -> None:
        if self.run_dir is None:
            return
        try:
            self.run_dir.save_best(self._payload(model, optimizer))
        except (CheckpointError, RunError, OSError) as exc:
            self._report_once("best", f"cannot write best.pt: {exc}")

    # ------------------------------------------------------------------ amp
    def _amp_hint(self, device: torch.device) -> None:
        """Say once that ``--amp`` would be faster where bf16 is native and amp is off."""
        if not self.config.amp and bf16_native(device):
            self._report_once(
                "amp",
                f"{describe(device)} computes bf16 natively: --amp would train faster "
                "(float32 stays the default so the book's numbers hold)",
            )


def describe(device: torch.device) -> str:
    return "this GPU" if device.type == "cuda" else "this CPU"
