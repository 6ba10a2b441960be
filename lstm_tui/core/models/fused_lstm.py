"""The fast path of the scratch LSTM: same equations, fewer and bigger operations.

What the plain path (``scratch.py``) does per time step -- four gate matmuls for the input,
four for the hidden state, the output layer, and autograd recording ~30 nodes -- is
reorganised here:

* the input term ``X W_x + b`` of all four gates and all time steps is computed in one go
  before the loop (layer 0: the one-hot input makes ``X W_x + b`` a row of the small table
  ``W_x + b``, picked by index straight into the gate buffer inside the Function, whose
  backward adds the rows' gradients back with ``index_add_``; deeper layers: one
  ``(steps*batch, hidden) x (hidden, 4*hidden)`` matmul);
* each step does ONE ``(batch, hidden) x (hidden, 4*hidden)`` matmul for the recurrence,
  accumulated in place into that buffer (no copy), the gate blocks being laid out
  ``[I | F | O | C~]`` along the last dimension (one sigmoid for the [I | F | O] block);
* the whole recurrence over the sequence is one :class:`LSTMSequence` autograd Function with
  a hand-written backward: it saves the gate activations, walks the steps backwards doing
  one ``dgates @ W_h^T`` matmul per step, and computes the recurrent weight gradient as one
  large matmul ``H_prev_all^T @ dgates_all`` after the loop;
* the output layer runs once over the whole sequence (in ``scratch.py``).

Gate equations (the same as the plain path, with ``Z`` the pre-activations):

    I = sigmoid(Z_i)   F = sigmoid(Z_f)   O = sigmoid(Z_o)   C~ = tanh(Z_c)
    C_t = F * C_{t-1} + I * C~          H_t = O * tanh(C_t)

and their derivatives (backward, with dH, dC the gradients flowing into H_t, C_t):

    dC  += dH * O * (1 - tanh(C_t)^2)
    dZ_i = dC * C~ * I(1-I)      dZ_f = dC * C_{t-1} * F(1-F)
    dZ_o = dH * tanh(C_t) * O(1-O)                dZ_c = dC * I * (1 - C~^2)
    dC_{t-1} = dC * F            dH_{t-1} = dZ @ W_h^T  (+ the gradient from the layer above)

Every factor of ``dZ`` that does not depend on ``dH``/``dC`` is computed for all steps at
once before the backward loop (seven whole-sequence operations: ``S - S*S`` is the sigmoid
derivative of the [I | F | O] block in one go, ``O - H*tanh(C)`` is ``O(1 - tanh(C)^2)``),
so each step is five tensor operations, written into preallocated buffers.

Under autocast (bf16) the recurrence runs in the parameters' dtype (float32) with autocast
switched off inside: the cell state is accumulated over many steps and bf16 would lose it.
The input projection and the output layer outside the Function still autocast.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F_
from torch import Tensor


class LSTMSequence(torch.autograd.Function):
    """One LSTM layer over a whole sequence.

    Inputs:  ``xw`` = the input term ``X W_x + b`` of the gates [I|F|O|C~], either for every
             step, ``(steps, batch, 4H)``, or -- with ``index`` ``(steps, batch)`` token ids --
             as a table ``(vocab, 4H)`` = ``W_x + b`` whose row ``index[t, b]`` is step ``t``'s
             input term (layer 0: one-hot ``X`` picks rows);
             ``h0``, ``c0`` (batch, H), ``w_h`` (H, 4H).
    Outputs: ``H_all`` (steps, batch, H) with ``H_all[t] = H_t`` (a view of the internal
             ``hs`` (steps + 1, batch, H), ``hs[0] = h0``; returning it directly spares
             autograd a zero-filled slice gradient), ``c_last`` (batch, H) = C after the last step.
    """

    @staticmethod
    def forward(ctx, xw: Tensor, h0: Tensor, c0: Tensor, w_h: Tensor, index: Tensor | None = None):  # noqa: D102
        hidden = w_h.shape[0]
        dtype, device = w_h.dtype, w_h.device
        with torch.autocast(device.type, enabled=False):
            # ``gates`` starts as the input term Z_x and becomes the activations, step by step.
            if index is None:
                gates = xw.to(dtype, copy=True)
            else:
                steps, batch = index.shape
                gates = torch.index_select(xw.to(dtype), 0, index.reshape(-1)).view(steps, batch, 4 * hidden)
            steps, batch, _ = gates.shape
            hs = torch.empty((steps + 1, batch, hidden), dtype=dtype, device=device)
            cs = torch.empty((steps + 1, batch, hidden), dtype=dtype, device=device)
            tanh_c = torch.empty((steps, batch, hidden), dtype=dtype, device=device)
            hs[0].copy_(h0)
            cs[0].copy_(c0)
            # Per-step views made once, outside the loop (unbind is one call for all steps).
            z_t = gates.unbind(0)
            sig_t = gates[..., : 3 * hidden].unbind(0)
            i_t = gates[..., :hidden].unbind(0)
            f_t = gates[..., hidden : 2 * hidden].unbind(0)
            o_t = gates[..., 2 * hidden : 3 * hidden].unbind(0)
            ct_t = gates[..., 3 * hidden :].unbind(0)
            h_t, c_t, tc_t = hs.unbind(0), cs.unbind(0), tanh_c.unbind(0)
            for t in range(steps):
                z_t[t].addmm_(h_t[t], w_h)  # Z = (X W_x + b) + H W_h, in place: no copy
                sig_t[t].sigmoid_()  # I, F, O (one contiguous block)
                ct_t[t].tanh_()  # C~
                torch.mul(f_t[t], c_t[t], out=c_t[t + 1])  # C = F*C
                c_t[t + 1].addcmul_(i_t[t], ct_t[t])  #     + I*C~
                torch.tanh(c_t[t + 1], out=tc_t[t])
                torch.mul(o_t[t], tc_t[t], out=h_t[t + 1])  # H = O*tanh(C)
        if index is None:
            ctx.save_for_backward(gates, hs, cs, tanh_c, w_h)
        else:
            ctx.save_for_backward(gates, hs, cs, tanh_c, w_h, index)
        ctx.table_shape = None if index is None else xw.shape
        ctx.xw_dtype = xw.dtype
        return hs[1:], cs[steps].clone()

    @staticmethod
    def backward(ctx, d_hs: Tensor, d_c_last: Tensor):  # noqa: D102
        gates, hs, cs, tanh_c, w_h, *rest = ctx.saved_tensors
        steps, batch, four_h = gates.shape
        hidden = four_h // 4
        dtype = w_h.dtype
        with torch.autocast(w_h.device.type, enabled=False):
            d_hs = d_hs.to(dtype)
            I, F, O, C_tilda = gates.split(hidden, dim=-1)
            S = gates[..., : 3 * hidden]  # [I | F | O]
            # Factors of dZ that do not depend on dH/dC, for all steps at once (7 whole-sequence ops):
            # p = [C~*I(1-I), C_prev*F(1-F), tanh(C)*O(1-O), I*(1-C~^2)], laid out (steps, batch, 4, H)
            p = torch.empty_like(gates)
            p_i, p_f, p_o, p_c = p.split(hidden, dim=-1)
            torch.addcmul(S, S, S, value=-1, out=p[..., : 3 * hidden])  # sigmoid' = S - S^2
            p_i.mul_(C_tilda)
            p_f.mul_(cs[:-1])
            p_o.mul_(tanh_c)
            torch.mul(C_tilda, C_tilda, out=p_c)
            torch.addcmul(I, I, p_c, value=-1, out=p_c)  # I - I*C~^2
            k = torch.addcmul(O, hs[1:], tanh_c, value=-1)  # O - H*tanh(C) = O(1 - tanh(C)^2): dC += dH * k
            d_z = torch.empty_like(gates)
            d_cs = torch.empty((steps, batch, 1, hidden), dtype=dtype, device=gates.device)  # dC_t
            d_z4_t = d_z.view(steps, batch, 4, hidden).unbind(0)
            p4_t = p.view(steps, batch, 4, hidden).unbind(0)
            d_zo_t = d_z[..., 2 * hidden : 3 * hidden].unbind(0)
            p_o_t, k_t, f_t = p_o.unbind(0), k.unbind(0), F.unbind(0)
            d_z_t, d_hs_t = d_z.unbind(0), d_hs.unbind(0)
            d_c4_t, d_c_t = d_cs.unbind(0), d_cs.squeeze(2).unbind(0)
            w_h_t = w_h.t().contiguous()  # (4H, H): a contiguous copy makes the per-step matmul faster

            d_h = d_hs_t[steps - 1]  # dH of the last step: only what came from outside
            d_c = d_c_last.to(dtype)
            need_h0, need_c0 = ctx.needs_input_grad[1], ctx.needs_input_grad[2]
            for t in range(steps - 1, -1, -1):
                torch.addcmul(d_c, d_h, k_t[t], out=d_c_t[t])  # dC at step t
                torch.mul(p4_t[t], d_c4_t[t], out=d_z4_t[t])  # dZ_i, dZ_f, dZ_c (and O, redone next)
                torch.mul(p_o_t[t], d_h, out=d_zo_t[t])  # dZ_o uses dH
                if t > 0 or need_c0:
                    d_c = d_c_t[t] * f_t[t]  # dC_{t-1}
                if t > 0:
                    d_h = torch.addmm(d_hs_t[t - 1], d_z_t[t], w_h_t)  # dH_{t-1} (+ its gradient from outside)
                elif need_h0:
                    d_h = d_z_t[0] @ w_h_t  # dH_0

            d_w_h = None
            if ctx.needs_input_grad[3]:
                # One big matmul instead of one per step: sum_t H_{t-1}^T dZ_t.
                d_w_h = hs[:-1].reshape(-1, hidden).t() @ d_z.reshape(-1, four_h)
            d_xw = None
            if ctx.needs_input_grad[0]:
                if ctx.table_shape is None:
                    d_xw = d_z
                else:  # the rows picked by the index get the dZ of the steps that picked them
                    (index,) = rest
                    d_xw = torch.zeros(ctx.table_shape, dtype=dtype, device=d_z.device)
                    d_xw.index_add_(0, index.reshape(-1), d_z.view(-1, four_h))
                d_xw = d_xw.to(ctx.xw_dtype)
        return d_xw, (d_h if need_h0 else None), (d_c if need_c0 else None), d_w_h, None


def fused_lstm_layer(
    inputs: Tensor, h0: Tensor, c0: Tensor, W_x: Tensor, W_h: Tensor, b: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Run one LSTM layer over a sequence; returns ``(H_all (steps, batch, H), H_last, C_last)``.

    ``inputs`` are token indices ``(steps, batch)`` for layer 0 (one-hot rows: ``X W_x + b``
    is the row ``(W_x + b)[X]``, picked inside the Function) or the previous layer's outputs
    ``(steps, batch, in)``. ``W_x (in, 4H)``, ``W_h (H, 4H)`` and ``b (4H)`` hold the gate
    blocks [I | F | O | C~].
    """
    index = None
    if inputs.dtype in (torch.int64, torch.int32):
        xw = W_x + b  # (vocab, 4H): one-hot X @ W_x + b is a row of it
        index = inputs.long()
    else:
        steps, batch, width = inputs.shape
        xw = torch.addmm(b, inputs.reshape(steps * batch, width), W_x).view(steps, batch, -1)
    device_type = xw.device.type
    if _autocast_on(device_type):
        with torch.autocast(device_type, enabled=False):
            dtype = W_h.dtype
            outputs, c_last = LSTMSequence.apply(xw.to(dtype), h0.to(dtype), c0.to(dtype), W_h, index)
    else:
        outputs, c_last = LSTMSequence.apply(xw, h0, c0, W_h, index)
    return outputs, outputs[-1], c_last


def _autocast_on(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except (TypeError, RuntimeError):  # a device type autocast does not know
        return False
