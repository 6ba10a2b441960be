"""The SGD update without ``torch.optim``: the same arithmetic, state and checkpoint format.

Every method of ``torch.optim.Optimizer`` (building it, its step, ``zero_grad``,
``state_dict``) imports ``torch._dynamo`` on first use, ~1.3 s on a 2-core machine before a
run's first batch even when nothing is compiled. :class:`SGD` is the book's plain update (with
the momentum and weight-decay knobs) done with the same foreach kernels as
``torch.optim.SGD(foreach=True)``, bit for bit (tested), and a ``state_dict`` that either
loads: checkpoints written before it (by ``torch.optim.SGD``) resume unchanged. Adam stays
``torch.optim.Adam``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import torch

#: Group settings ``torch.optim.SGD`` keeps beside lr, momentum and weight_decay; kept (at these
#: values, the only ones this update implements) so a checkpoint has the same keys either way.
_FIXED = {"dampening": 0, "nesterov": False, "maximize": False, "differentiable": False, "fused": None}


class SGD:
    """``torch.optim.SGD(params, lr, momentum, weight_decay, foreach=True)``'s update and state.

    The attributes the trainer uses are torch's: ``param_groups`` (one group: its ``lr``,
    ``momentum`` and ``weight_decay`` may change between steps), ``state`` (a parameter's
    ``momentum_buffer`` once momentum is on), ``defaults``."""

    def __init__(
        self, params: Iterable[torch.Tensor], lr: float, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> None:
        self.defaults: dict[str, Any] = {
            "lr": lr,
            "momentum": momentum,
            "weight_decay": weight_decay,
            **_FIXED,
            "foreach": True,
        }
        group = {"params": list(params), **self.defaults}
        if not group["params"]:
            raise ValueError("optimizer got an empty parameter list")
        self.param_groups: list[dict[str, Any]] = [group]
        self.state: defaultdict[torch.Tensor, dict[str, Any]] = defaultdict(dict)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for param in self.param_groups[0]["params"]:
            if param.grad is None:
                continue
            if set_to_none:
                param.grad = None
            else:
                param.grad.detach_().zero_()

    @torch.no_grad()
    def step(self) -> None:
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads: list[torch.Tensor] = [p.grad for p in params]
            if group["weight_decay"] != 0:
                grads = list(torch._foreach_add(grads, params, alpha=group["weight_decay"]))
            if group["momentum"] != 0:
                grads = self._momentum(params, grads, group["momentum"])
            torch._foreach_add_(params, grads, alpha=-group["lr"])

    def _momentum(self, params: list[torch.Tensor], grads: list[torch.Tensor], momentum: float) -> list[torch.Tensor]:
        """The momentum buffers after this step's gradients (a first step's: a copy of them)."""
        buffers = [self.state[p].get("momentum_buffer") for p in params]
        if any(buffer is None for buffer in buffers):
            for index, (param, buffer) in enumerate(zip(params, buffers, strict=True)):
                if buffer is None:
                    buffer = torch.clone(grads[index]).detach()
                else:
                    buffer.mul_(momentum).add_(grads[index])
                self.state[param]["momentum_buffer"] = buffers[index] = buffer
        else:
            torch._foreach_mul_(buffers, momentum)  # type: ignore[arg-type]
            torch._foreach_add_(buffers, grads)  # type: ignore[arg-type]
        return buffers  # type: ignore[return-value]

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """torch's format: ``state`` by parameter index, ``param_groups`` with indices."""
        index = {id(p): i for i, p in enumerate(self.param_groups[0]["params"])}
        groups = [
            {**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
            for g in self.param_groups
        ]
        state = {index[id(p)]: dict(values) for p, values in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Loads this class's or ``torch.optim.SGD``'s ``state_dict`` (tensors moved to each
        parameter's device and dtype, copied); the groups' settings come from it, as torch does."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups) or any(
            len(s["params"]) != len(g["params"]) for s, g in zip(saved_groups, self.param_groups, strict=True)
        ):
            raise ValueError("loaded state dict does not fit this optimizer's parameters")
        by_index: dict[int, torch.Tensor] = {}
        for saved, group in zip(saved_groups, self.param_groups, strict=True):
            by_index.update(zip(saved["params"], group["params"], strict=True))
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = defaultdict(dict)
        for key, values in state_dict["state"].items():
            param = by_index[key]
            self.state[param] = {
                name: value.to(param.device, param.dtype, copy=True) if isinstance(value, torch.Tensor) else value
                for name, value in values.items()
            }


#: What the trainer's optimizer is: this SGD, or torch's Adam.
Optimizer = SGD | torch.optim.Optimizer
