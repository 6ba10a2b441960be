"""Gradient through time: how much of the last step's loss reaches the hidden state k steps back.

``gradient_through_time(model, vocab, text, num_steps)[k]`` is ``||dL_T / dh_{T-k}||`` for
``k = 0..num_steps``: ``L_T`` is the cross-entropy of predicting the text's last token from the
step that reads the token before it, ``h_{T-k}`` the hidden state ``H`` (all layers, all
directions) that the step ``k`` steps before that one reads (k = 0: the state the last step
starts from, the most recent one its loss can reach through the recurrence). The model is
fed one token at a time (for an LSTM the cell state ``C`` is a separate path, so ``dL/dH``
counts what flows on through ``C`` as well); a plain RNN's gradient fades fast, a GRU's and an
LSTM's much less: the vanishing gradient the chapter is about. The model is copied (its train
mode and the fused LSTM's setting are left alone) and its weights get no gradients.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from .generate import GenerationError, prefix_tokens, token_separator

if TYPE_CHECKING:
    from .data.vocab import Vocab
    from .models.base import RecurrentLM

__all__ = ["gradient_through_time", "MAX_GRADIENT_STEPS"]

MAX_GRADIENT_STEPS = 1000


def gradient_through_time(
    model: RecurrentLM, vocab: Vocab, text: str, num_steps: int, *, unknown: str = "error"
) -> list[float]:
    """``[||dL_T/dh_T||, ||dL_T/dh_{T-1}||, ..., ||dL_T/dh_{T-num_steps}||]`` for ``text``.

    The text needs ``num_steps + 2`` tokens; tokens before the last ``num_steps + 2`` warm the
    state up (no gradient). Raises :class:`~.generate.GenerationError` when it is too short."""
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or not 0 <= num_steps <= MAX_GRADIENT_STEPS:
        raise GenerationError(f"num_steps must be a whole number from 0 to {MAX_GRADIENT_STEPS}, not {num_steps!r}")
    indices = prefix_tokens(vocab, text, unknown=unknown, separator=token_separator(vocab))
    need = num_steps + 2
    if len(indices) < need:
        raise GenerationError(f"the text has {len(indices)} tokens; {num_steps} steps back need at least {need}")
    work = copy.deepcopy(model).eval()
    if hasattr(work, "fused"):
        setattr(work, "fused", False)  # noqa: B010 - the step-by-step equations (the fused path's backward is for whole sequences)
    for param in work.parameters():
        param.requires_grad_(False)
    device = next(work.parameters()).device
    seq = torch.tensor(indices, dtype=torch.long, device=device)
    warm, window = seq[:-need], seq[-need:]
    with torch.no_grad():
        state = work.begin_state(1, device)
        for token in warm:
            _, state = work(token.view(1, 1), state)
    hidden = []
    with torch.enable_grad():
        state = tuple(s.detach().requires_grad_(True) for s in state)  # a leaf: the graph starts here
        logits = None
        for token in window[:-1]:
            if not state[0].is_leaf:
                state[0].retain_grad()
            hidden.append(state[0])  # the state this step reads
            logits, state = work(token.view(1, 1), state)
        assert logits is not None
        loss = F.cross_entropy(logits.double(), window[-1:])
        loss.backward()  # type: ignore[no-untyped-call]
    grads = [h.grad for h in reversed(hidden)]  # k = 0 is the last step
    return [float(g.norm()) if g is not None else 0.0 for g in grads]
