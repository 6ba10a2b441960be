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

    def __init__(self, cell: str, vocab_size: int, hidden: int, layers: int = 1, bidirectional: bool = False):
        if cell not in _LAYERS:
            raise ValueError(f"cell must be one of {', '.join(_LAYERS)}, got {cell!r}")
        super().__init__(vocab_size, hidden, layers, directions=2 if bidirectional else 1)
        self.cell = cell
        self.rnn = _LAYERS[cell](vocab_size, hidden, num_layers=layers, bidirectional=bool(bidirectional))
        self.linear = nn.Linear(hidden * self.directions, vocab_size)

    @property
    def bidirectional(self) -> bool:
        return self.directions == 2

    def forward(self, X: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if X.dim() != 2 or X.shape[1] == 0:
            raise ValueError(f"X must be (batch, steps) token indices with steps >= 1, got shape {tuple(X.shape)}")
        state = self._state_or_begin(X, state)
        inputs = F.one_hot(X.T, self.vocab_size).to(self.linear.weight.dtype)  # (steps, batch, vocab)
        new_state: State
        if self.cell == "lstm":
            Y, (H, C) = self.rnn(inputs, state)
            new_state = (H, C)
        else:
            Y, H = self.rnn(inputs, state[0])
            new_state = (H,)
        output = self.linear(Y.reshape(-1, Y.shape[-1]))  # (steps * batch, vocab), time-major
        return output, new_state
