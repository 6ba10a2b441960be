"""Run-folder writes of the trainer: checkpoints (save / restore), metrics, summary.

A checkpoint holds everything needed to continue bit-for-bit: weights, optimizer state, the
torch RNG, the Python RNG state at the start of the current epoch (to rebuild its minibatch
order), and for a mid-epoch stop the carried hidden state and the partial loss sum.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..checkpoint import Checkpoint, CheckpointError, describe_state_mismatch
from ..data.dataset import CorpusData
from ..data.errors import CorpusError
from ..events import Checkpointed, CheckpointFailed, NoRunFolder, Status
from ..models.base import RecurrentLM, State
from ..runs import CORPUS_CHANGE_HINT, RunError, RunStatus, Summary, repair_run_files
from ..runs.payload import make_payload
from .errors import NonFinite
from .sgd import Optimizer
from .state import TrainerState

#: Config fields that decide how the corpus is cut into an epoch's batches.
BATCHING_FIELDS = ("batch_size", "num_steps", "sampling", "max_tokens", "val_split", "corpus", "token", "raw")
#: Optimizer settings that belong to this run's device and code path, not to the checkpoint.
RUNTIME_FLAGS = ("capturable", "foreach", "fused")


def _keep_runtime_flags(optimizer: Optimizer) -> None:
    """Undo what ``load_state_dict`` copied over from the saved optimizer that is not its state.

    torch restores every parameter group's settings from the checkpoint, so a checkpoint of a
    CUDA-graph run (``capturable=True``) would make Adam refuse CPU tensors, and a CPU one would
    break graph capture. The flags go back to the freshly built optimizer's, and Adam's step
    counters move to where those flags want them (the parameter's device, or the CPU)."""
    for group in optimizer.param_groups:
        for flag in RUNTIME_FLAGS:
            if flag in optimizer.defaults:
                group[flag] = optimizer.defaults[flag]
        on_device = bool(group.get("capturable") or group.get("fused"))
        for param in group["params"]:
            step = optimizer.state.get(param, {}).get("step")
            if isinstance(step, torch.Tensor):
                optimizer.state[param]["step"] = step.to(param.device if on_device else "cpu", torch.float32)


def params_finite(model: torch.nn.Module) -> bool:
    with torch.no_grad():
        return bool(torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all())


class PersistMixin(TrainerState):
    """Methods of :class:`~lstm_tui.core.engine.Trainer` that read and write its run folder."""

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
        """Write the checkpoint at (epoch, batch); False when it could not be written.

        ``in_epoch``: called inside an epoch (its minibatch order is rebuilt from the RNG state
        at its start); ``requested``: asked for with ``checkpoint_now()``, so always answer with
        an event. Without a run folder there is nothing to write (True)."""
        if self.run_dir is None:
            if requested:
                self._emit(NoRunFolder("this run has no run folder: there is nowhere to save a checkpoint"))
            return True
        if self._last_saved == (self.epoch, self.batch):
            if requested:
                self._emit(Checkpointed(epoch=self.epoch, path=str(self.run_dir.checkpoint_path)))
            return True
        if not params_finite(model):  # never write NaN weights over the last good checkpoint
            raise NonFinite(float("nan"), self.epoch + (1 if self.batch else 0), "weights")
        payload = self._payload(model, optimizer, carry=carry, accum=accum, in_epoch=in_epoch)
        try:
            path = self.run_dir.save_checkpoint(payload)
        except (CheckpointError, RunError, OSError) as exc:  # (the message says the previous one is kept)
            self._checkpoint_error = str(exc)
            self._emit(CheckpointFailed(epoch=self.epoch, reason=str(exc), kept_epoch=self._checkpoint_epoch))
            return False
        self._last_saved = (self.epoch, self.batch)
        self._checkpoint_epoch, self._checkpoint_error = self.epoch, ""
        self._emit(Checkpointed(epoch=self.epoch, path=str(path)))
        return True

    def _payload(
        self,
        model: RecurrentLM,
        optimizer: Optimizer,
        *,
        carry: State | None = None,
        accum: dict[str, Any] | None = None,
        in_epoch: bool = False,
    ) -> dict[str, Any]:
        """The checkpoint payload of the run as it is now (at ``self.epoch``, ``self.batch``)."""
        mid_epoch = self.batch > 0
        rng = {
            "torch": torch.get_rng_state(),
            "python_epoch": self._epoch_rng_state if mid_epoch or in_epoch else self._rng.getstate(),
        }
        if self.device is not None and self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return make_payload(
            config=self.config,
            vocab=self.vocab,
            model_state=model.state_dict(),
            optimizer_state=optimizer.state_dict(),
            epoch=self.epoch,
            batch=self.batch,
            history=self.history,
            rng=rng,
            carry=carry,
            accum=accum,
            elapsed_s=self._elapsed(),
        )

    def _restore(self, checkpoint: Checkpoint, model: RecurrentLM, optimizer: Optimizer, device: torch.device) -> None:
        problem = describe_state_mismatch(
            model.state_dict(), checkpoint.model_state, self.config, len(checkpoint.vocab)
        )
        if problem:
            raise CheckpointError(f"the checkpoint does not fit the model of this config: {problem}", checkpoint.path)
        model.load_state_dict(checkpoint.model_state, strict=True)
        if checkpoint.optimizer_state and checkpoint.config.optimizer == self.config.optimizer:
            optimizer.load_state_dict(checkpoint.optimizer_state)
            _keep_runtime_flags(optimizer)
            for group in optimizer.param_groups:  # a resume (or a fork) may change these
                group["lr"] = self.config.lr
                group["weight_decay"] = self.config.weight_decay
                if "momentum" in group:  # (SGD's; Adam has none)
                    group["momentum"] = self.config.momentum
        elif checkpoint.optimizer_state:
            self._emit(
                Status(
                    f"optimizer changed from {checkpoint.config.optimizer} to {self.config.optimizer}: "
                    "its state starts fresh"
                )
            )
        rng = checkpoint.rng or {}
        if isinstance(rng.get("torch"), torch.Tensor):
            torch.set_rng_state(rng["torch"])
        if device.type == "cuda" and rng.get("cuda") is not None:
            try:
                torch.cuda.set_rng_state_all(rng["cuda"])
            except Exception:  # noqa: BLE001 - another GPU count: the CUDA RNG is not used by training
                pass
        if rng.get("python_epoch") is not None:
            self._rng.setstate(rng["python_epoch"])
        self._elapsed_base = checkpoint.elapsed_s
        # A resume with changes has nothing on disk yet: a stop before the first batch must save them.
        self._last_saved = (checkpoint.epoch, checkpoint.batch) if checkpoint.config == self.config else None
        if checkpoint.batch:
            self._check_batching(checkpoint)

    def _check_batching(self, checkpoint: Checkpoint) -> None:
        """A mid-epoch checkpoint continues its epoch only with the batches it was cut from.

        Its batch count, carried state and partial loss belong to the old partition of the
        corpus; with another one the epoch starts again at its first batch (from the
        checkpoint's weights), and a Status says why."""
        old, new = checkpoint.config, self.config
        changed = [
            f"{name} {getattr(old, name)!r} -> {getattr(new, name)!r}"
            for name in BATCHING_FIELDS
            if getattr(old, name) != getattr(new, name)
        ]
        if changed:
            self.batch = 0
            self._emit(
                Status(
                    f"the batching changed since the checkpoint ({', '.join(changed)}): epoch "
                    f"{checkpoint.epoch + 1} starts again at its first batch, from the checkpoint's weights"
                )
            )

    def _repair_run_files(self, checkpoint: Checkpoint) -> None:
        """metrics.jsonl and samples.jsonl in step with the resumed checkpoint (see
        :func:`~lstm_tui.core.runs.repair_run_files`): an interruption between an epoch's metrics
        line and its checkpoint left lines that are trained again, a kill tore one."""
        if self.run_dir is not None:
            repair_run_files(self.run_dir.path, checkpoint.epoch, checkpoint.history, checkpoint.batch)

    def _check_corpus_change(self, data: CorpusData) -> None:
        """A resume over a corpus that is not the run's recorded text raises CorpusError (both
        SHA-1s named) unless it was allowed (``allow_corpus_change``)."""
        if self.run_dir is None or self._allow_corpus_change:
            return
        if reason := self.run_dir.corpus_change(data.sha1, data.nbytes):
            raise CorpusError(reason, CORPUS_CHANGE_HINT)

    def _write_summary(self, status: RunStatus, **fields: Any) -> None:
        if self.run_dir is None:
            return
        summary = Summary(status=status, **fields)
        summary.device = summary.device or self._device_text
        summary.epochs = self.config.epochs
        summary.history_epochs = len(self.history)
        summary.checkpoint_epoch = self._checkpoint_epoch
        summary.checkpoint_error = self._checkpoint_error or None
        if self.data is not None and self.data.sha1:  # the corpus trained on (a resume checks it)
            summary.corpus_sha1, summary.corpus_bytes = self.data.sha1, self.data.nbytes
        self._persist("summary", self.run_dir.write_summary, summary)

    def _persist(self, what: str, write: Callable[..., Any], *args: Any) -> None:
        """Write run files; a failure is reported (once per kind) and training goes on."""
        try:
            write(*args)
        except (RunError, OSError, TypeError, ValueError) as exc:
            self._report_once(f"persist:{what}", f"cannot write the run's {what}: {exc}")
