"""The training loop: d2l's ``train_ch8`` / ``train_epoch_ch8`` with events, control and checkpoints.

Per epoch, as in the book: a new minibatch iterator (sequential partitioning by default, random
sampling with ``sampling="random"``); sequential sampling starts from ``begin_state`` and carries
the state from batch to batch, detached (truncated BPTT); random sampling starts every batch
from ``begin_state``. The loss is the mean cross-entropy against ``Y.T.reshape(-1)``; SGD with
``lr`` is d2l's ``sgd`` (``batch_size=1`` because the loss is already a mean); the gradient is
clipped to a global norm of ``clip`` (d2l's ``grad_clipping``); the epoch perplexity is
``exp(sum(loss * tokens) / sum(tokens))``. Predictions are greedy (d2l's ``predict_ch8``).

Speed: the corpus is moved to the device once, batches are slices of it, the loss sum stays on
the device and the host only waits for it at epoch end and for a (throttled) progress event.
"""

from __future__ import annotations

import copy
import logging
import os
import random
import threading
import time
from typing import Any

import torch

from ..checkpoint import Checkpoint
from ..config import RunConfig
from ..control_file import ControlFilePoller
from ..data.dataset import CorpusData, check_batches, check_vocab, corpus_for
from ..data.vocab import Vocab
from ..device import bf16_native, describe_device, resolve_device, threads_warning, use_threads
from ..events import (
    DownloadProgress,
    Event,
    EventHandler,
    Failed,
    Finished,
    LoadProgress,
    Started,
    Status,
    ignore,
)
from ..models import build_model
from ..models.base import RecurrentLM
from ..models.fused_lstm import WORKSPACES
from ..runs import RunBusy, RunDir, RunLock, RunStatus, as_run_dir, remove_stale_temp_files
from ..throttle import Throttle
from ..timelapse import snapshot_plan
from .allocator import keep_freed_memory
from .control import RunControl
from .epochs import EpochsMixin
from .errors import HandlerError
from .failures import failure_of
from .options import OptionsMixin
from .persist import PersistMixin
from .sgd import Optimizer
from .step import StepSettings, make_optimizer

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.2  # the most often BatchProgress and DownloadProgress are emitted


class Trainer(EpochsMixin, OptionsMixin, PersistMixin):
    """Train one run of ``config``; see the module docstring and ARCHITECTURE.md.

    ``run()`` blocks (call it from a worker thread) and returns :class:`Finished` or
    :class:`Failed`; :meth:`pause`, :meth:`resume`, :meth:`stop` and :meth:`snapshot` may be
    called from any thread, and so may :meth:`set_knobs` (live lr / clip / momentum / weight
    decay, see options.py). A trainer runs once; continue a stopped run with :meth:`resume_from`.
    """

    def __init__(
        self,
        config: RunConfig,
        on_event: EventHandler | None = None,
        run_dir: RunDir | str | os.PathLike[str] | None = None,
        data: CorpusData | None = None,
    ):
        self.config = config
        self.on_event: EventHandler = on_event or ignore
        self.run_dir = as_run_dir(run_dir)
        self.data = data
        self.model = None
        self.optimizer: Optimizer | None = None
        self.vocab = data.vocab if data is not None else None
        self.device: torch.device | None = None
        self.history: list[dict[str, Any]] = []
        self.epoch = 0  # completed epochs
        self.batch = 0  # batches done in the current epoch
        self.result: Finished | Failed | None = None
        self.traceback: str = ""  # of an unexpected error, for logs and bug reports
        self._control = RunControl(check_knobs=self._check_knobs)
        self._step = None  # the training step (a captured one is captured again after a knob change)
        self._step_settings = StepSettings(config.clip)
        self._lr_factor = 1.0  # the schedule's factor on config.lr the optimizer holds now
        self._model_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._started = False
        self._running = False
        self._checkpoint: Checkpoint | None = None
        self._resuming = False  # made by resume_from: the run folder holds a run to protect
        self._allow_corpus_change = False  # (a resume over another text: from_checkpoint)
        self._announced = False  # Started emitted: the run is under way
        self._rng = random.Random(config.seed)
        self._epoch_rng_state = self._rng.getstate()
        self._elapsed_base = 0.0
        self._clock_start = 0.0
        self._paused_total = 0.0
        self._pause_began: float | None = None
        self._device_text = ""
        self._amp_on = False  # bf16 autocast, decided with the device
        self._last_saved: tuple[int, int] | None = None
        self._reported: set[str] = set()
        self._grad_stats = None  # set with the step (epochs.py)
        self._progress_interval_s = PROGRESS_INTERVAL_S
        self._throttle = Throttle(PROGRESS_INTERVAL_S, start=0.0)
        self._checkpoint_epoch: int | None = None  # the epoch the run folder's checkpoint holds
        self._checkpoint_error = ""  # why the last checkpoint write failed ('' once one succeeds)

    # ------------------------------------------------------------------ construction
    @classmethod
    def resume_from(
        cls,
        run_dir: RunDir | str | os.PathLike[str],
        on_event: EventHandler | None = None,
        data: CorpusData | None = None,
        allow_corpus_change: bool = False,
        **changes: Any,
    ) -> Trainer:
        """A trainer that continues ``run_dir`` from its checkpoint.

        ``changes`` override config fields for the rest of the run (e.g. ``epochs=800`` for a
        new total, ``lr=0.5``); fields that change the model's shape make ``run()`` fail.
        Raises ``CheckpointError`` / ``RunError`` when there is no usable checkpoint and
        ``ConfigError`` for a bad change; problems found while running come back as :class:`Failed`.
        """
        run = run_dir if isinstance(run_dir, RunDir) else RunDir.open(run_dir)
        checkpoint = run.load_checkpoint()
        config = checkpoint.config.replace(**changes) if changes else checkpoint.config
        return cls.from_checkpoint(run, checkpoint, config, on_event, data, allow_corpus_change)

    @classmethod
    def from_checkpoint(
        cls,
        run: RunDir,
        checkpoint: Checkpoint,
        config: RunConfig,
        on_event: EventHandler | None = None,
        data: CorpusData | None = None,
        allow_corpus_change: bool = False,
    ) -> Trainer:
        """A trainer that continues ``run`` from ``checkpoint`` (already read) with ``config``
        (the checkpoint's, changed); :func:`~lstm_tui.core.session.prepare_resume` checks both first.
        A corpus that is not the run's recorded text fails the run unless ``allow_corpus_change``."""
        trainer = cls(config, on_event=on_event, run_dir=run, data=data)
        trainer._allow_corpus_change = allow_corpus_change
        trainer._checkpoint = checkpoint
        trainer._checkpoint_epoch = checkpoint.epoch
        trainer._resuming = True
        trainer.vocab = checkpoint.vocab
        trainer.epoch = checkpoint.epoch
        trainer.batch = checkpoint.batch
        trainer.history = [dict(row) for row in checkpoint.history]
        return trainer

    # ------------------------------------------------------------------ control (any thread)
    def pause(self) -> None:
        self._control.pause()

    def resume(self) -> None:
        self._control.resume()

    def stop(self) -> None:
        self._control.stop()

    def checkpoint_now(self) -> None:
        """Ask for a checkpoint at the next batch boundary (also while paused); thread-safe.

        The training thread writes it (mid-epoch checkpoints resume exactly) and emits
        :class:`Checkpointed` (or :class:`CheckpointFailed`); a run without a run folder emits
        :class:`NoRunFolder`.
        """
        self._control.request_checkpoint()

    @property
    def paused(self) -> bool:
        return self._control.pause_requested and not self._control.stopping

    @property
    def running(self) -> bool:
        return self._running

    @property
    def stopping(self) -> bool:
        return self._control.stopping

    def snapshot(self) -> tuple[RecurrentLM, Vocab | None]:
        """``(copy of the model on the CPU in eval mode, vocab)``; safe while training runs."""
        with self._model_lock:
            if self.model is None:
                raise RuntimeError("the model is not built yet (the run has not started)")
            model = copy.deepcopy(self.model)
        model = model.to("cpu").eval()
        for param in model.parameters():
            param.grad = None
            param.requires_grad_(False)
        return model, self.vocab

    # ------------------------------------------------------------------ running
    def run(self) -> Finished | Failed:
        """Train; returns (and emits last) :class:`Finished` or :class:`Failed`. Never raises for run problems."""
        with self._run_lock:
            if self._started:
                return Failed("this trainer has already run", "make a new Trainer, or use Trainer.resume_from(run_dir)")
            self._started = True
            self._running = True
        try:
            self.result = self._guarded()
        finally:
            self._running = False
            WORKSPACES.drain()  # the fused LSTM's reusable buffers: not kept for a run that is over
        return self.result

    def _guarded(self) -> Finished | Failed:
        """The run under its folder's lock (see :mod:`~lstm_tui.core.runs.lock`)."""
        try:
            lock = RunLock.acquire(self.run_dir.path) if self.run_dir is not None else None
        except RunBusy as exc:  # another process trains this run: touch none of its files
            failed = Failed(exc.reason, exc.hint, epoch=self.epoch)
            self._emit_last(failed)
            return failed
        if lock is None:
            return self._train_reporting_failures()
        remove_stale_temp_files(lock.path.parent)  # (a kill during an atomic write left these; the folder is ours now)
        poller = ControlFilePoller(lock.path.parent, self._control)  # other processes' pause/stop/save requests
        poller.start_thread()
        try:
            return self._train_reporting_failures()
        finally:
            poller.stop_thread()  # before the lock goes: a stop's acknowledgement is written first
            lock.release()

    def _train_reporting_failures(self) -> Finished | Failed:
        try:
            return self._train()
        except Exception as exc:  # noqa: BLE001 - run() reports every problem as Failed
            failed, self.traceback = failure_of(exc, self.config, self.epoch, self._device_text, self.device)
        if self._announced or not self._resuming:  # a refused resume leaves the run's files as they were
            self._write_summary(
                RunStatus.FAILED,
                epoch=failed.epoch,
                reason=failed.reason,
                hint=failed.hint,
                detail=failed.detail or None,
                traceback=self.traceback or None,
            )
        self._emit_last(failed)
        return failed

    def _emit_last(self, failed: Failed) -> None:
        try:
            self.on_event(failed)
        except Exception:  # noqa: BLE001 - nothing left to report it to but the log
            log.exception("event handler raised on the failed event")

    # ------------------------------------------------------------------ the loop
    def _train(self) -> Finished:
        """The whole run: set up, train the epochs, then the closing checkpoint and numbers."""
        keep_freed_memory()  # no page faults on every batch (see allocator.py)
        device = self._open_device()
        data = self._corpus()
        model, optimizer = self._build(device, len(data.vocab))
        train, val, batches = self._splits(data, device)
        self._announce(model, data, batches)
        step = self._make_step(model, optimizer, device)
        self._clock_start = time.perf_counter()
        stopped, partial, last = self._epochs(model, optimizer, step, train, val, batches, device)
        return self._finish(model, optimizer, stopped, partial, last, train, val)

    # ------------------------------------------------------------------ set-up phases of _train
    def _open_device(self) -> torch.device:
        device = resolve_device(self.config.device)
        use_threads(self.config.threads)
        warning = threads_warning(self.config.threads)
        if warning:
            self._emit(Status(warning))
        self.device = device
        self._device_text = describe_device(device)
        self._amp_on = bool(self.config.amp and bf16_native(device))  # bf16 only where it is native
        if not self._resuming:  # a resume writes them once its checks have passed (see _announce)
            self._mark_running()
        return device

    def _mark_running(self) -> None:
        """``config.toml`` and a "running" summary in the run folder."""
        if self.run_dir is not None:
            self._persist("config", self.run_dir.write_config, self.config)
            self._write_summary(RunStatus.RUNNING)

    def _corpus(self) -> CorpusData:
        """The corpus (loaded now unless given), and the vocabulary the run uses."""
        data, checkpoint = self.data, self._checkpoint
        if data is None:
            self._emit(Status("loading corpus"))
            data = corpus_for(
                self.config,
                vocab=checkpoint.vocab if checkpoint else None,
                progress=self._download_progress,
                on_load=self._load_progress,
                cancel=lambda: self._control.stopping,
                on_status=lambda text: self._emit(Status(text)),
            )
            self.data = data
            for warning in data.warnings:
                self._emit(Status(warning))
        elif checkpoint is not None:  # given: checked like a loaded one
            check_vocab(data, checkpoint.vocab)
        if checkpoint is not None:
            self._check_corpus_change(data)
        self.vocab = checkpoint.vocab if checkpoint is not None else data.vocab
        return data

    def _build(self, device: torch.device, vocab_size: int) -> tuple[RecurrentLM, Optimizer]:
        """Seeded model and optimizer (restored from the checkpoint when resuming)."""
        cfg = self.config
        torch.manual_seed(cfg.seed)
        self._rng = random.Random(cfg.seed)
        model = build_model(cfg, vocab_size).to(device)
        model.train()
        optimizer = make_optimizer(cfg, model)
        if self._checkpoint is not None:
            self._restore(self._checkpoint, model, optimizer, device)
        with self._model_lock:
            self.model, self.optimizer = model, optimizer
        return model, optimizer

    def _splits(self, data: CorpusData, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None, int]:
        """``(train, val or None, batches per epoch)``, on the device."""
        cfg = self.config
        train = data.train.to(device)
        val = data.val.to(device) if data.val is not None and len(data.val) > 1 else None
        return train, val, check_batches(len(train), cfg)

    def _announce(self, model: RecurrentLM, data: CorpusData, batches: int) -> None:
        """:class:`Started`, then what a resumed or a bidirectional run should say."""
        cfg, checkpoint = self.config, self._checkpoint
        if self._resuming:
            self._mark_running()
        self._announced = True
        self._emit(
            Started(
                device=self._device_text,
                parameters=model.num_parameters(),
                vocab_size=len(data.vocab),
                corpus_tokens=len(data.train) + (len(data.val) if data.val is not None else 0),
                batches_per_epoch=batches,
                start_epoch=self.epoch + 1,
                epochs=cfg.epochs,
            )
        )
        if checkpoint is not None:
            where = f"epoch {checkpoint.epoch}" + (f", batch {checkpoint.batch}" if checkpoint.batch else "")
            self._emit(Status(f"resumed from the checkpoint at {where}"))
            if self.run_dir is not None:  # epochs logged after it are trained again; torn lines mended
                self._persist("metrics", self._repair_run_files, checkpoint)
        if not cfg.can_generate:
            self._emit(
                Status(
                    f"{cfg.generation_warning}: its samples are written the book's way anyway "
                    "(greedy, one step at a time, only the past)"
                )
            )
        if self.run_dir is not None:
            self._emit(Status(snapshot_plan(cfg, model.num_parameters())))

    # ------------------------------------------------------------------ events
    def _emit(self, event: Event) -> None:
        try:
            self.on_event(event)
        except Exception as exc:  # noqa: BLE001
            raise HandlerError(event, exc) from exc

    def _report_once(self, key: str, message: str) -> None:
        if key not in self._reported:
            self._reported.add(key)
            self._emit(Status(message))

    def _download_progress(self, done: int, total: int | None) -> None:
        if self._throttle.due(force=done == total):
            self._emit(DownloadProgress(done_bytes=int(done), total_bytes=total))

    def _load_progress(self, stage: str, done: int, total: int | None) -> None:
        if self._throttle.due(force=done == total):
            self._emit(LoadProgress(stage=stage, done=int(done), total=total))
