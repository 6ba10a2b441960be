"""The optimizer and the training step (forward, mean cross-entropy, backward, clip, update)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from ..config import RunConfig
from ..models.base import State
from .sgd import SGD, Optimizer

if TYPE_CHECKING:
    from .grad_stats import GradStats


#: One training step: (X, Y, state) -> (loss sum on the device, new state).
Step = Callable[[torch.Tensor, torch.Tensor, State], tuple[torch.Tensor, State]]


def autocast_context(device: torch.device, amp: bool, cache: bool = True) -> AbstractContextManager[Any]:
    """bf16 autocast on CUDA or the CPU when ``amp`` is on (callers check
    :func:`~lstm_tui.core.device.bf16_native`);
    a no-op otherwise.

    Matmuls (and oneDNN's LSTM layer on the CPU) run in bf16 with float32 accumulation; the
    loss, the optimizer and the weights stay float32. ``cache=False`` for a step captured in a
    CUDA graph (autocast's cast cache must not outlive the capture)."""
    if amp and device.type in ("cuda", "cpu"):
        return torch.autocast(device.type, dtype=torch.bfloat16, cache_enabled=cache)
    return contextlib.nullcontext()


def make_optimizer(config: RunConfig, model: torch.nn.Module) -> Optimizer:
    """SGD(lr) is d2l's ``sgd(params, lr, batch_size=1)`` (the loss is already a mean); or Adam."""
    # foreach: one kernel call per update for all parameters (torch picks it by default on CUDA
    # only); the same arithmetic as the per-parameter loop.
    # momentum and weight_decay: 0 by default (the book's plain SGD); Adam has no momentum knob.
    if config.optimizer == "adam":
        # capturable: its step count stays on the GPU, so the update can live in a CUDA graph
        on_cuda = next(model.parameters()).is_cuda
        return torch.optim.Adam(
            model.parameters(),
            lr=config.lr,
            weight_decay=config.weight_decay,
            foreach=True,
            capturable=config.graphs and on_cuda,
        )
    # (our SGD: torch.optim's would import torch._dynamo, ~1.3 s before the first batch; see sgd.py)
    return SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)


class StepSettings:
    """What a step reads on every call: a live knob changes it between batches (a step
    captured in a CUDA graph must be captured again to see it)."""

    def __init__(self, clip: float) -> None:
        self.clip = clip


def make_step(
    config: RunConfig,
    model: torch.nn.Module,
    optimizer: Optimizer,
    device: torch.device,
    *,
    amp: bool = False,
    forward: Callable[..., Any] | None = None,
    graphs: bool = False,
    grad_stats: GradStats | None = None,
    settings: StepSettings | None = None,
) -> Step:
    """``step(X, Y, state) -> (loss tensor, state)``: one update, no host synchronisation.

    ``graphs``: the step will be captured in a CUDA graph (see :mod:`.graph_step`).
    Clipping uses ``clip_grad_norm_`` (global L2 norm over all parameters, like d2l's
    ``grad_clipping``) with the foreach kernels; gradients are freed, not zeroed.
    ``grad_stats``: gets the norm the clip computed (or, with clipping off, the same norm computed
    for it) on every step, on the device.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    knobs = settings if settings is not None else StepSettings(config.clip)
    forward = model if forward is None else forward  # (a compiled module has no truth value)

    def step(X: torch.Tensor, Y: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        with autocast_context(device, amp, cache=not graphs):
            logits, state = forward(X, state)
        loss = F.cross_entropy(logits.float(), Y.T.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        if knobs.clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(params, knobs.clip, foreach=True)
            if grad_stats is not None:
                grad_stats.add(norm)
        elif grad_stats is not None:
            grad_stats.add(torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None], foreach=True))
        optimizer.step()
        if amp:
            state = tuple(s.float() for s in state)
        return loss.detach(), state

    return step
