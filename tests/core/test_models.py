"""Models: shapes, state handling, init, parameter counts, equivalence with torch.nn."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lstm_tui.core.config import RunConfig
from lstm_tui.core.models import (
    RecurrentLM,
    ScratchGRU,
    ScratchLSTM,
    ScratchRNN,
    TorchRNNLM,
    build_model,
)

V, H, B, T = 11, 8, 3, 5

KINDS = (
    [
        pytest.param(
            dict(impl="scratch", cell=cell, layers=layers, fused=fused),
            id=f"scratch-{cell}-{layers}{'-fused' if fused else ''}",
        )
        for cell in ("lstm", "gru", "rnn")
        for layers in (1, 2)
        for fused in ((False, True) if cell == "lstm" else (False,))
    ]
    + [
        pytest.param(dict(impl="torch", cell=cell, layers=layers), id=f"torch-{cell}-{layers}")
        for cell in ("lstm", "gru", "rnn")
        for layers in (1, 2)
    ]
    + [pytest.param(dict(impl="torch", cell="lstm", layers=2, bidirectional=True), id="torch-lstm-2-bidi")]
)


def make(**kw) -> RecurrentLM:
    torch.manual_seed(0)
    return build_model(RunConfig().replace(hidden=H, **kw), V)


def tokens(batch=B, steps=T, seed=1):
    return torch.randint(0, V, (batch, steps), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kw", KINDS)
def test_shapes_state_and_attributes(kw):
    model = make(**kw)
    dirs = 2 if kw.get("bidirectional") else 1
    assert isinstance(model, RecurrentLM)
    assert (model.vocab_size, model.hidden, model.layers, model.directions) == (V, H, kw["layers"], dirs)
    assert model.cell == kw["cell"] and model.impl == kw["impl"]
    n_state = 2 if kw["cell"] == "lstm" else 1

    state0 = model.begin_state(B, "cpu")
    assert isinstance(state0, tuple) and len(state0) == n_state
    for s in state0:
        assert s.shape == (kw["layers"] * dirs, B, H) and s.dtype == torch.float32
        assert not s.any()

    X = tokens()
    Y, state = model(X, None)
    assert Y.shape == (T * B, V)
    assert isinstance(state, tuple) and len(state) == n_state
    assert all(s.shape == (kw["layers"] * dirs, B, H) for s in state)
    # None means begin_state.
    Y0, _ = model(X, state0)
    torch.testing.assert_close(Y, Y0)
    # The carried state changes the next output.
    Y2, _ = model(X, state)
    assert not torch.allclose(Y, Y2)
    # The state can be detached in place (d2l's train_epoch_ch8 does it).
    for s in state:
        s.detach_()


@pytest.mark.parametrize("kw", [k for k in KINDS if not k.values[0].get("bidirectional")])
def test_logits_are_time_major(kw):
    """Row t*batch + b of the logits depends only on X[b, :t+1] (a causal, time-major layout)."""
    model = make(**kw)
    X = tokens()
    Y, _ = model(X)
    X2 = X.clone()
    X2[1, 3] = (X2[1, 3] + 1) % V  # change sequence 1 at step 3
    Y2, _ = model(X2)
    changed = (Y - Y2).abs().amax(dim=1).view(T, B) > 0
    expected = torch.zeros(T, B, dtype=torch.bool)
    expected[3:, 1] = True
    assert torch.equal(changed, expected)


def test_begin_state_device_and_dtype_follow_the_model():
    model = ScratchLSTM(V, H).double()
    h, c = model.begin_state(2, torch.device("cpu"))
    assert h.dtype == c.dtype == torch.float64
    Y, _ = model(tokens(2))
    assert Y.dtype == torch.float64


def test_bad_state_shape_is_a_clear_error():
    model = ScratchLSTM(V, H, 2)
    with pytest.raises(ValueError, match="state"):
        model(tokens(), (torch.zeros(1, B, H), torch.zeros(1, B, H)))


def test_parameter_counts_follow_the_formulas():
    v, h = 28, 256
    assert ScratchLSTM(v, h).num_parameters() == 4 * (v * h + h * h + h) + h * v + v
    assert ScratchLSTM(v, h, 2).num_parameters() == 4 * (v * h + h * h + h) + 4 * (2 * h * h + h) + h * v + v
    assert ScratchGRU(v, h).num_parameters() == 3 * (v * h + h * h + h) + h * v + v
    assert ScratchRNN(v, h, 2).num_parameters() == (v * h + h * h + h) + (2 * h * h + h) + h * v + v
    # torch.nn has two bias vectors per gate block.
    assert TorchRNNLM("lstm", v, h).num_parameters() == 4 * (v * h + h * h + 2 * h) + h * v + v
    bidi = TorchRNNLM("lstm", v, h, 2, bidirectional=True)
    per_dir = 4 * (v * h + h * h + 2 * h) + 4 * (2 * h * h + h * h + 2 * h)
    assert bidi.num_parameters() == 2 * per_dir + 2 * h * v + v


def test_scratch_state_dict_layout_is_d2l_names():
    keys = set(ScratchLSTM(V, H, 2).state_dict())
    gates = ["W_xi", "W_hi", "b_i", "W_xf", "W_hf", "b_f", "W_xo", "W_ho", "b_o", "W_xc", "W_hc", "b_c"]
    assert keys == {f"cells.{l}.{g}" for l in (0, 1) for g in gates} | {"W_hq", "b_q"}
    sd = ScratchLSTM(V, H, 2).state_dict()
    assert sd["cells.0.W_xi"].shape == (V, H) and sd["cells.1.W_xi"].shape == (H, H)
    assert sd["cells.0.W_hc"].shape == (H, H) and sd["cells.0.b_o"].shape == (H,)
    assert sd["W_hq"].shape == (H, V) and sd["b_q"].shape == (V,)
    assert set(ScratchGRU(V, H).state_dict()) == {
        f"cells.0.{g}" for g in ["W_xz", "W_hz", "b_z", "W_xr", "W_hr", "b_r", "W_xh", "W_hh", "b_h"]
    } | {"W_hq", "b_q"}
    assert set(ScratchRNN(V, H).state_dict()) == {"cells.0.W_xh", "cells.0.W_hh", "cells.0.b_h", "W_hq", "b_q"}


@pytest.mark.parametrize("cls", [ScratchLSTM, ScratchGRU, ScratchRNN])
def test_scratch_init_is_d2l(cls):
    torch.manual_seed(0)
    model = cls(28, 256, 2)
    for name, p in model.named_parameters():
        if name.split(".")[-1].startswith("b_"):
            assert not p.any(), name
        else:
            assert abs(p.std().item() - 0.01) < 0.001, name
            assert abs(p.mean().item()) < 0.002, name


def test_one_layer_scratch_lstm_draws_the_books_numbers():
    """Same RNG order as d2l's get_lstm_params: W_xi, W_hi, (b_i), W_xf, ..., W_hq."""
    torch.manual_seed(3)
    model = ScratchLSTM(V, H)
    torch.manual_seed(3)
    cell = model.cells[0]
    for W in (cell.W_xi, cell.W_hi, cell.W_xf, cell.W_hf, cell.W_xo, cell.W_ho, cell.W_xc, cell.W_hc, model.W_hq):
        torch.testing.assert_close(W.data, torch.randn(W.shape) * 0.01, rtol=0, atol=0)


def test_build_model_is_deterministic_for_a_seed():
    for kw in (dict(impl="scratch"), dict(impl="torch", layers=2)):
        a, b = make(**kw), make(**kw)
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
            assert ka == kb and torch.equal(va, vb)


def test_build_model_picks_the_class():
    assert type(make(impl="scratch", cell="gru")) is ScratchGRU
    assert type(make(impl="scratch", cell="rnn")) is ScratchRNN
    lstm = make(impl="scratch", cell="lstm", fused=False)
    assert type(lstm) is ScratchLSTM and lstm.fused is False
    assert make(impl="scratch", cell="lstm").fused is True  # the config default
    t = make(impl="torch", cell="gru", layers=2, bidirectional=True)
    assert type(t) is TorchRNNLM and isinstance(t.rnn, nn.GRU) and t.directions == 2


def _copy_scratch_lstm_into(model: ScratchLSTM, ref: nn.LSTM) -> None:
    with torch.no_grad():
        for layer, cell in enumerate(model.cells):
            # torch's gate order is i, f, g(candidate), o; its weights are (4H, in), applied as x @ W.T
            getattr(ref, f"weight_ih_l{layer}").copy_(torch.cat([cell.W_xi, cell.W_xf, cell.W_xc, cell.W_xo], 1).T)
            getattr(ref, f"weight_hh_l{layer}").copy_(torch.cat([cell.W_hi, cell.W_hf, cell.W_hc, cell.W_ho], 1).T)
            getattr(ref, f"bias_ih_l{layer}").copy_(torch.cat([cell.b_i, cell.b_f, cell.b_c, cell.b_o]))
            getattr(ref, f"bias_hh_l{layer}").zero_()


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("fused", [False, True])
def test_scratch_lstm_matches_nn_lstm(layers, fused):
    torch.manual_seed(0)
    model = ScratchLSTM(V, H, layers, fused=fused)
    with torch.no_grad():  # non-trivial biases so their placement is checked too
        for _name, p in model.named_parameters():
            p.add_(torch.randn_like(p) * 0.3)
    ref = nn.LSTM(V, H, layers)
    _copy_scratch_lstm_into(model, ref)
    X = tokens()
    state = (torch.randn(layers, B, H), torch.randn(layers, B, H))
    Y, (h, c) = model(X, state)
    out, (h_ref, c_ref) = ref(nn.functional.one_hot(X.T, V).float(), state)
    Y_ref = out.reshape(-1, H) @ model.W_hq + model.b_q
    torch.testing.assert_close(Y, Y_ref, rtol=0, atol=1e-5)
    torch.testing.assert_close(h, h_ref, rtol=0, atol=1e-5)
    torch.testing.assert_close(c, c_ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("layers", [1, 2])
def test_scratch_rnn_matches_nn_rnn(layers):
    torch.manual_seed(0)
    model = ScratchRNN(V, H, layers)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    ref = nn.RNN(V, H, layers)
    with torch.no_grad():
        for layer, cell in enumerate(model.cells):
            getattr(ref, f"weight_ih_l{layer}").copy_(cell.W_xh.T)
            getattr(ref, f"weight_hh_l{layer}").copy_(cell.W_hh.T)
            getattr(ref, f"bias_ih_l{layer}").copy_(cell.b_h)
            getattr(ref, f"bias_hh_l{layer}").zero_()
    X, h0 = tokens(), torch.randn(layers, B, H)
    Y, (h,) = model(X, (h0,))
    out, h_ref = ref(nn.functional.one_hot(X.T, V).float(), h0)
    torch.testing.assert_close(Y, out.reshape(-1, H) @ model.W_hq + model.b_q, rtol=0, atol=1e-5)
    torch.testing.assert_close(h, h_ref, rtol=0, atol=1e-5)


def test_scratch_gru_follows_d2l_equations():
    torch.manual_seed(0)
    model = ScratchGRU(V, H)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    c = model.cells[0]
    X, h = tokens(), torch.randn(1, B, H)
    Y, (h_out,) = model(X, (h,))
    Hs, Hc = h[0], []
    for x in nn.functional.one_hot(X.T, V).float():
        Z = torch.sigmoid(x @ c.W_xz + Hs @ c.W_hz + c.b_z)
        R = torch.sigmoid(x @ c.W_xr + Hs @ c.W_hr + c.b_r)
        Ht = torch.tanh(x @ c.W_xh + (R * Hs) @ c.W_hh + c.b_h)
        Hs = Z * Hs + (1 - Z) * Ht
        Hc.append(Hs @ model.W_hq + model.b_q)
    torch.testing.assert_close(Y, torch.cat(Hc), rtol=0, atol=1e-5)
    torch.testing.assert_close(h_out[0], Hs, rtol=0, atol=1e-5)


def test_torch_model_matches_d2l_rnnmodel():
    """TorchRNNLM is d2l's RNNModel: one-hot in, Linear over the flattened outputs."""
    torch.manual_seed(0)
    model = TorchRNNLM("lstm", V, H, 2, bidirectional=True)
    X = tokens()
    Y, (h, c) = model(X)
    out, (h_ref, c_ref) = model.rnn(nn.functional.one_hot(X.T, V).float())
    torch.testing.assert_close(Y, model.linear(out.reshape(-1, 2 * H)))
    torch.testing.assert_close(h, h_ref)
    assert h.shape == c.shape == (4, B, H)
