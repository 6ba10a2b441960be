"""The epochs of a run and its end: the methods of :class:`~lstm_tui.core.engine.Trainer` that
train (d2l's ``train_epoch_ch8``), report progress, make samples and close the run."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch

from ..data.iterators import data_iter
from ..events import BatchProgress, EpochEnd, Finished, Sample, Status
from ..generate import GenerationError, generation_perplexity, predict
from ..models.base import RecurrentLM, State
from ..models.fused_lstm import prepare_for_compile
from ..runs import RunStatus
from ..runs.snapshots import write_snapshot
from ..schedule import scheduled
from ..throttle import Throttle
from ..timelapse import snapshot_interval
from .grad_stats import GradReading, GradStats
from .graph_step import StaticStep
from .metrics import evaluate_perplexity, perplexity
from .sgd import Optimizer
from .state import TrainerState
from .step import Step, make_step
from .tally import EpochTally

END_PREFIX = "traveller"  # d2l also predicts from "traveller" when training ends
GENERATION_PPL_TOKENS = 1000  # tokens scored one at a time for Finished.generation_perplexity


class EpochsMixin(TrainerState):
    """The training loop's epochs, batches, samples and closing numbers (see trainer.py)."""

    # ------------------------------------------------------------------ the epochs and the end
    def _epochs(
        self,
        model: RecurrentLM,
        optimizer: Optimizer,
        step: Step,
        train: torch.Tensor,
        val: torch.Tensor | None,
        batches: int,
        device: torch.device,
    ) -> tuple[bool, dict[str, Any] | None, dict[str, Any]]:
        """Train the remaining epochs; ``(stopped, partial epoch or None, last epoch's numbers)``."""
        cfg = self.config
        last: dict[str, Any] = {"perplexity": float("nan"), "tokens_per_s": 0.0, "val_perplexity": None}
        if self.history:
            last.update({k: self.history[-1].get(k) for k in last})
            if self._stopped_early_before():  # (a resume of an early-stopped run trains nothing)
                return False, None, last
        for index in range(self.epoch, cfg.epochs):
            number = index + 1
            outcome = self._train_epoch(number, model, step, train, batches, device)
            if outcome["stopped"]:
                return True, outcome, last
            last = self._end_epoch(number, model, outcome, train, val)
            if self._early_stop(model, optimizer):  # (early_stop_patience; writes best.pt)
                return False, None, last
            if number < cfg.epochs and self._between_epochs(number, model, optimizer):
                return True, None, last
        return False, None, last

    def _end_epoch(
        self, number: int, model: RecurrentLM, outcome: dict[str, Any], train: torch.Tensor, val: torch.Tensor | None
    ) -> dict[str, Any]:
        """Validation, the epoch's record, :class:`EpochEnd` and the metrics line."""
        cfg = self.config
        ppl = perplexity(outcome["loss_sum"], outcome["tokens"])
        val_ppl = (
            evaluate_perplexity(model, val, cfg.batch_size, cfg.num_steps, amp=self._amp_on)
            if val is not None
            else None
        )
        self.epoch, self.batch = number, 0
        grads = self._grad_stats.read() if self._grad_stats is not None else GradReading()
        record: dict[str, Any] = {
            "epoch": number,
            "perplexity": ppl,
            "val_perplexity": val_ppl,
            "tokens_per_s": outcome["tokens_per_s"],
            "elapsed_s": self._elapsed(),
            "grad_norm": grads.grad_norm,
            "grad_norm_max": grads.grad_norm_max,
            "clipped_share": grads.clipped_share,
        }
        if scheduled(cfg):  # the rate the epoch ended with
            record["lr"] = cfg.lr * self._lr_factor
        if cfg.gen_ppl_every and number % cfg.gen_ppl_every == 0:
            record["generation_perplexity"] = self._generation_perplexity(model, val if val is not None else train)
        self.history.append(record)
        self._emit(
            EpochEnd(
                epoch=number,
                epochs=cfg.epochs,
                perplexity=ppl,
                tokens_per_s=record["tokens_per_s"],
                elapsed_s=record["elapsed_s"],
                val_perplexity=val_ppl,
                generation_perplexity=record.get("generation_perplexity"),
                grad_norm=grads.grad_norm,
                clipped_share=grads.clipped_share,
                grad_norm_max=grads.grad_norm_max,
            )
        )
        if self.run_dir is not None:
            self._persist("metrics", self.run_dir.append_metric, dict(record))
            if number % snapshot_interval(cfg) == 0:
                self._snapshot(model, number)
        return record

    def _between_epochs(self, number: int, model: RecurrentLM, optimizer: Optimizer) -> bool:
        """Samples and checkpoints due after epoch ``number``; True when the run should stop."""
        cfg = self.config
        if cfg.predict_every and number % cfg.predict_every == 0:
            self._samples(model, number, cfg.prefix)
        if cfg.checkpoint_every and number % cfg.checkpoint_every == 0:
            self._save_checkpoint(model, optimizer)
        if self._control.take_checkpoint_request():
            self._save_checkpoint(model, optimizer, requested=True)
        return self._control.stopping

    def _finish(
        self,
        model: RecurrentLM,
        optimizer: Optimizer,
        stopped: bool,
        partial: dict[str, Any] | None,
        last: dict[str, Any],
        train: torch.Tensor,
        val: torch.Tensor | None,
    ) -> Finished:
        """The closing checkpoint, d2l's final predictions, the summary and :class:`Finished`.

        A stopped run reports its last whole epoch's numbers (those in metrics.jsonl), or the
        partial epoch's when none finished, and skips the generation perplexity (a thousand
        one-token steps: a stop, often a quit, should not wait for them)."""
        cfg = self.config
        if stopped:
            self._emit(Status("stopped: saving the checkpoint and the final samples"))
        if partial is not None:  # stopped inside an epoch (maybe before its first batch)
            saved = self._save_checkpoint(
                model,
                optimizer,
                carry=partial["carry"],
                in_epoch=True,
                accum={"loss_sum": partial["loss_sum"], "tokens": partial["tokens"]},
            )
        else:
            saved = self._save_checkpoint(model, optimizer)
        if partial is not None and partial["batch"] > 0 and not self.history:
            last = {
                "perplexity": perplexity(partial["loss_sum"], partial["tokens"]),
                "tokens_per_s": partial["tokens_per_s"],
                "val_perplexity": (
                    evaluate_perplexity(model, val, cfg.batch_size, cfg.num_steps, amp=self._amp_on)
                    if val is not None
                    else None
                ),
            }
        self._samples(model, self.epoch, _end_prefixes(cfg.prefix), final=True)
        finished = Finished(
            epoch=self.epoch,
            perplexity=last["perplexity"],
            tokens_per_s=last["tokens_per_s"] or 0.0,
            elapsed_s=self._elapsed(),
            device=self._device_text,
            stopped=stopped,
            val_perplexity=last.get("val_perplexity"),
            generation_perplexity=None
            if stopped
            else self._generation_perplexity(model, val if val is not None else train),
            checkpoint_saved=saved,
            checkpoint_error="" if saved else self._checkpoint_error,
            test_perplexity=None if stopped else self._test_perplexity(model),
        )
        self._write_summary(RunStatus.STOPPED if stopped else RunStatus.FINISHED, **_finished_fields(finished))
        self._emit(finished)
        return finished

    def _train_epoch(
        self, number: int, model: RecurrentLM, step: Step, train: torch.Tensor, batches: int, device: torch.device
    ) -> dict[str, Any]:
        """One epoch (or the rest of one, after a mid-epoch resume); sums stay on the device."""
        cfg, control = self.config, self._control
        skip, carry, tally = self._epoch_start(number, device)
        self._schedule_epoch(number)
        iterator = data_iter(train, cfg.batch_size, cfg.num_steps, cfg.sampling, self._rng)
        fresh_state = cfg.sampling == "random"
        state = tuple(s.to(device) for s in carry) if carry is not None else None
        done, throttle = skip, Throttle(self._progress_interval_s, start=tally.start)

        def carried() -> State | None:  # the state the next batch would start from, for a mid-epoch checkpoint
            return None if state is None or fresh_state else tuple(s.detach().cpu() for s in state)

        def save_now() -> None:  # a checkpoint asked for with checkpoint_now(), here and exact
            if self.optimizer is not None:  # (built with the model, before the first epoch)
                self._save_checkpoint(
                    model,
                    self.optimizer,
                    in_epoch=True,
                    requested=True,
                    carry=carried(),
                    accum={"loss_sum": tally.total(), "tokens": tally.tokens},
                )

        for index, (X, Y) in enumerate(iterator):
            if index < skip:
                continue
            if control.pause_requested:
                tally.paused += self._wait_paused(number, done, save_now)
            if control.knobs_pending:
                self._apply_knobs(number, index)
            if control.checkpoint_requested and not control.stopping and control.take_checkpoint_request():
                save_now()
            if control.stopping:
                rate = tally.rate()
                return {
                    "stopped": True,
                    "batch": done,
                    "loss_sum": tally.total(),
                    "tokens": tally.tokens,
                    "tokens_per_s": rate,
                    "carry": carried(),
                }
            state = model.begin_state(X.shape[0], device) if state is None or fresh_state else model.detach_state(state)
            with self._model_lock:
                loss, state = step(X, Y, state)
            tally.add(loss, Y.numel())
            done = self.batch = index + 1
            now = time.perf_counter()
            if throttle.due(now):
                self._progress(number, done, batches, tally, now)
                throttle.last = time.perf_counter()
        total = tally.total()  # (waits for the device: the rate below includes all of its work)
        return {"stopped": False, "loss_sum": total, "tokens": tally.tokens, "tokens_per_s": tally.rate()}

    def _epoch_start(self, number: int, device: torch.device) -> tuple[int, State | None, EpochTally]:
        """``(batches to skip, carried state, tally)``: after a mid-epoch resume, the checkpoint's."""
        self._epoch_rng_state = self._rng.getstate()
        skip, carry, accum = self.batch, None, None
        if skip and self._checkpoint is not None:
            carry, accum = self._checkpoint.carry, self._checkpoint.accum
        self._checkpoint = None  # consumed: later epochs start fresh
        if self._grad_stats is not None:
            self._grad_stats.reset()
        return skip, carry, EpochTally(number, device, accum)

    def _progress(self, number: int, done: int, batches: int, tally: EpochTally, now: float) -> None:
        total = tally.total()  # the only host sync inside an epoch, at most every _progress_interval_s
        self._emit(
            BatchProgress(
                epoch=number,
                batch=done,
                batches=batches,
                perplexity=perplexity(total, tally.tokens),
                tokens_per_s=tally.rate(now),
                elapsed_s=self._elapsed(),
            )
        )

    def _make_step(self, model: RecurrentLM, optimizer: Optimizer, device: torch.device) -> Step:
        forward = None
        if self.config.compile:
            prepare_for_compile()  # (the fused kernel stays out of dynamo's graph)
            forward = torch.compile(model)
            self._emit(Status("torch.compile: the first batches are slow while it compiles"))
        graphs = self.config.graphs and device.type == "cuda" and forward is None
        self._amp_hint(device)  # (amp off where bf16 is native: say once that it would be faster)
        if self.config.amp:
            self._emit(
                Status(
                    "bf16 autocast on"
                    if self._amp_on
                    else f"bf16 autocast off: {self._device_text} has no native bf16; training in float32"
                )
            )
        self._grad_stats = GradStats(device, self.config.clip)
        step: Step = make_step(
            self.config,
            model,
            optimizer,
            device,
            amp=self._amp_on,
            forward=forward,
            graphs=graphs,
            grad_stats=self._grad_stats,
            settings=self._step_settings,
        )
        if graphs:
            self._emit(Status("capturing the training step in a CUDA graph (--no-graphs to skip)"))
            step = StaticStep(step, model, optimizer, device, capture=True, restore=self._grad_stats.tensors())
        self._step = step
        return step

    def _wait_paused(self, number: int, done: int, save_now: Callable[[], None] | None = None) -> float:
        self._emit(Status(f"paused at epoch {number}, batch {done}"))
        self._pause_began = time.perf_counter()  # (a checkpoint saved while paused must not count the pause)
        try:
            waited = self._control.wait_while_paused(save_now)
        finally:
            self._pause_began = None
        self._paused_total += waited
        if not self._control.stopping:
            self._emit(Status("resumed"))
        return waited

    def _elapsed(self) -> float:
        """Training seconds of the whole run so far: earlier sessions' plus this one's, pauses excluded."""
        now = time.perf_counter()
        pausing = now - self._pause_began if self._pause_began is not None else 0.0
        return self._elapsed_base + (now - self._clock_start) - self._paused_total - pausing

    # ------------------------------------------------------------------ samples and final numbers
    def _snapshot(self, model: RecurrentLM, epoch: int) -> None:
        """The time-lapse's weights of ``epoch`` (see timelapse.py), thinned to about 50."""
        assert self.run_dir is not None and self.vocab is not None
        with self._model_lock:
            state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        self._persist("snapshots", write_snapshot, self.run_dir.path, epoch, state, self.vocab.to_list())

    def _samples(self, model: RecurrentLM, epoch: int, prefixes: Iterable[str], final: bool = False) -> None:
        """Greedy predictions (d2l's ``predict_ch8``, one step at a time); a bidirectional model's
        too, the book's way, with its warning (it saw the future while training)."""
        if self.vocab is None:
            return
        warning = self.config.generation_warning
        for prefix in prefixes:
            try:
                text = predict(model, self.vocab, prefix, self.config.predict_length)
            except GenerationError as exc:
                self._report_once(f"prefix:{prefix}", f"no samples for prefix {prefix!r}: {exc.explain()}")
                continue
            sample = Sample(epoch=epoch, prefix=prefix, text=text, final=final, warning=warning)
            self._emit(sample)
            if self.run_dir is not None:
                record: dict[str, Any] = {"epoch": epoch, "prefix": prefix, "text": text}
                if warning:
                    record["warning"] = warning
                if final:  # the end of the run, or a stop: "batch" > 0 when it came inside epoch + 1
                    record.update(final=True, batch=self.batch)
                self._persist("samples", self.run_dir.append_sample, record)

    def _test_perplexity(self, model: RecurrentLM) -> float | None:
        """The test part's perplexity: once, when the run has finished (never seen before)."""
        test = self.data.test if self.data is not None else None
        if test is None or len(test) < 2 or self.device is None:
            return None
        cfg = self.config
        return evaluate_perplexity(model, test.to(self.device), cfg.batch_size, cfg.num_steps, amp=self._amp_on)

    def _generation_perplexity(self, model: RecurrentLM, tokens: torch.Tensor) -> float | None:
        try:
            value = generation_perplexity(model, tokens, max_tokens=GENERATION_PPL_TOKENS)
        except Exception as exc:  # noqa: BLE001 - a missing extra number must not fail the run
            self._report_once("genppl", f"generation perplexity not computed: {exc}")
            return None
        return value if math.isfinite(value) else None


def _finished_fields(finished: Finished) -> dict[str, Any]:
    """The summary's fields from a :class:`Finished` (its numbers, not its event bookkeeping)."""
    return {
        name: getattr(finished, name)
        for name in (
            "epoch",
            "perplexity",
            "tokens_per_s",
            "elapsed_s",
            "device",
            "stopped",
            "val_perplexity",
            "generation_perplexity",
            "checkpoint_saved",
            "test_perplexity",
        )
    }


def _end_prefixes(prefixes: Iterable[str]) -> list[str]:
    """The configured prefixes, then d2l's closing ``"traveller"`` (once)."""
    out = list(dict.fromkeys(prefixes))
    if END_PREFIX not in out:
        out.append(END_PREFIX)
    return out
