"""The book's code path (d2l, chapter "Long Short-Term Memory"), rewritten for the benchmark.

This module is the *reference* that ``bench/throughput.py`` measures the project's engine
against, in the same process, on the same data, config, seed and initial weights. It follows
the semantics of the book's code on purpose, including the parts that make it slow:

* inputs are one-hot floats, ``F.one_hot(X.T, vocab).float()``, made every minibatch;
* the scratch LSTM keeps four separate gate matmul pairs (``X @ W_xi + H @ W_hi + b_i`` ...)
  inside a Python loop over time steps, with the output layer applied at every step and the
  outputs concatenated;
* the concise / deep / bidirectional models wrap ``nn.LSTM`` like d2l's ``RNNModel``: one-hot
  floats in, a ``Linear`` over ``Y.reshape(-1, Y.shape[-1])`` out;
* gradient clipping computes ``norm = sqrt(sum(sum(g ** 2)))`` and tests ``if norm > theta``
  on the host (a device sync every minibatch) before scaling the gradients;
* the loss is read back to the host every minibatch (``l * y.numel()`` added to an
  ``Accumulator`` of Python floats);
* the scratch model is updated with d2l's ``sgd`` (``param -= lr * grad / batch_size`` with
  ``batch_size=1`` because the loss is already a mean, then ``grad.zero_()``), ``nn.Module``
  models with ``torch.optim.SGD``;
* minibatches come from the book's sequential (or random) partitioning, drawing the random
  offset from a passed ``random.Random`` exactly where the book calls ``random``.

Nothing here is imported by the project; only the benchmark and its test use it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "Accumulator",
    "RNNModel",
    "RNNModelScratch",
    "build_reference",
    "get_lstm_params",
    "grad_clipping",
    "init_lstm_state",
    "lstm",
    "predict_ch8",
    "scratch_params_from_project",
    "seq_data_iter_random",
    "seq_data_iter_sequential",
    "sgd",
    "train_epoch_ch8",
]


# --------------------------------------------------------------------------- data
def seq_data_iter_random(corpus: Sequence[int], batch_size: int, num_steps: int, rng: random.Random):
    """Random partitioning: a random start offset below ``num_steps``, shuffled subsequences."""
    corpus = corpus[rng.randint(0, num_steps - 1) :]
    num_subseqs = (len(corpus) - 1) // num_steps
    starts = list(range(0, num_subseqs * num_steps, num_steps))
    rng.shuffle(starts)
    num_batches = num_subseqs // batch_size
    for i in range(0, batch_size * num_batches, batch_size):
        chosen = starts[i : i + batch_size]
        X = [corpus[j : j + num_steps] for j in chosen]
        Y = [corpus[j + 1 : j + 1 + num_steps] for j in chosen]
        yield torch.tensor(X), torch.tensor(Y)


def seq_data_iter_sequential(corpus: Sequence[int], batch_size: int, num_steps: int, rng: random.Random):
    """Sequential partitioning: a random offset in ``[0, num_steps]``, then adjacent windows."""
    offset = rng.randint(0, num_steps)
    num_tokens = ((len(corpus) - offset - 1) // batch_size) * batch_size
    Xs = torch.tensor(corpus[offset : offset + num_tokens]).reshape(batch_size, -1)
    Ys = torch.tensor(corpus[offset + 1 : offset + 1 + num_tokens]).reshape(batch_size, -1)
    num_batches = Xs.shape[1] // num_steps
    for i in range(0, num_steps * num_batches, num_steps):
        yield Xs[:, i : i + num_steps], Ys[:, i : i + num_steps]


class BookLoader:
    """d2l's ``SeqDataLoader``: each ``iter()`` is one epoch's pass with a fresh offset."""

    def __init__(
        self, corpus: Sequence[int], batch_size: int, num_steps: int, rng: random.Random, use_random_iter: bool = False
    ):
        self.corpus = list(corpus)  # the book keeps the corpus as a Python list of indices
        self.batch_size, self.num_steps, self.rng = batch_size, num_steps, rng
        self.fn = seq_data_iter_random if use_random_iter else seq_data_iter_sequential

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.fn(self.corpus, self.batch_size, self.num_steps, self.rng)


# --------------------------------------------------------------------------- helpers
class Accumulator:
    """Sums ``n`` Python floats (every ``add`` converts its arguments: a host read-back)."""

    def __init__(self, n: int):
        self.data = [0.0] * n

    def add(self, *args) -> None:
        self.data = [a + _to_float(b) for a, b in zip(self.data, args)]

    def __getitem__(self, idx: int) -> float:
        return self.data[idx]


def _to_float(value) -> float:
    # float(tensor) copies to the host and waits for the device, as the book's code does;
    # detach() only avoids torch's warning about converting a tensor that requires grad.
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


class Timer:
    def __init__(self):
        self.tik = time.perf_counter()

    def stop(self) -> float:
        return time.perf_counter() - self.tik


def sgd(params: Sequence[torch.Tensor], lr: float, batch_size: int) -> None:
    """Minibatch SGD, d2l's ``sgd``: update in place, then zero the gradient."""
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


def grad_clipping(net, theta: float) -> None:
    """d2l's clipping: the global norm summed in Python, compared on the host."""
    params = [p for p in net.parameters() if p.requires_grad] if isinstance(net, nn.Module) else net.params
    norm = torch.sqrt(sum(torch.sum(p.grad**2) for p in params))
    if norm > theta:  # bool(tensor): waits for the device
        for param in params:
            param.grad[:] *= theta / norm


# --------------------------------------------------------------------------- scratch LSTM
def get_lstm_params(vocab_size: int, num_hiddens: int, device) -> list[torch.Tensor]:
    """d2l's initialisation: N(0, 0.01^2) weights, zero biases, 14 separate tensors."""
    num_inputs = num_outputs = vocab_size

    def normal(shape):
        return torch.randn(size=shape, device=device) * 0.01

    def three():
        return (
            normal((num_inputs, num_hiddens)),
            normal((num_hiddens, num_hiddens)),
            torch.zeros(num_hiddens, device=device),
        )

    W_xi, W_hi, b_i = three()
    W_xf, W_hf, b_f = three()
    W_xo, W_ho, b_o = three()
    W_xc, W_hc, b_c = three()
    W_hq = normal((num_hiddens, num_outputs))
    b_q = torch.zeros(num_outputs, device=device)
    params = [W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c, W_hq, b_q]
    for param in params:
        param.requires_grad_(True)
    return params


def init_lstm_state(batch_size: int, num_hiddens: int, device):
    return (
        torch.zeros((batch_size, num_hiddens), device=device),
        torch.zeros((batch_size, num_hiddens), device=device),
    )


def lstm(inputs: torch.Tensor, state, params):
    """The gate equations, one time step at a time (``inputs``: steps x batch x vocab)."""
    [W_xi, W_hi, b_i, W_xf, W_hf, b_f, W_xo, W_ho, b_o, W_xc, W_hc, b_c, W_hq, b_q] = params
    (H, C) = state
    outputs = []
    for X in inputs:
        I = torch.sigmoid((X @ W_xi) + (H @ W_hi) + b_i)
        F_ = torch.sigmoid((X @ W_xf) + (H @ W_hf) + b_f)
        O = torch.sigmoid((X @ W_xo) + (H @ W_ho) + b_o)
        C_tilda = torch.tanh((X @ W_xc) + (H @ W_hc) + b_c)
        C = F_ * C + I * C_tilda
        H = O * torch.tanh(C)
        Y = (H @ W_hq) + b_q
        outputs.append(Y)
    return torch.cat(outputs, dim=0), (H, C)


class RNNModelScratch:
    """d2l's ``RNNModelScratch``: one-hot inputs, a forward function over a parameter list."""

    def __init__(
        self,
        vocab_size: int,
        num_hiddens: int,
        device,
        get_params,
        init_state,
        forward_fn,
        params: list[torch.Tensor] | None = None,
    ):
        self.vocab_size, self.num_hiddens = vocab_size, num_hiddens
        self.params = params if params is not None else get_params(vocab_size, num_hiddens, device)
        self.init_state, self.forward_fn = init_state, forward_fn

    def __call__(self, X: torch.Tensor, state):
        X = F.one_hot(X.T, self.vocab_size).type(torch.float32)
        return self.forward_fn(X, state, self.params)

    def begin_state(self, batch_size: int, device):
        return self.init_state(batch_size, self.num_hiddens, device)


# --------------------------------------------------------------------------- concise (nn.LSTM)
class RNNModel(nn.Module):
    """d2l's ``RNNModel``: an ``nn.LSTM`` fed one-hot floats and a ``Linear`` on every output."""

    def __init__(self, rnn_layer: nn.LSTM, vocab_size: int):
        super().__init__()
        self.rnn = rnn_layer
        self.vocab_size = vocab_size
        self.num_hiddens = self.rnn.hidden_size
        self.num_directions = 2 if self.rnn.bidirectional else 1
        self.linear = nn.Linear(self.num_hiddens * self.num_directions, self.vocab_size)

    def forward(self, inputs: torch.Tensor, state):
        X = F.one_hot(inputs.T.long(), self.vocab_size).to(torch.float32)
        Y, state = self.rnn(X, state)
        output = self.linear(Y.reshape((-1, Y.shape[-1])))
        return output, state

    def begin_state(self, device, batch_size: int = 1):
        shape = (self.num_directions * self.rnn.num_layers, batch_size, self.num_hiddens)
        return (torch.zeros(shape, device=device), torch.zeros(shape, device=device))


# --------------------------------------------------------------------------- training
def train_epoch_ch8(net, train_iter, loss, updater, device, use_random_iter: bool, theta: float = 1.0):
    """One epoch of d2l's ``train_epoch_ch8``.

    Returns ``(perplexity, tokens_per_s, tokens, seconds)``; the book returns the first two.
    """
    state, timer = None, Timer()
    metric = Accumulator(2)
    for X, Y in train_iter:
        if state is None or use_random_iter:
            state = _begin_state(net, X.shape[0], device)
        else:
            if isinstance(net, nn.Module) and not isinstance(state, tuple):
                state.detach_()
            else:
                for s in state:
                    s.detach_()
        y = Y.T.reshape(-1)
        X, y = X.to(device), y.to(device)
        y_hat, state = net(X, state)
        l = loss(y_hat, y.long()).mean()
        if isinstance(updater, torch.optim.Optimizer):
            updater.zero_grad()
            l.backward()
            if theta > 0:
                grad_clipping(net, theta)
            updater.step()
        else:
            l.backward()
            if theta > 0:
                grad_clipping(net, theta)
            updater(batch_size=1)
        metric.add(l * y.numel(), y.numel())
    seconds = timer.stop()
    return math.exp(metric[0] / metric[1]), metric[1] / seconds, metric[1], seconds


def _begin_state(net, batch_size: int, device):
    if isinstance(net, nn.Module):
        return net.begin_state(device=device, batch_size=batch_size)
    return net.begin_state(batch_size=batch_size, device=device)


def predict_ch8(prefix: str, num_preds: int, net, vocab, device) -> str:
    """Greedy generation after ``prefix`` (d2l's ``predict_ch8``)."""
    state = _begin_state(net, 1, device)
    outputs = [vocab[prefix[0]]]

    def get_input():
        return torch.tensor([outputs[-1]], device=device).reshape((1, 1))

    for y in prefix[1:]:
        _, state = net(get_input(), state)
        outputs.append(vocab[y])
    for _ in range(num_preds):
        y, state = net(get_input(), state)
        outputs.append(int(y.argmax(dim=1).reshape(1)))
    return "".join(vocab.idx_to_token[i] for i in outputs)


class Reference:
    """A model built the book's way plus its updater: ``epoch(loader)`` trains one epoch."""

    def __init__(self, net, updater, device, theta: float, use_random_iter: bool):
        self.net, self.updater, self.device = net, updater, device
        self.theta, self.use_random_iter = theta, use_random_iter
        self.loss = nn.CrossEntropyLoss()

    def epoch(self, loader) -> tuple[float, float, float, float]:
        return train_epoch_ch8(self.net, loader, self.loss, self.updater, self.device, self.use_random_iter, self.theta)


# --------------------------------------------------------------------------- weights from the project
_GATES = ("i", "f", "o", "c")


def scratch_params_from_project(model: nn.Module) -> list[torch.Tensor]:
    """The project's scratch LSTM weights as d2l's 14 tensors ``[W_xi, W_hi, b_i, ..., W_hq, b_q]``.

    Accepts either the book's separate layout (``W_xi`` ... named in the state dict) or a fused
    layout (one input matrix ``(vocab, 4*hidden)``, one hidden matrix ``(hidden, 4*hidden)``,
    one bias ``(4*hidden,)``, gates stacked in the order the model declares in ``GATE_ORDER``,
    defaulting to d2l's i, f, o, c). The result is fresh float32 leaf tensors on the CPU.
    """
    state = {k.split(".")[-1]: v.detach().float().cpu().clone() for k, v in model.state_dict().items()}
    if all(f"W_x{g}" in state for g in _GATES):
        names = [f"{p}{g}" for g in _GATES for p in ("W_x", "W_h", "b_")] + ["W_hq", "b_q"]
        params = [state[n] for n in names]
    else:
        params = _split_fused(model, state)
    return [p.contiguous().requires_grad_(True) for p in params]


def _split_fused(model: nn.Module, state: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    hidden = int(model.hidden)
    vocab = int(model.vocab_size)
    order = tuple(getattr(model, "GATE_ORDER", None) or getattr(type(model), "GATE_ORDER", None) or _GATES)
    Wx = Wh = b = Wq = bq = None
    for t in state.values():
        if t.dim() == 2 and t.shape == (vocab, 4 * hidden):
            Wx = t
        elif t.dim() == 2 and t.shape == (4 * hidden, vocab):
            Wx = t.T
        elif t.dim() == 2 and t.shape == (hidden, 4 * hidden):
            Wh = t
        elif t.dim() == 2 and t.shape == (4 * hidden, hidden):
            Wh = t.T
        elif t.dim() == 1 and t.shape == (4 * hidden,):
            b = t
        elif t.dim() == 2 and t.shape == (hidden, vocab):
            Wq = t
        elif t.dim() == 2 and t.shape == (vocab, hidden):
            Wq = t.T
        elif t.dim() == 1 and t.shape == (vocab,):
            bq = t
    if any(x is None for x in (Wx, Wh, b, Wq, bq)):
        raise ValueError(f"cannot map the project's scratch LSTM state dict: {sorted(state)}")
    parts: dict[str, list[torch.Tensor]] = {}
    for k, g in enumerate(order):
        sl = slice(k * hidden, (k + 1) * hidden)
        parts[g] = [Wx[:, sl], Wh[:, sl], b[sl]]
    return [t for g in _GATES for t in parts[g]] + [Wq, bq]


def _project_torch_state(model: nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Split a project nn.LSTM model's state dict into nn.LSTM weights and the output layer."""
    rnn, head = {}, {}
    for key, value in model.state_dict().items():
        leaf = key.split(".")[-1]
        if leaf.startswith(("weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l")):
            rnn[leaf] = value.detach().clone()
        elif leaf in ("weight", "bias") and value.shape[0] == model.vocab_size:
            head[leaf] = value.detach().clone()
    return rnn, head


def build_reference(config, vocab_size: int, device, init_from: nn.Module | None = None) -> Reference:
    """The book's model and updater for ``config`` (a ``RunConfig``), weights from ``init_from``.

    ``config.impl == "scratch"``: ``RNNModelScratch`` over d2l's ``lstm`` with ``sgd``.
    ``config.impl == "torch"``: ``RNNModel(nn.LSTM(...))`` with ``torch.optim.SGD``.
    With ``init_from`` (the project's model, before training) both start from the same weights.
    """
    device = torch.device(device)
    use_random_iter = config.sampling == "random"
    if config.cell != "lstm":
        raise ValueError("the reference implements the LSTM chapter only (cell=lstm)")
    if config.impl == "scratch":
        if config.layers != 1:
            raise ValueError("the book's scratch LSTM has one layer")
        if init_from is not None:
            params = [p.detach().to(device).requires_grad_(True) for p in scratch_params_from_project(init_from)]
        else:
            params = get_lstm_params(vocab_size, config.hidden, device)
        net = RNNModelScratch(vocab_size, config.hidden, device, get_lstm_params, init_lstm_state, lstm, params)
        lr = config.lr

        def updater(batch_size):
            sgd(net.params, lr, batch_size)

        return Reference(net, updater, device, config.clip, use_random_iter)
    layer = nn.LSTM(vocab_size, config.hidden, config.layers, bidirectional=config.bidirectional)
    net = RNNModel(layer, vocab_size)
    if init_from is not None:
        rnn_state, head_state = _project_torch_state(init_from)
        net.rnn.load_state_dict(rnn_state)
        net.linear.load_state_dict(head_state)
    net = net.to(device)
    return Reference(net, torch.optim.SGD(net.parameters(), config.lr), device, config.clip, use_random_iter)


def train_reference(
    ref: Reference,
    corpus: Sequence[int],
    config,
    rng: random.Random,
    epochs: int,
    on_epoch: Callable[[int, float, float, float], None] | None = None,
) -> list[dict]:
    """Train ``epochs`` epochs the book's way; returns one record per epoch."""
    loader = BookLoader(corpus, config.batch_size, config.num_steps, rng, config.sampling == "random")
    records, elapsed = [], 0.0
    for epoch in range(1, epochs + 1):
        ppl, speed, tokens, seconds = ref.epoch(loader)
        elapsed += seconds
        records.append(
            {
                "epoch": epoch,
                "perplexity": ppl,
                "tokens_per_s": speed,
                "tokens": tokens,
                "seconds": seconds,
                "elapsed_s": elapsed,
            }
        )
        if on_epoch is not None:
            on_epoch(epoch, ppl, speed, elapsed)
    return records
