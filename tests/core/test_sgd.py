"""Our SGD (core/engine/sgd.py) against torch.optim.SGD: same weights bit for bit, state dicts
that load either way, and no torch._dynamo import on the way to the first batch."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from lstm_tui.core.engine.sgd import SGD


def _model(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3))


def _train(model: torch.nn.Module, optimizer, steps: int, lr_at: dict[int, float] | None = None) -> None:
    generator = torch.Generator().manual_seed(1)
    for index in range(steps):
        for group in optimizer.param_groups:  # (a live knob, as the trainer sets it)
            if lr_at and index in lr_at:
                group["lr"] = lr_at[index]
        X = torch.randn(4, 5, generator=generator)
        loss = model(X).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


@pytest.mark.parametrize(("momentum", "weight_decay"), [(0.0, 0.0), (0.9, 0.0), (0.0, 0.01), (0.5, 0.1)])
def test_same_update_as_torch_sgd_bit_for_bit(momentum: float, weight_decay: float) -> None:
    ours, theirs = _model(), _model()
    _train(ours, SGD(ours.parameters(), lr=0.3, momentum=momentum, weight_decay=weight_decay), 12, {6: 0.05})
    reference = torch.optim.SGD(theirs.parameters(), lr=0.3, momentum=momentum, weight_decay=weight_decay, foreach=True)
    _train(theirs, reference, 12, {6: 0.05})
    assert _same_weights(ours, theirs)
    assert not _same_weights(ours, _model())  # (it did train)


def test_state_dicts_load_either_way_and_continue_alike() -> None:
    """A checkpoint written by torch.optim.SGD (every run before ours) resumes with ours, and
    ours has torch's format (same keys, same buffers)."""
    first, second = _model(), _model()
    reference = torch.optim.SGD(first.parameters(), lr=0.2, momentum=0.9, foreach=True)
    _train(first, reference, 5)
    saved = reference.state_dict()
    second.load_state_dict(first.state_dict())
    ours = SGD(second.parameters(), lr=0.2, momentum=0.9)
    ours.load_state_dict(saved)
    mine = ours.state_dict()
    assert mine["param_groups"][0].keys() == saved["param_groups"][0].keys()
    assert mine["state"].keys() == saved["state"].keys()
    assert all(
        torch.equal(mine["state"][i]["momentum_buffer"], saved["state"][i]["momentum_buffer"]) for i in saved["state"]
    )
    _train(first, reference, 4)
    _train(second, ours, 4)
    assert _same_weights(first, second)
    back = torch.optim.SGD(_model().parameters(), lr=0.2, momentum=0.9, foreach=True)
    back.load_state_dict(ours.state_dict())  # (and torch's loads ours)


def test_a_state_dict_of_another_shape_is_refused() -> None:
    ours = SGD(_model().parameters(), lr=0.1)
    other = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="does not fit"):
        ours.load_state_dict(other.state_dict())


def test_a_training_step_imports_no_dynamo() -> None:
    """What the class is for: torch.optim would import torch._dynamo (~1.3 s) before batch 1."""
    code = (
        "import sys, torch\n"
        "from lstm_tui.core.config import RunConfig\n"
        "from lstm_tui.core.engine.step import make_optimizer, make_step\n"
        "from lstm_tui.core.models import build_model\n"
        "config = RunConfig(hidden=8, clip=1.0)\n"
        "model = build_model(config, 10)\n"
        "optimizer = make_optimizer(config, model)\n"
        "step = make_step(config, model, optimizer, torch.device('cpu'))\n"
        "X = torch.randint(0, 10, (2, 5))\n"
        "loss, state = step(X, X, model.begin_state(2, torch.device('cpu')))\n"
        "sys.stdout.write(str('torch._dynamo' in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout == "False", result.stderr
