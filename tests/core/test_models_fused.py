"""The fused scratch LSTM: same loss, same gradients and same training as the plain path."""

from __future__ import annotations

import pytest
import torch

from lstm_tui.core.models import LSTMSequence, ScratchLSTM

V, H, B, T = 13, 16, 4, 7


def _loss_and_grads(model, X, Y, state, fused):
    model.fused = fused
    model.zero_grad(set_to_none=True)
    state = tuple(s.detach().clone().requires_grad_() for s in state)
    logits, (h, c) = model(X, state)
    # Use every output: the logits, and the final H and C (so their gradient paths are checked).
    loss = torch.nn.functional.cross_entropy(logits, Y.T.reshape(-1)) + (h * h).sum() * 0.1 + c.sin().sum() * 0.1
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    grads["state.H"], grads["state.C"] = state[0].grad.clone(), state[1].grad.clone()
    return loss.detach(), grads


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fused_matches_plain_loss_and_gradients(layers, dtype):
    torch.manual_seed(0)
    model = ScratchLSTM(V, H, layers).to(dtype)
    with torch.no_grad():  # bigger weights than d2l's 0.01 so the gates saturate somewhat
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.5)
    X, Y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
    state = (torch.randn(layers, B, H, dtype=dtype), torch.randn(layers, B, H, dtype=dtype))
    loss_plain, g_plain = _loss_and_grads(model, X, Y, state, fused=False)
    loss_fused, g_fused = _loss_and_grads(model, X, Y, state, fused=True)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(loss_fused, loss_plain, **tol)
    assert g_fused.keys() == g_plain.keys()
    for name in g_plain:
        torch.testing.assert_close(g_fused[name], g_plain[name], **tol, msg=lambda m, n=name: f"{n}: {m}")
        assert g_plain[name].abs().max() > 0, name


def test_gradcheck_of_the_sequence_function():
    torch.manual_seed(0)
    steps, batch, hidden = 3, 2, 3
    args = (
        torch.randn(steps, batch, 4 * hidden, dtype=torch.float64, requires_grad=True),
        torch.randn(batch, hidden, dtype=torch.float64, requires_grad=True),
        torch.randn(batch, hidden, dtype=torch.float64, requires_grad=True),
        torch.randn(hidden, 4 * hidden, dtype=torch.float64, requires_grad=True),
    )
    assert torch.autograd.gradcheck(LSTMSequence.apply, args)


def test_gradcheck_of_the_sequence_function_with_a_row_table():
    """Layer 0's form: ``xw`` is the (vocab, 4H) table ``W_x + b`` and ``index`` picks its rows."""
    torch.manual_seed(0)
    _steps, batch, hidden, vocab = 3, 2, 3, 4
    index = torch.tensor([[0, 2], [2, 2], [3, 0]])  # a repeated row and an unused one (1)
    args = (
        torch.randn(vocab, 4 * hidden, dtype=torch.float64, requires_grad=True),
        torch.randn(batch, hidden, dtype=torch.float64, requires_grad=True),
        torch.randn(batch, hidden, dtype=torch.float64, requires_grad=True),
        torch.randn(hidden, 4 * hidden, dtype=torch.float64, requires_grad=True),
        index,
    )
    assert torch.autograd.gradcheck(LSTMSequence.apply, args)
    rows = args[0][index]  # the same numbers as the per-step form
    out_table = LSTMSequence.apply(*args)
    out_steps = LSTMSequence.apply(rows, *args[1:4])
    for a, b in zip(out_table, out_steps):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("vocab", [13, 300])  # characters (one-hot matmul) and a word vocabulary (index_add_)
def test_both_input_gradient_forms_match_the_plain_path(vocab):
    from lstm_tui.core.models import fused_lstm

    assert (vocab > fused_lstm.ONE_HOT_MAX_ROWS) == (vocab == 300)
    torch.manual_seed(1)
    model = ScratchLSTM(vocab, H, 1).to(torch.float64)
    X, Y = torch.randint(0, vocab, (B, T)), torch.randint(0, vocab, (B, T))
    X[0, :3] = 5  # a row picked several times
    state = (torch.zeros(1, B, H, dtype=torch.float64), torch.zeros(1, B, H, dtype=torch.float64))
    _, g_plain = _loss_and_grads(model, X, Y, state, fused=False)
    _, g_fused = _loss_and_grads(model, X, Y, state, fused=True)
    for name in ("cells.0.W_xi", "cells.0.W_xc", "cells.0.b_f"):
        torch.testing.assert_close(g_fused[name], g_plain[name], rtol=1e-10, atol=1e-12)
    assert g_fused["cells.0.W_xi"][5].abs().sum() > 0


@pytest.mark.parametrize("layers", [1, 2])
def test_fused_and_plain_train_the_same(layers):
    def train(fused):
        torch.manual_seed(0)
        model = ScratchLSTM(V, H, layers, fused=fused)
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        gen = torch.Generator().manual_seed(1)
        state, losses = None, []
        for _ in range(4):
            X, Y = torch.randint(0, V, (B, T), generator=gen), torch.randint(0, V, (B, T), generator=gen)
            state = None if state is None else tuple(s.detach() for s in state)
            logits, state = model(X, state)
            loss = torch.nn.functional.cross_entropy(logits, Y.T.reshape(-1))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0, foreach=True)
            opt.step()
            losses.append(loss.item())
        return losses, model.state_dict()

    losses_plain, sd_plain = train(False)
    losses_fused, sd_fused = train(True)
    assert losses_fused == pytest.approx(losses_plain, rel=1e-5)
    for k in sd_plain:
        torch.testing.assert_close(sd_fused[k], sd_plain[k], rtol=1e-5, atol=1e-6)


def test_fused_without_grad_and_with_a_single_step():
    """Generation: no_grad, batch 1, one step at a time, state carried."""
    torch.manual_seed(0)
    model = ScratchLSTM(V, H, 2, fused=True)
    X = torch.randint(0, V, (1, 6))
    with torch.no_grad():
        Y_all, s_all = model(X)
        state, rows = None, []
        for t in range(6):
            y, state = model(X[:, t : t + 1], state)
            rows.append(y)
    torch.testing.assert_close(torch.cat(rows), Y_all)
    torch.testing.assert_close(state[1], s_all[1])


def test_fused_under_bf16_autocast_stays_close_to_plain():
    """Autocast: the recurrence runs in float32 inside; the projections autocast."""
    torch.manual_seed(0)
    model = ScratchLSTM(V, H, 2)
    X, Y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))

    def run(fused):
        model.fused = fused
        model.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits, (h, c) = model(X)
            loss = torch.nn.functional.cross_entropy(logits.float(), Y.T.reshape(-1))
        loss.backward()
        return loss.item(), [p.grad.clone() for p in model.parameters()], h.dtype, c.dtype

    loss_f, grads_f, hd, cd = run(True)
    loss_p, grads_p, _, _ = run(False)
    assert cd == torch.float32  # the cell state never drops to bf16
    assert loss_f == pytest.approx(loss_p, rel=1e-2)
    for gf, gp in zip(grads_f, grads_p):
        assert gf.dtype == torch.float32 and torch.isfinite(gf).all()
        assert (gf - gp).norm() <= 0.05 * gp.norm() + 1e-6


def _loss_of(model, X, Y):
    logits, _ = model(X)
    return torch.nn.functional.cross_entropy(logits, Y.T.reshape(-1))


def test_reused_workspaces_never_mix_two_live_graphs():
    """Two forwards before either backward get their own buffers: both gradients stay exact."""
    torch.manual_seed(0)
    model = ScratchLSTM(V, H, 1, fused=True)
    X1, Y1, X2, Y2 = (torch.randint(0, V, (B, T)) for _ in range(4))

    def grads_alone(X, Y):
        model.zero_grad(set_to_none=True)
        loss = _loss_of(model, X, Y)
        loss.backward()
        return [p.grad.clone() for p in model.parameters()]

    g1, g2 = grads_alone(X1, Y1), grads_alone(X2, Y2)
    model.zero_grad(set_to_none=True)
    loss1 = _loss_of(model, X1, Y1)
    loss2 = _loss_of(model, X2, Y2)  # graph 1 is still alive: it must not lend its buffers
    params = list(model.parameters())
    for loss, expected in ((loss2, g2), (loss1, g1)):
        for got, want in zip(torch.autograd.grad(loss, params), expected):
            torch.testing.assert_close(got, want)


def test_a_workspace_is_reused_after_backward_and_handed_back_once():
    from lstm_tui.core.models.fused_lstm import WorkspacePool

    pool = WorkspacePool()
    ws = pool.take(3, 2, 4, torch.float32, torch.device("cpu"))
    assert ws.in_use
    pool.give(ws)
    pool.give(ws)  # a second hand-back (say, a retained graph run backward twice) is ignored
    assert pool.take(3, 2, 4, torch.float32, torch.device("cpu")) is ws
    assert pool.take(3, 2, 4, torch.float32, torch.device("cpu")) is not ws


def test_a_retained_graph_run_again_after_a_new_forward_fails_loudly():
    """The reused buffers are saved tensors: autograd notices they were overwritten."""
    torch.manual_seed(0)
    model = ScratchLSTM(V, H, 1, fused=True)
    X, Y = torch.randint(0, V, (B, T)), torch.randint(0, V, (B, T))
    loss = _loss_of(model, X, Y)
    loss.backward(retain_graph=True)
    _loss_of(model, X, Y)  # takes (and overwrites) the workspace the first graph used
    with pytest.raises(RuntimeError, match="modified (by an )?inplace"):
        loss.backward()
