"""The fast path of the scratch LSTM: same equations, fewer and bigger operations.

What the plain path (``scratch.py``) does per time step -- four gate matmuls for the input,
four for the hidden state, the output layer, and autograd recording ~30 nodes -- is
reorganised here:

* the input term ``X W_x + b`` of all four gates and all time steps is computed in one go
  before the loop (layer 0: the one-hot input makes ``X W_x + b`` a row of the small table
  ``W_x + b``, gathered by index straight into the gate buffer inside the Function, whose
  backward sums the rows' gradients with a one-hot matmul; deeper layers: one
  ``(steps*batch, hidden) x (hidden, 4*hidden)`` matmul);
* each step does ONE ``(batch, hidden) x (hidden, 4*hidden)`` matmul for the recurrence,
  accumulated in place into that buffer (no copy), the gate blocks being laid out
  ``[O | I | F | C~]`` along the last dimension (:data:`GATE_ORDER`): one sigmoid covers the
  [O | I | F] block, and the backward multiplies the [I | F | C~] block by dC in one go;
* the whole recurrence over the sequence is one :class:`LSTMSequence` autograd Function with
  a hand-written backward: it walks the steps backwards doing one ``dZ @ W_h^T`` matmul per
  step, and computes the recurrent weight gradient as one large matmul
  ``H_prev_all^T @ dZ_all`` after the loop;
* the output layer runs once over the whole sequence (in ``scratch.py``);
* while training, the buffers and their per-step views live in a :class:`Workspace` that is
  reused from batch to batch (:data:`WORKSPACES`): a fresh set would cost ~20 MB of page
  touching and ~600 view objects per batch. A workspace is taken by a forward that will be
  differentiated and handed back by its backward, so two graphs alive at once never share one.

Gate equations (the same as the plain path, with ``Z`` the pre-activations):

    I = sigmoid(Z_i)   F = sigmoid(Z_f)   O = sigmoid(Z_o)   C~ = tanh(Z_c)
    C_t = F * C_{t-1} + I * C~          H_t = O * tanh(C_t)

and their derivatives (backward, with dH, dC the gradients flowing into H_t, C_t):

    dC  += dH * O * (1 - tanh(C_t)^2)
    dZ_i = dC * C~ * I(1-I)      dZ_f = dC * C_{t-1} * F(1-F)
    dZ_o = dH * tanh(C_t) * O(1-O)                dZ_c = dC * I * (1 - C~^2)
    dC_{t-1} = dC * F            dH_{t-1} = dZ @ W_h^T  (+ the gradient from the layer above)

Every factor that does not depend on ``dH``/``dC`` is computed for all steps at once before
the backward loop, into ``p = [p_o | p_i | p_f | p_c | F]`` (so that ``dZ_i, dZ_f, dZ_c`` and
``dC * F`` are ONE multiplication by dC per step), which leaves four operations per step.

Under autocast (bf16) the recurrence runs in the parameters' dtype (float32) with autocast
switched off inside: the cell state is accumulated over many steps and bf16 would lose it.
The input projection and the output layer outside the Function still autocast.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar, cast

import torch
import torch.nn.functional as F_
from torch import Tensor

#: The order of the gate blocks in the fused weights: output, input, forget, candidate.
GATE_ORDER = ("o", "i", "f", "c")
#: Up to this many table rows (vocabulary size) the input gradient is a one-hot matmul, above
#: it ``index_add_`` (measured on CPU: vocab 28, 2.1 ms vs 5.4 ms; vocab 4,580, 273 ms vs 10 ms).
ONE_HOT_MAX_ROWS = 256

#: What a workspace is made for: (steps, batch, hidden, dtype, device).
WorkspaceKey = tuple[int, int, int, torch.dtype, torch.device]
_F = TypeVar("_F", bound=Callable[..., Any])


class Workspace:
    """The buffers of one sequence shape, and their per-step views, made once.

    Forward: ``gates (steps, batch, 4H)`` starts as the input term and becomes the gate
    activations; ``hs``/``cs (steps + 1, batch, H)`` hold H and C (``[0]`` = the initial
    state); ``tanh_c (steps, batch, H)``. Backward (made on first use): ``p`` and ``d_z``
    ``(steps, batch, 5, H)`` laid out ``[o | i | f | c | carry]`` and ``k (steps, batch, H)``.
    """

    def __init__(self, steps: int, batch: int, hidden: int, dtype: torch.dtype, device: torch.device):
        self.key: WorkspaceKey = (steps, batch, hidden, dtype, device)
        self.steps, self.batch, self.hidden = steps, batch, hidden
        self.dtype, self.device = dtype, device
        self.in_use = False
        H = hidden
        self.gates = self._empty(steps, batch, 4 * H)
        self.hs = self._empty(steps + 1, batch, H)
        self.cs = self._empty(steps + 1, batch, H)
        self.tanh_c = self._empty(steps, batch, H)
        g = self.gates
        self.z_t = g.unbind(0)
        self.sig_t = g[..., : 3 * H].unbind(0)  # [O | I | F]
        self.o_t, self.i_t = g[..., :H].unbind(0), g[..., H : 2 * H].unbind(0)
        self.f_t, self.ct_t = g[..., 2 * H : 3 * H].unbind(0), g[..., 3 * H :].unbind(0)
        self.h_t, self.c_t, self.tc_t = self.hs.unbind(0), self.cs.unbind(0), self.tanh_c.unbind(0)
        self.has_backward = False  # backward buffers: see ensure_backward

    def _empty(self, *shape: int) -> Tensor:
        return torch.empty(shape, dtype=self.dtype, device=self.device)

    def ensure_backward(self) -> None:
        """Make the backward's buffers and views (once; a no-grad workspace never needs them)."""
        if self.has_backward:
            return
        T, B, H = self.steps, self.batch, self.hidden
        self.p = self._empty(T, B, 5, H)
        self.k = self._empty(T, B, H)
        self.d_z = self._empty(T, B, 5, H)
        self.d_c = self._empty(B, 1, H)  # dC of the current step
        self.d_h = self._empty(B, H)  # dH of the current step
        self.p_o_t, self.p_ifcf_t = self.p[:, :, 0].unbind(0), self.p[:, :, 1:].unbind(0)
        self.k_t = self.k.unbind(0)
        flat = self.d_z.view(T, B, 5 * H)
        self.d_z4_t = flat[..., : 4 * H].unbind(0)  # dZ [o|i|f|c], the rows of the matmuls
        self.d_zo_t, self.d_zifcf_t = self.d_z[:, :, 0].unbind(0), self.d_z[:, :, 1:].unbind(0)
        self.carry_t = self.d_z[:, :, 4].unbind(0)  # dC_t * F_t: dC flowing to step t-1
        self.has_backward = True

    def d_z4_all(self) -> Tensor:
        """dZ of every step as ``(steps * batch, 4H)`` (a strided view: rows 5H apart)."""
        return self.d_z.view(-1, 5 * self.hidden)[:, : 4 * self.hidden]


class WorkspacePool:
    """Free workspaces by shape; the few most recent shapes are kept."""

    def __init__(self, max_shapes: int = 4):
        self._free: OrderedDict[WorkspaceKey, list[Workspace]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_shapes = max_shapes

    def take(self, steps: int, batch: int, hidden: int, dtype: torch.dtype, device: torch.device) -> Workspace:
        key: WorkspaceKey = (steps, batch, hidden, dtype, device)
        with self._lock:
            free = self._free.get(key)
            ws = free.pop() if free else None
        ws = ws or Workspace(*key)
        ws.in_use = True
        return ws

    def give(self, ws: Workspace) -> None:
        """Hand ``ws`` back (a second hand-back of the same workspace is ignored)."""
        with self._lock:
            if not ws.in_use:
                return
            ws.in_use = False
            self._free.setdefault(ws.key, []).append(ws)
            self._free.move_to_end(ws.key)
            while len(self._free) > self.max_shapes:
                self._free.popitem(last=False)

    def drain(self) -> list[Workspace]:
        """Take every free workspace out of the pool (a CUDA graph keeps the ones it replays into)."""
        with self._lock:
            taken = [ws for free in self._free.values() for ws in free]
            self._free.clear()
        return taken


#: The process-wide pool the training path draws from.
WORKSPACES = WorkspacePool()


class LSTMSequence(torch.autograd.Function):
    """One LSTM layer over a whole sequence.

    Inputs:  ``xw`` = the input term ``X W_x + b`` of the gates [O|I|F|C~], either for every
             step, ``(steps, batch, 4H)``, or -- with ``index`` ``(steps, batch)`` token ids --
             as a table ``(vocab, 4H)`` = ``W_x + b`` whose row ``index[t, b]`` is step ``t``'s
             input term (layer 0: one-hot ``X`` picks rows);
             ``h0``, ``c0`` (batch, H), ``w_h`` (H, 4H); ``pool``: a :class:`WorkspacePool`
             to take the buffers from (``None``: fresh buffers, for direct calls and no-grad).
    Outputs: ``H_all`` (steps, batch, H) with ``H_all[t] = H_t`` (a view of the workspace's
             ``hs``; with a pool it stays valid until the next forward after this backward),
             ``c_last`` (batch, H) = C after the last step.
    """

    @staticmethod
    def forward(  # noqa: D102
        ctx: Any,
        xw: Tensor,
        h0: Tensor,
        c0: Tensor,
        w_h: Tensor,
        index: Tensor | None = None,
        pool: WorkspacePool | None = None,
    ) -> tuple[Tensor, Tensor]:
        hidden = w_h.shape[0]
        dtype, device = w_h.dtype, w_h.device
        with torch.autocast(device.type, enabled=False):
            steps, batch = index.shape if index is not None else xw.shape[:2]
            ws = (
                pool.take(steps, batch, hidden, dtype, device)
                if pool
                else Workspace(steps, batch, hidden, dtype, device)
            )
            if index is None:
                ws.gates.copy_(xw)
            else:
                torch.index_select(xw.to(dtype), 0, index.reshape(-1), out=ws.gates.view(-1, 4 * hidden))
            ws.hs[0].copy_(h0)
            ws.cs[0].copy_(c0)
            _forward_steps(ws, w_h)
        ctx.save_for_backward(ws.gates, ws.hs, ws.cs, ws.tanh_c, w_h, *(() if index is None else (index,)))
        ctx.ws, ctx.pool = ws, pool
        ctx.table_shape = None if index is None else xw.shape
        ctx.xw_dtype = xw.dtype
        return ws.hs[1:], ws.cs[steps].clone()

    @staticmethod
    def backward(ctx: Any, d_hs: Tensor, d_c_last: Tensor) -> tuple[Tensor | None, ...]:  # noqa: D102
        _gates, hs, _cs, _tanh_c, w_h, *rest = ctx.saved_tensors  # checks nothing was overwritten
        ws = ctx.ws
        dtype = w_h.dtype
        need_xw, need_h0, need_c0, need_w = ctx.needs_input_grad[:4]
        with torch.autocast(w_h.device.type, enabled=False):
            ws.ensure_backward()
            _backward_factors(ws)
            d_h_steps = d_hs.to(dtype).unbind(0)
            d_h0 = _backward_steps(ws, w_h, d_h_steps, d_c_last.to(dtype), need_h0)
            d_c0 = ws.carry_t[0].clone() if need_c0 else None
            d_w_h = hs[:-1].reshape(-1, ws.hidden).t() @ ws.d_z4_all() if need_w else None
            d_xw = _input_gradient(ctx, ws, rest) if need_xw else None
        if ctx.pool is not None:
            ctx.pool.give(ws)
        return d_xw, d_h0, d_c0, d_w_h, None, None


def _forward_steps(ws: Workspace, w_h: Tensor) -> None:
    """The recurrence, seven in-place operations a step into the workspace's buffers."""
    z_t, sig_t, o_t, i_t, f_t, ct_t = ws.z_t, ws.sig_t, ws.o_t, ws.i_t, ws.f_t, ws.ct_t
    h_t, c_t, tc_t = ws.h_t, ws.c_t, ws.tc_t
    for t in range(ws.steps):
        z_t[t].addmm_(h_t[t], w_h)  # Z = (X W_x + b) + H W_h, in place: no copy
        sig_t[t].sigmoid_()  # O, I, F (one contiguous block)
        ct_t[t].tanh_()  # C~
        torch.mul(f_t[t], c_t[t], out=c_t[t + 1])  # C = F*C
        c_t[t + 1].addcmul_(i_t[t], ct_t[t])  #     + I*C~
        torch.tanh(c_t[t + 1], out=tc_t[t])
        torch.mul(o_t[t], tc_t[t], out=h_t[t + 1])  # H = O*tanh(C)


def _backward_factors(ws: Workspace) -> None:
    """``p = [tanh(C) O(1-O) | C~ I(1-I) | C_prev F(1-F) | I(1-C~^2) | F]`` and ``k = O(1-tanh(C)^2)``
    for every step at once (eight whole-sequence operations)."""
    H = ws.hidden
    g = ws.gates.view(ws.steps, ws.batch, 4, H)
    O, I, F, C_tilda = g.unbind(2)
    p = ws.p
    S = g[:, :, :3]  # [O | I | F]
    torch.addcmul(S, S, S, value=-1, out=p[:, :, :3])  # sigmoid' = S - S^2
    p[:, :, 0].mul_(ws.tanh_c)
    p[:, :, 1].mul_(C_tilda)
    p[:, :, 2].mul_(ws.cs[:-1])
    p_c = p[:, :, 3]
    torch.mul(C_tilda, C_tilda, out=p_c)
    torch.addcmul(I, I, p_c, value=-1, out=p_c)  # I - I*C~^2
    p[:, :, 4].copy_(F)
    torch.addcmul(O, ws.hs[1:], ws.tanh_c, value=-1, out=ws.k)  # O - H*tanh(C) = O(1 - tanh(C)^2)


def _backward_steps(
    ws: Workspace, w_h: Tensor, d_hs: tuple[Tensor, ...], d_c_last: Tensor, need_h0: bool
) -> Tensor | None:
    """Walk the steps backwards filling ``ws.d_z``; returns dH_0 (or None)."""
    d_c, d_c3 = ws.d_c.squeeze(1), ws.d_c
    k_t, p_o_t, p_ifcf_t = ws.k_t, ws.p_o_t, ws.p_ifcf_t
    d_z4_t, d_zo_t, d_zifcf_t, carry_t = ws.d_z4_t, ws.d_zo_t, ws.d_zifcf_t, ws.carry_t
    w_h_t = w_h.t().contiguous()  # (4H, H): a contiguous copy makes the per-step matmul faster
    d_h = d_hs[-1]  # dH of the last step: only what came from outside
    carry = d_c_last
    for t in range(ws.steps - 1, 0, -1):
        torch.addcmul(carry, d_h, k_t[t], out=d_c)  # dC at step t
        torch.mul(p_ifcf_t[t], d_c3, out=d_zifcf_t[t])  # dZ_i, dZ_f, dZ_c and dC*F, at once
        torch.mul(p_o_t[t], d_h, out=d_zo_t[t])  # dZ_o uses dH
        carry = carry_t[t]
        d_h = torch.addmm(d_hs[t - 1], d_z4_t[t], w_h_t, out=ws.d_h)  # dH_{t-1} (+ its gradient from outside)
    torch.addcmul(carry, d_h, k_t[0], out=d_c)
    torch.mul(p_ifcf_t[0], d_c3, out=d_zifcf_t[0])
    torch.mul(p_o_t[0], d_h, out=d_zo_t[0])
    return d_z4_t[0] @ w_h_t if need_h0 else None


def _input_gradient(ctx: Any, ws: Workspace, rest: list[Tensor]) -> Tensor:
    """The gradient of ``xw``: dZ of every step, or for a row table the rows' sums of it."""
    d_z = ws.d_z4_all()
    if ctx.table_shape is None:
        d_xw = d_z.reshape(ws.steps, ws.batch, -1).clone(memory_format=torch.contiguous_format)
    else:  # each row gets the sum of the dZ of the steps that picked it
        index, rows = rest[0].reshape(-1), ctx.table_shape[0]
        if rows <= ONE_HOT_MAX_ROWS:  # one_hot(index)^T @ dZ: for characters, twice as fast as index_add_
            d_xw = F_.one_hot(index, rows).to(d_z.dtype).t() @ d_z
        else:  # a word vocabulary: the one-hot matmul would be ~25x slower than adding rows
            d_xw = d_z.new_zeros(rows, d_z.shape[1]).index_add_(0, index, d_z)
    return d_xw.to(ctx.xw_dtype)


def _not_compiled(fn: _F) -> _F:
    """``torch.compiler.disable`` with its type stated (unannotated in torch, it would leave ``fn`` untyped)."""
    return cast(_F, torch.compiler.disable(fn))  # type: ignore[no-untyped-call]  # torch leaves it unannotated


def fused_lstm_layer(
    inputs: Tensor, h0: Tensor, c0: Tensor, W_x: Tensor, W_h: Tensor, b: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Run one LSTM layer over a sequence; returns ``(H_all (steps, batch, H), H_last, C_last)``.

    ``inputs`` are token indices ``(steps, batch)`` for layer 0 (one-hot rows: ``X W_x + b``
    is the row ``(W_x + b)[X]``, picked inside the Function) or the previous layer's outputs
    ``(steps, batch, in)``. ``W_x (in, 4H)``, ``W_h (H, 4H)`` and ``b (4H)`` hold the gate
    blocks in :data:`GATE_ORDER`. When the result will be differentiated, the buffers come
    from :data:`WORKSPACES` (``H_all`` then stays valid until the next such forward after
    its backward; ``H_last`` and ``C_last`` are copies, safe to keep as the state).
    """
    return _LAYER[0](inputs, h0, c0, W_x, W_h, b)


def prepare_for_compile() -> None:
    """Call before ``torch.compile``: dynamo must not trace the hand-written kernel sequence (its
    buffers are reused), so the layer becomes ``torch.compiler.disable``'d. Only then, because that
    imports ``torch._dynamo`` (~1.5 s), which a run that does not compile never needs."""
    _LAYER[0] = _not_compiled(_layer)


def _layer(
    inputs: Tensor, h0: Tensor, c0: Tensor, W_x: Tensor, W_h: Tensor, b: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    index = None
    if inputs.dtype in (torch.int64, torch.int32):
        xw = W_x + b  # (vocab, 4H): one-hot X @ W_x + b is a row of it
        index = inputs.long()
    else:
        steps, batch, width = inputs.shape
        xw = torch.addmm(b, inputs.reshape(steps * batch, width), W_x).view(steps, batch, -1)
    grad = torch.is_grad_enabled() and any(t.requires_grad for t in (xw, h0, c0, W_h))
    pool = WORKSPACES if grad else None
    device_type = xw.device.type
    if _autocast_on(device_type):
        with torch.autocast(device_type, enabled=False):
            dtype = W_h.dtype
            outputs, c_last = LSTMSequence.apply(xw.to(dtype), h0.to(dtype), c0.to(dtype), W_h, index, pool)  # type: ignore[no-untyped-call]  # Function.apply is unannotated in torch
    else:
        outputs, c_last = LSTMSequence.apply(xw, h0, c0, W_h, index, pool)  # type: ignore[no-untyped-call]  # Function.apply is unannotated in torch
    return outputs, outputs[-1].clone(), c_last


#: What :func:`fused_lstm_layer` calls: :func:`_layer`, or its dynamo-disabled twin after
#: :func:`prepare_for_compile`.
_LAYER: list[Callable[..., tuple[Tensor, Tensor, Tensor]]] = [_layer]


def _autocast_on(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except (TypeError, RuntimeError):  # a device type autocast does not know
        return False
