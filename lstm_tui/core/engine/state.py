"""What the trainer's mixins (epochs.py, persist.py) read and call on the :class:`Trainer`:
its attributes, typed once, and the methods one part defines and another calls."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from ..config import RunConfig
from ..events import Event
from ..models.base import State
from ..runs import RunDir, RunStatus
from .control import RunControl
from .sgd import Optimizer

if TYPE_CHECKING:
    from ..checkpoint import Checkpoint
    from ..data.dataset import CorpusData
    from ..data.vocab import Vocab
    from ..models.base import RecurrentLM
    from .grad_stats import GradStats
    from .step import Step, StepSettings


class TrainerState:
    """The trainer's state, as its mixins see it (set in ``Trainer.__init__``)."""

    config: RunConfig
    run_dir: RunDir | None
    data: CorpusData | None
    vocab: Vocab | None
    model: RecurrentLM | None
    optimizer: Optimizer | None
    device: torch.device | None
    history: list[dict[str, Any]]
    epoch: int
    batch: int
    _control: RunControl
    _model_lock: threading.Lock
    _checkpoint: Checkpoint | None
    _allow_corpus_change: bool
    _rng: random.Random
    _epoch_rng_state: tuple[Any, ...]
    _elapsed_base: float
    _clock_start: float
    _paused_total: float
    _pause_began: float | None
    _device_text: str
    _amp_on: bool
    _last_saved: tuple[int, int] | None
    _progress_interval_s: float
    _checkpoint_epoch: int | None
    _checkpoint_error: str
    _grad_stats: GradStats | None  # the gradient lens's totals (None: a step without them)
    _step: Step | None
    _step_settings: StepSettings
    _lr_factor: float

    # defined by one part of the trainer, called by another
    def _emit(self, event: Event) -> None:
        raise NotImplementedError

    def _report_once(self, key: str, message: str) -> None:
        raise NotImplementedError

    def _elapsed(self) -> float:
        raise NotImplementedError

    def _persist(self, what: str, write: Callable[..., Any], *args: Any) -> None:
        raise NotImplementedError

    def _write_summary(self, status: RunStatus, **fields: Any) -> None:
        raise NotImplementedError

    def _apply_knobs(self, epoch: int, batch: int) -> None:
        raise NotImplementedError

    def _schedule_epoch(self, epoch: int) -> float | None:
        raise NotImplementedError

    def _early_stop(self, model: RecurrentLM, optimizer: Optimizer) -> bool:
        raise NotImplementedError

    def _stopped_early_before(self) -> bool:
        raise NotImplementedError

    def _amp_hint(self, device: torch.device) -> None:
        raise NotImplementedError

    def _payload(
        self,
        model: RecurrentLM,
        optimizer: Optimizer,
        *,
        carry: State | None = None,
        accum: dict[str, Any] | None = None,
        in_epoch: bool = False,
    ) -> dict[str, Any]:
        raise NotImplementedError

    def _save_checkpoint(
        self,
        model: RecurrentLM,
        optimizer: Optimizer,
        *,
        carry: State | None = None,
        accum: dict[str, Any] | None = None,
        in_epoch: bool = False,
        requested: bool = False,
    ) -> bool:
        raise NotImplementedError
