"""The whole training step (forward, backward, clipping, update) replayed from a CUDA graph.

On a GPU the book's config is launch-bound: a few hundred small kernels per batch, each a few
microseconds of work and about as much CPU time to launch. Captured once in a CUDA graph, the
step is one launch. What capture needs, :class:`StaticStep` provides:

* static buffers: every batch is copied into the same ``X``, ``Y`` and state tensors the graph
  was captured with, and the loss and the new state come out of the same output tensors
  (copied out, so the caller can keep them);
* warm-up before capture (on a side stream, as CUDA graphs require), with the weights and the
  optimizer state put back afterwards: the warm-up steps must not train;
* no host synchronisation inside the step: the loss stays on the device, clipping uses the
  foreach kernels and no ``.item()`` (see :mod:`.step`);
* the fused LSTM's reusable buffers are kept by the graph (it replays into them), so they are
  taken out of the shared pool.

``capture=False`` (``--no-graphs``, or any device but CUDA) runs the same static-buffer path
eagerly, which is how it is tested on CPU. A batch of another shape (never with the book's
iterators) is captured again.
"""

from __future__ import annotations

from typing import Any

import torch

from ..models.base import State
from ..models.fused_lstm import WORKSPACES
from .sgd import Optimizer
from .step import Step

WARMUP_STEPS = 3


class StaticStep:
    """``step(X, Y, state) -> (loss, state)`` through static buffers, replayed from a CUDA graph."""

    def __init__(
        self,
        step: Step,
        model: torch.nn.Module,
        optimizer: Optimizer,
        device: torch.device,
        capture: bool = True,
        restore: tuple[torch.Tensor, ...] = (),
    ):
        """``restore``: more tensors the step updates in place (the gradient totals), put back
        after the warm-up like the weights."""
        self._step, self._model, self._optimizer = step, model, optimizer
        self._restore_too = tuple(restore)
        self.capture = bool(capture) and device.type == "cuda"
        self._key: tuple[Any, ...] | None = None
        self._graph: torch.cuda.CUDAGraph | None = None
        self._kept: list[Any] = []
        self.captures = 0

    def __call__(self, X: torch.Tensor, Y: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        key = (tuple(X.shape), tuple(Y.shape), tuple(tuple(s.shape) for s in state))
        if key != self._key:
            self._prepare(X, Y, state, key)
        with torch.no_grad():  # the state comes in cut from its history (truncated BPTT)
            self._X.copy_(X)
            self._Y.copy_(Y)
            for buffer, value in zip(self._state_in, state):
                buffer.copy_(value)
        if self._graph is not None:
            self._graph.replay()
        else:
            self._loss, self._state_out = self._step(self._X, self._Y, self._state_in)
        return self._loss.clone(), tuple(s.detach().clone() for s in self._state_out)

    def invalidate(self) -> None:
        """Capture again at the next call: the step's settings (learning rate, clipping) are
        baked into a captured graph, so a live knob change needs a new one."""
        self._key = None

    def _prepare(self, X: torch.Tensor, Y: torch.Tensor, state: State, key: tuple[Any, ...]) -> None:
        self._key = key
        self._X, self._Y = X.clone(), Y.clone()
        self._state_in = tuple(s.detach().clone() for s in state)
        self._graph = None
        if self.capture:
            self._capture()

    def _capture(self) -> None:
        saved_model = {k: v.detach().clone() for k, v in self._model.state_dict().items()}
        saved_optimizer = _optimizer_tensors(self._optimizer)
        saved_extra = [t.detach().clone() for t in self._restore_too]
        side = torch.cuda.Stream()  # type: ignore[no-untyped-call]
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(WARMUP_STEPS):
                self._step(self._X, self._Y, self._state_in)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._loss, self._state_out = self._step(self._X, self._Y, self._state_in)
        self._kept += WORKSPACES.drain()  # the graph replays into these buffers: nobody else may take them
        _restore(self._model, self._optimizer, saved_model, saved_optimizer)
        with torch.no_grad():
            for tensor, saved in zip(self._restore_too, saved_extra):
                tensor.copy_(saved)
        self._graph = graph
        self.captures += 1


def _optimizer_tensors(optimizer: Optimizer) -> dict[tuple[int, str], torch.Tensor]:
    """Copies of the optimizer's state tensors, by (parameter id, key)."""
    return {
        (id(p), k): v.detach().clone()
        for p, state in optimizer.state.items()
        for k, v in state.items()
        if isinstance(v, torch.Tensor)
    }


def _restore(
    model: torch.nn.Module,
    optimizer: Optimizer,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict[tuple[int, str], torch.Tensor],
) -> None:
    """Put back the weights and optimizer state in place (the graph holds their addresses).

    State the warm-up created (Adam's moments and step count on its first steps) goes back to
    zero, which is what a fresh optimizer starts from.
    """
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            tensor.copy_(model_state[name])
        for p, state in optimizer.state.items():
            for k, v in state.items():
                if isinstance(v, torch.Tensor):
                    saved = optimizer_state.get((id(p), k))
                    v.copy_(saved) if saved is not None else v.zero_()
