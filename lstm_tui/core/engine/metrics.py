"""Perplexity on held-out data and the failure messages of the training loop."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..config import RunConfig
from ..events import Failed
from ..models.base import RecurrentLM
from .step import autocast_context


@torch.no_grad()
def evaluate_perplexity(
    model: RecurrentLM, tokens: torch.Tensor, batch_size: int, num_steps: int, *, amp: bool = False
) -> float:
    """exp(mean cross-entropy) of next-token prediction over ``tokens`` (1-D, on the model's device).

    The tokens are split into ``batch_size`` contiguous rows (fewer if they are short) and read
    in chunks of ``num_steps`` with the state carried from chunk to chunk, so every token but the
    first of each row is predicted with its full left context, as sequential training sees it.
    """
    n = len(tokens) - 1
    if n < 1:
        return float("nan")
    rows = max(1, min(batch_size, n // max(1, num_steps)))
    width = n // rows
    xs = tokens[: rows * width].view(rows, width)
    ys = tokens[1 : rows * width + 1].view(rows, width)
    was_training = model.training
    model.eval()
    try:
        state = model.begin_state(rows, tokens.device)
        loss_sum = torch.zeros((), dtype=torch.float32, device=tokens.device)
        for i in range(0, width, num_steps):
            X, Y = xs[:, i : i + num_steps].long(), ys[:, i : i + num_steps].long()  # (the corpus may be uint8)
            with autocast_context(tokens.device, amp):
                logits, state = model(X, state)
            loss_sum += F.cross_entropy(logits.float(), Y.T.reshape(-1), reduction="sum")
        mean = loss_sum.item() / (rows * width)
    finally:
        model.train(was_training)
    return math.exp(mean) if math.isfinite(mean) else float("nan")


def perplexity(loss_sum: float, tokens: int) -> float:
    if tokens <= 0:
        return float("nan")
    mean = loss_sum / tokens
    try:
        return math.exp(mean)
    except OverflowError:
        return float("inf")


# How allocators word it: CUDA / MPS "out of memory", torch's CPU allocator "DefaultCPUAllocator:
# can't allocate memory: you tried to allocate N bytes" (a plain RuntimeError).
OUT_OF_MEMORY_WORDS = ("out of memory", "can't allocate memory")


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(words in text for words in OUT_OF_MEMORY_WORDS)


def out_of_memory_failure(config: RunConfig, device_text: str, epoch: int) -> Failed:
    smaller = ", ".join(
        f"{name} {max(1, value // 2)}"
        for name, value in (
            ("batch_size", config.batch_size),
            ("hidden", config.hidden),
            ("num_steps", config.num_steps),
        )
        if value > 1
    )
    return Failed(
        reason=(
            f"out of memory on {device_text} with batch_size {config.batch_size}, hidden {config.hidden}, "
            f"num_steps {config.num_steps}" + (f", layers {config.layers}" if config.layers > 1 else "")
        ),
        hint=f"use a smaller batch_size, hidden or num_steps (e.g. {smaller})" if smaller else "use a smaller model",
        epoch=epoch,
    )


# Largest mean cross-entropy whose perplexity exp(mean) is still a finite float.
MAX_MEAN_LOSS = math.log(float.fromhex("0x1.fffffffffffffp+1023"))


def diverged(loss_sum: float, tokens: int) -> bool:
    """True when the loss is nan/inf or so large that its perplexity overflows."""
    if not math.isfinite(loss_sum):
        return True
    return tokens > 0 and loss_sum / tokens > MAX_MEAN_LOSS


def nonfinite_failure(config: RunConfig, value: float, epoch: int, what: str = "loss") -> Failed:
    if math.isnan(value):
        state = "nan"
    elif math.isinf(value):
        state = "inf"
    else:
        state = f"too large ({value:.3g} nats per token; the perplexity overflows)"
    if config.clip > 0:
        hint = f"lower the learning rate (now {config.lr:g}) or the clipping threshold (clip, now {config.clip:g})"
    else:
        hint = f"lower the learning rate (now {config.lr:g}) or turn on gradient clipping (e.g. clip 1)"
    return Failed(
        reason=f"{what} became {state} at epoch {epoch}",
        hint=hint + "; the last checkpoint (if any) holds the last finite weights",
        epoch=epoch,
    )
