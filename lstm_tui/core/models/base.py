"""The interface every language model in lstm-tui implements.

A model reads a minibatch of token indices ``X`` of shape ``(batch, steps)`` and returns
``(logits, state)``. The logits have shape ``(steps * batch, vocab)`` in *time-major* order,
exactly like d2l's ``RNNModelScratch``: row ``t * batch + b`` is the prediction after token
``X[b, t]``, so the matching labels are ``Y.T.reshape(-1)``.

The state is always a tuple of tensors shaped like torch's: ``(layers * directions, batch,
hidden)``; an LSTM carries ``(H, C)``, a GRU or plain RNN ``(H,)``. ``state=None`` means
"start from :meth:`RecurrentLM.begin_state`" (zeros).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

State = tuple[torch.Tensor, ...]


class RecurrentLM(nn.Module):
    """Base class: bookkeeping shared by the scratch models and the ``torch.nn`` wrappers."""

    #: "lstm", "gru" or "rnn"
    cell: str = ""
    #: "scratch" (gate equations written out) or "torch" (``torch.nn`` layers)
    impl: str = ""
    #: dropout on the last layer's output, before the output layer (0: off, the book's)
    dropout: float = 0.0

    def __init__(self, vocab_size: int, hidden: int, layers: int = 1, directions: int = 1):
        super().__init__()
        if vocab_size < 1 or hidden < 1 or layers < 1 or directions not in (1, 2):
            raise ValueError(
                f"bad model size: vocab_size={vocab_size}, hidden={hidden}, layers={layers}, directions={directions}"
            )
        self.vocab_size = int(vocab_size)
        self.hidden = int(hidden)
        self.layers = int(layers)
        self.directions = int(directions)

    # ------------------------------------------------------------------ state
    @property
    def num_state_tensors(self) -> int:
        """2 for an LSTM (H and C), 1 for a GRU or a plain RNN (H)."""
        return 2 if self.cell == "lstm" else 1

    def begin_state(self, batch_size: int, device: torch.device | str | None = None) -> State:
        """Zero state: a tuple of ``(layers * directions, batch_size, hidden)`` tensors."""
        param = next(self.parameters())
        device = param.device if device is None else torch.device(device)
        shape = (self.layers * self.directions, batch_size, self.hidden)
        return tuple(torch.zeros(shape, device=device, dtype=param.dtype) for _ in range(self.num_state_tensors))

    def _state_or_begin(self, X: torch.Tensor, state: State | torch.Tensor | None) -> State:
        if state is None:
            return self.begin_state(X.shape[0], X.device)
        if isinstance(state, torch.Tensor):  # be lenient with a bare GRU/RNN state
            state = (state,)
        state = tuple(state)
        expected = (self.layers * self.directions, X.shape[0], self.hidden)
        if len(state) != self.num_state_tensors or any(tuple(s.shape) != expected for s in state):
            got = [tuple(s.shape) for s in state]
            raise ValueError(
                f"{self.cell} state must be {self.num_state_tensors} tensor(s) of shape {expected}, got {got}"
            )
        return state

    @staticmethod
    def detach_state(state: State) -> State:
        """The state cut from its history (truncated backpropagation through time)."""
        return tuple(s.detach() for s in state)

    def drop(self, outputs: torch.Tensor) -> torch.Tensor:
        """``outputs`` through dropout while training (untouched, no RNG drawn, when it is off)."""
        return F.dropout(outputs, self.dropout, self.training) if self.dropout > 0 else outputs

    # ------------------------------------------------------------------ misc
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, X: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (
            f"cell={self.cell}, impl={self.impl}, vocab_size={self.vocab_size}, hidden={self.hidden}, "
            f"layers={self.layers}, directions={self.directions}"
        )
