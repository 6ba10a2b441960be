"""Build the model a :class:`~lstm_tui.core.config.RunConfig` asks for."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .base import RecurrentLM
from .scratch import ScratchGRU, ScratchLSTM, ScratchRNN
from .torch_rnn import TorchRNNLM

if TYPE_CHECKING:
    from ..config import RunConfig

_SCRATCH: dict[str, Callable[..., RecurrentLM]] = {"lstm": ScratchLSTM, "gru": ScratchGRU, "rnn": ScratchRNN}


def build_model(config: RunConfig, vocab_size: int) -> RecurrentLM:
    """The model for ``config.cell`` / ``impl`` / ``layers`` / ``hidden`` / ``bidirectional`` / ``fused``.

    Parameters are created on the CPU from torch's global RNG, so the same seed gives the
    same model; move it with ``.to(device)``.
    """
    options: dict[str, Any] = {
        "dropout": config.dropout,
        "embed_dim": config.embed_dim if config.embedding == "learned" else 0,
        "tie_weights": config.tie_weights,
    }
    if config.impl == "scratch":
        if config.bidirectional:
            raise ValueError("the scratch implementation is one-directional; use impl=torch")
        if config.cell == "lstm":
            return ScratchLSTM(vocab_size, config.hidden, config.layers, fused=config.fused, **options)
        return _SCRATCH[config.cell](vocab_size, config.hidden, config.layers, **options)
    if config.impl == "torch":
        return TorchRNNLM(config.cell, vocab_size, config.hidden, config.layers, config.bidirectional, **options)
    raise ValueError(f"impl must be scratch or torch, got {config.impl!r}")
