"""The optimizer and the training step (forward, mean cross-entropy, backward, clip, update)."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from ..config import RunConfig


def autocast_context(device: torch.device, amp: bool):
    """bf16 autocast on CUDA when ``amp`` is on; a no-op everywhere else."""
    if amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def make_optimizer(config: RunConfig, model) -> torch.optim.Optimizer:
    """SGD(lr) is d2l's ``sgd(params, lr, batch_size=1)`` (the loss is already a mean); or Adam."""
    # foreach: one kernel call per update for all parameters (torch picks it by default on CUDA
    # only); the same arithmetic as the per-parameter loop.
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, foreach=True)
    return torch.optim.SGD(model.parameters(), lr=config.lr, foreach=True)


def make_step(config: RunConfig, model, optimizer, device: torch.device, *, amp: bool = False, forward=None):
    """``step(X, Y, state) -> (loss tensor, state)``: one update, no host synchronisation.

    Clipping uses ``clip_grad_norm_`` (global L2 norm over all parameters, like d2l's
    ``grad_clipping``) with the foreach kernels; gradients are freed, not zeroed.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    clip = config.clip
    forward = forward or model

    def step(X, Y, state):
        with autocast_context(device, amp):
            logits, state = forward(X, state)
        loss = F.cross_entropy(logits.float(), Y.T.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(params, clip, foreach=True)
        optimizer.step()
        if amp:
            state = tuple(s.float() for s in state)
        return loss.detach(), state

    return step
