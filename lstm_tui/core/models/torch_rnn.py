"""``torch.nn.LSTM`` / ``GRU`` / ``RNN`` wrapped as a :class:`RecurrentLM` (d2l's ``RNNModel``).

The input is the one-hot encoding of the tokens (``input_size = vocab_size``), the output
layer is one ``Linear(hidden * directions, vocab_size)`` applied once over the whole
sequence. Weights keep torch's default initialisation, as in the book's concise version.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .base import RecurrentLM, State

_LAYERS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class TorchRNNLM(RecurrentLM):
    impl = "torch"

    def __init__(
        self,
        cell: str,
        vocab_size: int,
        hidden: int,
        layers: int = 1,
        bidirectional: bool = False,
        *,
        dropout: float = 0.0,
        embed_dim: int = 0,
        tie_weights: bool = False,
    ):
        """``dropout``: torch's between the stacked layers and before the output layer;
        ``embed_dim`` > 0: a learned ``nn.Embedding`` instead of one-hot inputs, shared with
        the output layer when ``tie_weights`` (needs ``embed_dim == hidden``, one direction)."""
        if cell not in _LAYERS:
            raise ValueError(f"cell must be one of {', '.join(_LAYERS)}, got {cell!r}")
        super().__init__(vocab_size, hidden, layers, directions=2 if bidirectional else 1)
        self.cell = cell
        self.dropout = float(dropout)
        self.rnn = _LAYERS[cell](
            embed_dim or vocab_size,
            hidden,
            num_layers=layers,
            bidirectional=bool(bidirectional),
            dropout=self.dropout if layers > 1 else 0.0,
        )
        self.linear = nn.Linear(hidden * self.directions, vocab_size)
        self.embed = nn.Embedding(vocab_size, embed_dim) if embed_dim else None
        if tie_weights:
            if self.embed is None or embed_dim != hidden * self.directions:
                raise ValueError("tie_weights needs a learned embedding as wide as the output layer's input")
            self.linear.weight = self.embed.weight

    @property
    def bidirectional(self) -> bool:
        return self.directions == 2

    def forward(self, X: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if X.dim() != 2 or X.shape[1] == 0:
            raise ValueError(f"X must be (batch, steps) token indices with steps >= 1, got shape {tuple(X.shape)}")
        state = self._state_or_begin(X, state)
        if self.embed is not None:
            inputs = self.embed(X.T)  # (steps, batch, embed_dim)
        else:
            inputs = F.one_hot(X.T, self.vocab_size).to(self.linear.weight.dtype)  # (steps, batch, vocab)
        new_state: State
        if self.cell == "lstm":
            Y, (H, C) = self.rnn(inputs, state)
            new_state = (H, C)
        else:
            Y, H = self.rnn(inputs, state[0])
            new_state = (H,)
        output = self.linear(self.drop(Y).reshape(-1, Y.shape[-1]))  # (steps * batch, vocab), time-major
        return output, new_state
