"""LSTM, GRU and plain RNN written from their equations, as in d2l.

Parameter layout (the state_dict, stable across versions):

* ``cells.<l>.<name>`` for layer ``l`` (0 = the one reading the characters), with d2l's
  names and shapes, ``in = vocab_size`` for layer 0 and ``hidden`` above it:

  - LSTM: ``W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c``
  - GRU:  ``W_xz, W_hz, b_z, W_xr, W_hr, b_r, W_xh, W_hh, b_h``
  - RNN:  ``W_xh, W_hh, b_h``

  ``W_x*`` is ``(in, hidden)``, ``W_h*`` is ``(hidden, hidden)``, ``b_*`` is ``(hidden,)``.
* ``W_hq (hidden, vocab_size)`` and ``b_q (vocab_size,)``: the output layer.

Initialisation is d2l's: ``torch.randn(shape) * 0.01`` for weights, zeros for biases, created
in the book's order (so a 1-layer model gets the book's exact numbers for a given seed).

Layer 0's input is one-hot in the book; ``one_hot(X) @ W`` is the row lookup ``W[X]`` (the
same numbers, no ``(batch, vocab)`` matrix). Layers above read the previous layer's H.
The forward pass is time-major like d2l: logits ``(steps * batch, vocab)``.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import Tensor, nn

from .base import RecurrentLM, State
from .fused_lstm import GATE_ORDER, fused_lstm_layer


def _normal(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.randn(shape) * 0.01)


def _zeros(*shape: int) -> nn.Parameter:
    return nn.Parameter(torch.zeros(shape))


def x_times(X: Tensor, W: Tensor) -> Tensor:
    """``X @ W`` where integer ``X`` stands for its one-hot rows (then it is ``W[X]``)."""
    if X.dtype in (torch.int64, torch.int32):
        return W[X]
    return X @ W


# ---------------------------------------------------------------------------- cells
class LSTMCellParams(nn.Module):
    """One LSTM layer's parameters and its plain step loop (the book's ``lstm``)."""

    def __init__(self, num_inputs: int, hidden: int):
        super().__init__()
        self.W_xi, self.W_hi, self.b_i = (
            _normal(num_inputs, hidden),
            _normal(hidden, hidden),
            _zeros(hidden),
        )  # input gate
        self.W_xf, self.W_hf, self.b_f = (
            _normal(num_inputs, hidden),
            _normal(hidden, hidden),
            _zeros(hidden),
        )  # forget gate
        self.W_xo, self.W_ho, self.b_o = (
            _normal(num_inputs, hidden),
            _normal(hidden, hidden),
            _zeros(hidden),
        )  # output gate
        self.W_xc, self.W_hc, self.b_c = (
            _normal(num_inputs, hidden),
            _normal(hidden, hidden),
            _zeros(hidden),
        )  # candidate

    def forward(self, inputs: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """``inputs``: (steps, batch) token ids or (steps, batch, in); returns all H and (H, C)."""
        H, C = state
        outputs = []
        for X in inputs:
            I = torch.sigmoid(x_times(X, self.W_xi) + H @ self.W_hi + self.b_i)
            F = torch.sigmoid(x_times(X, self.W_xf) + H @ self.W_hf + self.b_f)
            O = torch.sigmoid(x_times(X, self.W_xo) + H @ self.W_ho + self.b_o)
            C_tilda = torch.tanh(x_times(X, self.W_xc) + H @ self.W_hc + self.b_c)
            C = F * C + I * C_tilda
            H = O * torch.tanh(C)
            outputs.append(H)
        return torch.stack(outputs), (H, C)

    def fused_weights(self, order: str | tuple[str, ...] = "ifoc") -> tuple[Tensor, Tensor, Tensor]:
        """``W_x (in, 4H)``, ``W_h (H, 4H)``, ``b (4H)`` with the gate blocks in ``order``
        (letters of i, f, o, c; the default is [I | F | O | C~])."""
        W_x = torch.cat([getattr(self, f"W_x{g}") for g in order], dim=1)
        W_h = torch.cat([getattr(self, f"W_h{g}") for g in order], dim=1)
        b = torch.cat([getattr(self, f"b_{g}") for g in order])
        return W_x, W_h, b

    def forward_fused(self, inputs: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """The same numbers as :meth:`forward`, computed by :mod:`.fused_lstm`."""
        H, C = state
        outputs, H, C = fused_lstm_layer(inputs, H, C, *self.fused_weights(GATE_ORDER))
        return outputs, (H, C)


class GRUCellParams(nn.Module):
    """One GRU layer (d2l's ``gru``): update gate Z, reset gate R, candidate H~."""

    def __init__(self, num_inputs: int, hidden: int):
        super().__init__()
        self.W_xz, self.W_hz, self.b_z = (
            _normal(num_inputs, hidden),
            _normal(hidden, hidden),
            _zeros(hidden),
        )  # update gate
        self.W_xr, self.W_hr, self.b_r = (
            _normal(num_inputs, hidden),
            _normal(hidden, hidden),
            _zeros(hidden),
        )  # reset gate
        self.W_xh, self.W_hh, self.b_h = (
            _normal(num_inputs, hidden),
            _normal(hidden, hidden),
            _zeros(hidden),
        )  # candidate

    def forward(self, inputs: Tensor, state: tuple[Tensor]) -> tuple[Tensor, tuple[Tensor]]:
        (H,) = state
        outputs = []
        for X in inputs:
            Z = torch.sigmoid(x_times(X, self.W_xz) + H @ self.W_hz + self.b_z)
            R = torch.sigmoid(x_times(X, self.W_xr) + H @ self.W_hr + self.b_r)
            H_tilda = torch.tanh(x_times(X, self.W_xh) + (R * H) @ self.W_hh + self.b_h)
            H = Z * H + (1 - Z) * H_tilda
            outputs.append(H)
        return torch.stack(outputs), (H,)


class RNNCellParams(nn.Module):
    """One plain RNN layer (d2l's ``rnn``): H = tanh(X W_xh + H W_hh + b_h)."""

    def __init__(self, num_inputs: int, hidden: int):
        super().__init__()
        self.W_xh, self.W_hh, self.b_h = _normal(num_inputs, hidden), _normal(hidden, hidden), _zeros(hidden)

    def forward(self, inputs: Tensor, state: tuple[Tensor]) -> tuple[Tensor, tuple[Tensor]]:
        (H,) = state
        outputs = []
        for X in inputs:
            H = torch.tanh(x_times(X, self.W_xh) + H @ self.W_hh + self.b_h)
            outputs.append(H)
        return torch.stack(outputs), (H,)


# ---------------------------------------------------------------------------- models
class _ScratchLM(RecurrentLM):
    impl = "scratch"
    cell_class: type[nn.Module]

    def __init__(
        self,
        vocab_size: int,
        hidden: int,
        layers: int = 1,
        *,
        dropout: float = 0.0,
        embed_dim: int = 0,
        tie_weights: bool = False,
    ):
        """``dropout`` before the output layer; ``embed_dim`` > 0: a learned embedding
        ``embed (vocab_size, embed_dim)`` (d2l's init, made after the book's parameters) feeds
        layer 0 instead of one-hot rows; ``tie_weights``: the output layer is ``embed``
        transposed (no ``W_hq``; needs ``embed_dim == hidden``)."""
        super().__init__(vocab_size, hidden, layers, directions=1)
        self.dropout = float(dropout)
        self.cells = nn.ModuleList(
            self.cell_class((embed_dim or vocab_size) if layer == 0 else hidden, hidden) for layer in range(layers)
        )
        if tie_weights and embed_dim != hidden:
            raise ValueError("tie_weights needs embed_dim == hidden")
        self.W_hq = None if tie_weights else _normal(hidden, vocab_size)  # output layer
        self.b_q = _zeros(vocab_size)
        self.embed = _normal(vocab_size, embed_dim) if embed_dim else None

    @property
    def output_weight(self) -> Tensor:
        """``W_hq (hidden, vocab_size)``: its own, or the tied embedding's transpose."""
        if self.W_hq is not None:
            return self.W_hq
        assert self.embed is not None
        return self.embed.t()

    def _run_layer(self, cell: nn.Module, inputs: Tensor, state: State) -> tuple[Tensor, State]:
        result: tuple[Tensor, State] = cell(inputs, state)
        return result

    def forward(self, X: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        if X.dim() != 2 or X.shape[1] == 0:
            raise ValueError(f"X must be (batch, steps) token indices with steps >= 1, got shape {tuple(X.shape)}")
        state = self._state_or_begin(X, state)
        inputs = X.T if self.embed is None else self.embed[X.T]  # (steps, batch[, embed_dim]): time-major, like d2l
        finals = []
        for layer, cell in enumerate(self.cells):
            inputs, layer_state = self._run_layer(cell, inputs, tuple(s[layer] for s in state))
            finals.append(layer_state)
        steps, batch, hidden = inputs.shape
        # Y = H W_hq + b_q, for all steps at once: row t*batch + b is step t of sequence b.
        Y = torch.addmm(self.b_q, self.drop(inputs).reshape(steps * batch, hidden), self.output_weight)
        return Y, tuple(torch.stack(parts) for parts in zip(*finals))


class ScratchLSTM(_ScratchLM):
    """d2l's LSTM from scratch, stacked ``layers`` deep.

    ``fused=True`` switches to the fast path of :mod:`.fused_lstm` (same parameters, same
    numbers up to float rounding); it can be flipped at any time.
    """

    cell = "lstm"
    cell_class = LSTMCellParams

    def __init__(self, vocab_size: int, hidden: int, layers: int = 1, fused: bool = False, **options: Any):
        super().__init__(vocab_size, hidden, layers, **options)
        self.fused = bool(fused)

    def _run_layer(self, cell: nn.Module, inputs: Tensor, state: State) -> tuple[Tensor, State]:
        if self.fused:
            H, C = state
            return cast(LSTMCellParams, cell).forward_fused(inputs, (H, C))
        return super()._run_layer(cell, inputs, state)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", fused={self.fused}"


class ScratchGRU(_ScratchLM):
    """d2l's GRU from scratch, stacked ``layers`` deep."""

    cell = "gru"
    cell_class = GRUCellParams


class ScratchRNN(_ScratchLM):
    """d2l's plain RNN from scratch (tanh), stacked ``layers`` deep."""

    cell = "rnn"
    cell_class = RNNCellParams
