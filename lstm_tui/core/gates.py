"""The gate inspector's data: what an LSTM's gates do, character by character.

:func:`gate_activations` reads a text the way the model writes (batch 1, from the zero
``begin_state``, one character at a time, carrying the state) and records, per character,
the mean input gate I, forget gate F and output gate O over the hidden units of one layer,
plus the hidden state H of the few units that change most over the text.

The gates are recomputed from the model's own weights with the model's own equations
(d2l, chapter "Long Short-Term Memory")::

    I = sigmoid(X W_xi + H W_hi + b_i)    F = sigmoid(X W_xf + H W_hf + b_f)
    O = sigmoid(X W_xo + H W_ho + b_o)    C~ = tanh(X W_xc + H W_hc + b_c)
    C = F * C + I * C~                    H = O * tanh(C)

because neither the scratch model nor ``nn.LSTM`` hands out its gates. Both layouts are
brought to one form first -- ``W_x (in, 4H)``, ``W_h (H, 4H)``, ``b (4H)`` with the blocks
``[I | F | O | C~]`` (the scratch model's ``fused_weights``); ``nn.LSTM`` stores
``weight_ih_l{k} (4H, in)`` in the order i, f, g, o and two biases -- so a single loop
computes every trace. The tests check that the H this loop produces equals the model's own
forward H, so the inspector cannot drift from the model it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, cast

import torch
from torch import Tensor, nn

from .generate import GenerationError, prefix_tokens, token_separator
from .models.base import RecurrentLM
from .models.scratch import LSTMCellParams, ScratchLSTM
from .models.torch_rnn import TorchRNNLM

if TYPE_CHECKING:
    from .data.vocab import Vocab

__all__ = ["MAX_TRACE_TOKENS", "GateError", "GateTrace", "LayerTrace", "gate_activations", "layer_trace"]

#: A longer text would make a chart nobody can read and keep a UI worker busy for long.
MAX_TRACE_TOKENS = 20_000

BIDIRECTIONAL_NOTE = (
    "bidirectional model: showing the forward direction (it reads left to right; "
    "the backward direction reads the text from its end)"
)
BIDIRECTIONAL_DEEP_NOTE = (
    "; layer {layer} reads the layer below in both directions, so its input has seen the whole text"
)


class GateError(ValueError):
    """The gates of this model or text cannot be shown; ``str()`` says why."""


@dataclass(frozen=True)
class GateTrace:
    """Per-character gate activity of one LSTM layer.

    ``input_gate[t]`` / ``forget_gate[t]`` / ``output_gate[t]`` are the means over the hidden
    units after reading ``chars[t]``; ``unit_values[k][t]`` is H of hidden unit ``units[k]``
    after ``chars[t]`` (the units whose H varies most over the text, most varying first).
    ``chars`` are words for a word-level model.
    """

    chars: list[str]
    input_gate: list[float]
    forget_gate: list[float]
    output_gate: list[float]
    units: list[int]
    unit_values: list[list[float]]
    note: str = ""
    layer: int = 0


class LayerTrace(NamedTuple):
    """Gates and states of one layer (one direction), each ``(steps, hidden)``."""

    I: Tensor
    F: Tensor
    O: Tensor
    C: Tensor
    H: Tensor


class _Weights(NamedTuple):
    """One direction of one layer: ``W_x (in, 4H)``, ``W_h (H, 4H)``, ``b (4H)``, blocks [I|F|O|C~]."""

    W_x: Tensor
    W_h: Tensor
    b: Tensor


# ----------------------------------------------------------------------------- public
def gate_activations(
    model: nn.Module, vocab: Vocab, text: str, *, layer: int = 0, top_units: int = 8, unknown: str = "error"
) -> GateTrace:
    """Trace ``text`` through ``model`` (an LSTM) and summarise layer ``layer`` per character.

    ``layer`` counts from 0 (the layer reading the characters); negative values count from
    the top (-1 is the last layer). ``unknown="unk"`` maps characters missing from the
    vocabulary to ``<unk>`` instead of raising. Raises :class:`GateError` for GRU/RNN models,
    unknown characters, an empty text or a bad ``layer`` / ``top_units``.
    """
    model = _unwrap(model)
    layer = _check_layer(model, layer)
    chars, indices = _tokens(vocab, text, unknown)
    if isinstance(top_units, bool) or not isinstance(top_units, int) or top_units < 0:
        raise GateError(f"top_units must be a whole number >= 0, not {top_units!r}")
    trace = layer_trace(model, indices, layer=layer)
    units = _most_varying_units(trace.H, top_units)
    return GateTrace(
        chars=chars,
        input_gate=trace.I.mean(dim=1).tolist(),
        forget_gate=trace.F.mean(dim=1).tolist(),
        output_gate=trace.O.mean(dim=1).tolist(),
        units=units,
        unit_values=trace.H[:, units].T.tolist(),
        note=_note(model, layer),
        layer=layer,
    )


@torch.no_grad()
def layer_trace(model: nn.Module, indices: Sequence[int] | Tensor, *, layer: int = 0) -> LayerTrace:
    """I, F, O, C and H of layer ``layer`` (forward direction) for the token ids ``indices``.

    The layers below are run first (both directions for a bidirectional model, whose upper
    layers read the concatenation, as ``nn.LSTM`` does). Tensors are float, on the CPU.
    """
    model = _unwrap(model)
    layer = _check_layer(model, layer)
    weights = _lstm_weights(model)
    inputs: Tensor = torch.as_tensor(indices, dtype=torch.long).reshape(-1).to(weights[0][0].W_x.device)
    if inputs.numel() == 0:
        raise GateError("the text is empty; give at least one character")
    inputs = _embedded(model, inputs)  # (a learned embedding feeds layer 0 its rows, not one-hot ones)
    for below in weights[:layer]:
        inputs = torch.cat([_run(w, inputs, reverse=d == 1).H for d, w in enumerate(below)], dim=1)
    trace = _run(weights[layer][0], inputs)
    return LayerTrace(*(t.float().cpu() for t in trace))


def _embedded(model: RecurrentLM, ids: Tensor) -> Tensor:
    """``ids`` as layer 0 reads them: themselves (one-hot rows) or the learned embedding's rows."""
    embed = getattr(model, "embed", None)
    if embed is None:
        return ids
    table: Tensor = embed.weight if isinstance(embed, nn.Embedding) else embed
    return table[ids]


# ----------------------------------------------------------------------------- the equations
def _run(w: _Weights, inputs: Tensor, *, reverse: bool = False) -> LayerTrace:
    """One LSTM layer over a sequence, one step at a time; ``inputs`` ids (steps,) or (steps, in)."""
    hidden = w.W_h.shape[0]
    # One-hot X times W_x is the row W_x[X]; the layers above read the H below.
    xw = (w.W_x[inputs] if inputs.dtype == torch.long else inputs @ w.W_x) + w.b
    steps = xw.shape[0]
    H = torch.zeros(hidden, dtype=w.W_h.dtype, device=w.W_h.device)  # begin_state
    C = torch.zeros_like(H)
    out = {name: torch.empty((steps, hidden), dtype=H.dtype, device=H.device) for name in LayerTrace._fields}
    for t in range(steps - 1, -1, -1) if reverse else range(steps):
        z = xw[t] + H @ w.W_h
        I, F, O = torch.sigmoid(z[: 3 * hidden]).chunk(3)  # three blocks of `hidden`
        C_tilda = torch.tanh(z[3 * hidden :])
        C = F * C + I * C_tilda
        H = O * torch.tanh(C)
        for name, value in zip(LayerTrace._fields, (I, F, O, C, H)):
            out[name][t] = value
    return LayerTrace(**out)


# ----------------------------------------------------------------------------- model layouts
def _lstm_weights(model: RecurrentLM) -> list[list[_Weights]]:
    """Per layer, per direction, the weights in the common [I|F|O|C~] layout."""
    _check_lstm(model)
    if isinstance(model, ScratchLSTM):
        return [[_Weights(*cast(LSTMCellParams, cell).fused_weights())] for cell in model.cells]
    if not isinstance(model, TorchRNNLM):  # _check_lstm let only these two through
        raise GateError(f"the gate inspector needs an lstm-tui LSTM model, not {type(model).__name__}")
    rnn = model.rnn
    suffixes = ("", "_reverse")[: 2 if rnn.bidirectional else 1]
    return [[_torch_weights(rnn, k, s) for s in suffixes] for k in range(rnn.num_layers)]


def _torch_weights(rnn: nn.Module, layer: int, suffix: str) -> _Weights:
    """``nn.LSTM``'s ``weight_ih_l{k}`` (4H, in) in order i, f, g, o -> ``W_x (in, 4H)`` as [I|F|O|C~]."""
    w_ih: Tensor = getattr(rnn, f"weight_ih_l{layer}{suffix}")
    w_hh: Tensor = getattr(rnn, f"weight_hh_l{layer}{suffix}")
    b_ih: Tensor | None = getattr(rnn, f"bias_ih_l{layer}{suffix}", None)  # absent with bias=False
    b_hh: Tensor | None = getattr(rnn, f"bias_hh_l{layer}{suffix}", None)
    if w_hh.shape[1] != w_hh.shape[0] // 4:
        raise GateError("LSTMs with a projection (proj_size) are not supported by the gate inspector")
    bias = torch.zeros(w_ih.shape[0], dtype=w_ih.dtype, device=w_ih.device)
    bias = bias + (b_ih if b_ih is not None else 0) + (b_hh if b_hh is not None else 0)
    return _Weights(_ifog(w_ih.T), _ifog(w_hh.T), _ifog(bias))


def _ifog(t: Tensor) -> Tensor:
    """Reorder the gate blocks along the last dimension from torch's i, f, g, o to i, f, o, g."""
    i, f, g, o = t.chunk(4, dim=-1)
    return torch.cat((i, f, o, g), dim=-1)


def _unwrap(model: nn.Module) -> RecurrentLM:
    """The model itself when ``torch.compile`` wrapped it; anything but an lstm-tui model raises."""
    inner = getattr(model, "_orig_mod", model)
    if not isinstance(inner, RecurrentLM):
        raise GateError(f"the gate inspector needs an lstm-tui LSTM model, not {type(inner).__name__}")
    return inner


def _check_lstm(model: RecurrentLM) -> None:
    cell = getattr(model, "cell", None)
    if cell in ("gru", "rnn"):
        what = "a GRU (update and reset gates)" if cell == "gru" else "a plain RNN (it has no gates)"
        raise GateError(f"the gate inspector shows LSTM gates (input, forget, output); this model is {what}")
    if cell != "lstm" or getattr(model, "impl", None) not in ("scratch", "torch"):
        raise GateError(f"the gate inspector needs an lstm-tui LSTM model, not {type(model).__name__}")


def _check_layer(model: RecurrentLM, layer: object) -> int:
    _check_lstm(model)
    layers = model.layers
    if isinstance(layer, bool) or not isinstance(layer, int) or not -layers <= layer < layers:
        raise GateError(f"layer must be from 0 to {layers - 1} for this {layers}-layer model, not {layer!r}")
    return layer % layers


# ----------------------------------------------------------------------------- summaries
def _tokens(vocab: Vocab, text: str, unknown: str) -> tuple[list[str], list[int]]:
    """The pieces of ``text`` (characters, or words for a word vocabulary) and their ids."""
    if not isinstance(text, str) or not text.strip():
        raise GateError("the text is empty; give at least one character")
    sep = token_separator(vocab)
    pieces = text.split() if sep else list(text)
    if len(pieces) > MAX_TRACE_TOKENS:
        raise GateError(f"the text has {len(pieces):,} tokens; the gate inspector reads at most {MAX_TRACE_TOKENS:,}")
    try:
        return pieces, prefix_tokens(vocab, text, unknown=unknown, separator=sep)
    except GenerationError as exc:
        raise GateError(str(exc)) from exc  # the cause keeps its parts for a front end to word


def _most_varying_units(H: Tensor, count: int) -> list[int]:
    """Indices of the ``count`` hidden units whose H varies most over the text, most first."""
    count = min(count, H.shape[1])
    if count == 0:
        return []
    variance = H.var(dim=0, unbiased=False)
    return variance.topk(count).indices.tolist()


def _note(model: RecurrentLM, layer: int) -> str:
    if model.directions == 1:
        return ""
    return BIDIRECTIONAL_NOTE + (BIDIRECTIONAL_DEEP_NOTE.format(layer=layer) if layer > 0 else "")
