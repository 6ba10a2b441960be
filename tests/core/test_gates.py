"""The gate inspector's data, checked against the models' own forward passes (trained tiny models)."""

from __future__ import annotations

import pytest
import torch

from lstm_tui.core.config import RunConfig
from lstm_tui.core.data import load_corpus
from lstm_tui.core.engine import Trainer
from lstm_tui.core.events import Finished
from lstm_tui.core.gates import GateError, GateTrace, gate_activations, layer_trace

BASE = dict(
    device="cpu",
    hidden=16,
    batch_size=8,
    num_steps=10,
    max_tokens=2000,
    epochs=1,
    predict_every=0,
    checkpoint_every=0,
    predict_length=10,
    lr=1.0,
    seed=0,
)
TEXT = "the time traveller for so it will be convenient to speak of him"

MODELS = {
    "scratch1": dict(impl="scratch", layers=1),
    "scratch2": dict(impl="scratch", layers=2),
    "torch1": dict(impl="torch", layers=1),
    "torch2": dict(impl="torch", layers=2),
    "bidirectional": dict(impl="torch", layers=2, bidirectional=True),
    "gru": dict(impl="torch", cell="gru"),
}


@pytest.fixture(scope="module")
def trained(small_corpus):
    """name -> (model, vocab), each trained one epoch so the gates are not the initial ones."""
    base = RunConfig.from_mapping({**BASE, "corpus": str(small_corpus)})
    data, out = load_corpus(base), {}
    for name, changes in MODELS.items():
        trainer = Trainer(base.replace(**changes), data=data)
        assert isinstance(trainer.run(), Finished)
        out[name] = trainer.snapshot()
    return out


def model_hidden_states(model, ids: list[int]) -> torch.Tensor:
    """H of every layer after each token, fed one token at a time through the model's forward."""
    state, states = model.begin_state(1, "cpu"), []
    with torch.no_grad():
        for i in ids:
            _, state = model(torch.tensor([[i]]), state)
            states.append(state[0][:, 0])
    return torch.stack(states)  # (steps, layers, hidden)


@pytest.mark.parametrize("name", ["scratch1", "scratch2", "torch1", "torch2"])
def test_trace_reproduces_the_models_hidden_state(trained, name):
    model, vocab = trained[name]
    ids = vocab[list(TEXT)]
    expected = model_hidden_states(model, ids)
    for layer in range(model.layers):
        trace = layer_trace(model, ids, layer=layer)
        torch.testing.assert_close(trace.H, expected[:, layer], atol=1e-5, rtol=0)
        # H = O * tanh(C): the recorded gates and cell state belong to that H
        torch.testing.assert_close(trace.O * torch.tanh(trace.C), trace.H, atol=1e-6, rtol=0)


def test_scratch_trace_matches_both_engine_paths(trained):
    model, vocab = trained["scratch1"]
    ids = vocab[list(TEXT)]
    model.fused = False
    try:
        plain = model_hidden_states(model, ids)
    finally:
        model.fused = True
    torch.testing.assert_close(layer_trace(model, ids).H, plain[:, 0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["scratch2", "torch2"])
def test_gate_activations_summarise_the_trace(trained, name):
    model, vocab = trained[name]
    trace = gate_activations(model, vocab, TEXT, layer=1, top_units=5)
    assert isinstance(trace, GateTrace) and trace.layer == 1 and trace.note == ""
    assert trace.chars == list(TEXT)
    for gate in (trace.input_gate, trace.forget_gate, trace.output_gate):
        assert len(gate) == len(TEXT)
        assert all(0.0 <= v <= 1.0 for v in gate)
    assert len(trace.units) == 5 == len(set(trace.units)) == len(trace.unit_values)
    assert all(len(values) == len(TEXT) for values in trace.unit_values)

    H = model_hidden_states(model, vocab[list(TEXT)])[:, 1]
    variance = H.var(dim=0, unbiased=False)
    assert trace.units == variance.argsort(descending=True)[:5].tolist()
    torch.testing.assert_close(torch.tensor(trace.unit_values), H[:, trace.units].T, atol=1e-5, rtol=0)
    full = layer_trace(model, vocab[list(TEXT)], layer=1)
    torch.testing.assert_close(torch.tensor(trace.forget_gate), full.F.mean(dim=1))


def test_negative_layer_counts_from_the_top_and_top_units_is_capped(trained):
    model, vocab = trained["scratch2"]
    top = gate_activations(model, vocab, TEXT, layer=-1, top_units=100)
    assert top.layer == 1 and len(top.units) == model.hidden
    assert gate_activations(model, vocab, "a", top_units=0).units == []


def test_bidirectional_traces_the_forward_direction_and_says_so(trained):
    model, vocab = trained["bidirectional"]
    ids = vocab[list(TEXT)]
    with torch.no_grad():
        inputs = torch.nn.functional.one_hot(torch.tensor(ids), model.vocab_size).float().unsqueeze(1)
        Y, _ = model.rnn(inputs)  # the whole text at once, as the model reads it
    torch.testing.assert_close(layer_trace(model, ids, layer=1).H, Y[:, 0, : model.hidden], atol=1e-5, rtol=0)
    first = gate_activations(model, vocab, TEXT, layer=0)
    top = gate_activations(model, vocab, TEXT, layer=1)
    assert "forward direction" in first.note and "both directions" not in first.note
    assert "both directions" in top.note


def test_gru_is_refused_with_a_clear_message(trained):
    model, vocab = trained["gru"]
    with pytest.raises(GateError, match="LSTM gates.*GRU"):
        gate_activations(model, vocab, TEXT)


def test_unknown_characters_empty_text_and_bad_layer(trained):
    model, vocab = trained["scratch1"]
    with pytest.raises(GateError, match="'X'.*not in the vocabulary"):
        gate_activations(model, vocab, "the Xylophone")
    mapped = gate_activations(model, vocab, "the X!", unknown="unk")
    assert mapped.chars == list("the X!") and len(mapped.input_gate) == 6
    with pytest.raises(GateError, match="empty"):
        gate_activations(model, vocab, "")
    with pytest.raises(GateError, match="layer must be from 0 to 0"):
        gate_activations(model, vocab, TEXT, layer=1)
    with pytest.raises(GateError, match="top_units"):
        gate_activations(model, vocab, TEXT, top_units=-1)
    assert issubclass(GateError, ValueError)
