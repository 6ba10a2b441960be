"""The CUDA-graph training step: on CPU its static-buffer path runs eagerly and must train
exactly like the plain step; on a GPU (when there is one) the captured graph must too."""

from __future__ import annotations

import pytest
import torch

from lstm_tui.core.config import RunConfig
from lstm_tui.core.engine.graph_step import StaticStep
from lstm_tui.core.engine.step import make_optimizer, make_step
from lstm_tui.core.models import build_model

V = 11


def _train(config: RunConfig, device: torch.device, static: bool, capture: bool = False, batches: int = 6):
    torch.manual_seed(0)
    model = build_model(config, V).to(device)
    optimizer = make_optimizer(config, model)
    step = make_step(config, model, optimizer, device, graphs=capture)
    if static:
        step = StaticStep(step, model, optimizer, device, capture=capture)
    gen = torch.Generator().manual_seed(1)
    state, losses = model.begin_state(config.batch_size, device), []
    for _ in range(batches):
        X = torch.randint(0, V, (config.batch_size, config.num_steps), generator=gen).to(device)
        Y = torch.randint(0, V, (config.batch_size, config.num_steps), generator=gen).to(device)
        loss, state = step(X, Y, tuple(s.detach() for s in state))
        losses.append(loss)
    return [float(x) for x in losses], {k: v.detach().cpu() for k, v in model.state_dict().items()}, step


CONFIGS = {
    "scratch": RunConfig(cell="lstm", impl="scratch", hidden=16, batch_size=4, num_steps=5, lr=1.0),
    "concise-adam": RunConfig(cell="lstm", impl="torch", hidden=16, batch_size=4, num_steps=5, lr=0.01,
                              optimizer="adam", layers=2),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_static_buffer_step_trains_exactly_like_the_plain_step_on_cpu(name):
    config = CONFIGS[name]
    cpu = torch.device("cpu")
    losses, weights, _ = _train(config, cpu, static=False)
    static_losses, static_weights, step = _train(config, cpu, static=True, capture=True)
    assert step.capture is False and step.captures == 0  # no graphs off CUDA: the same code, eager
    assert static_losses == losses
    for key in weights:
        torch.testing.assert_close(static_weights[key], weights[key], rtol=0, atol=0)


def test_the_returned_loss_and_state_are_copies_the_next_batch_does_not_overwrite():
    config = CONFIGS["scratch"]
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    model = build_model(config, V)
    optimizer = make_optimizer(config, model)
    step = StaticStep(make_step(config, model, optimizer, cpu), model, optimizer, cpu)
    X = torch.randint(0, V, (4, 5))
    loss1, state1 = step(X, X, model.begin_state(4))
    kept = (loss1.clone(), tuple(s.clone() for s in state1))
    step(X, X, state1)
    assert torch.equal(loss1, kept[0]) and all(torch.equal(a, b) for a, b in zip(state1, kept[1]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_captured_graph_trains_like_the_eager_step_on_cuda(name):
    config = CONFIGS[name]
    cuda = torch.device("cuda")
    losses, weights, _ = _train(config, cuda, static=False)
    graph_losses, graph_weights, step = _train(config, cuda, static=True, capture=True)
    assert step.capture and step.captures == 1
    assert graph_losses == pytest.approx(losses, rel=1e-5)  # the warm-up did not train
    for key in weights:
        torch.testing.assert_close(graph_weights[key], weights[key], rtol=1e-4, atol=1e-5)


def test_compile_and_graphs_switches_train_the_same_as_plain(shared_data_dir):
    """--compile / --no-compile and --graphs / --no-graphs: the same perplexities (CPU)."""
    from lstm_tui.core.engine import Trainer
    from lstm_tui.core.presets import PRESETS

    base = PRESETS["scratch"].config.replace(
        data_dir=str(shared_data_dir), max_tokens=1500, hidden=16, batch_size=8, num_steps=10,
        epochs=2, predict_every=0, device="cpu", seed=0, checkpoint_every=0)

    def curve(**switches):
        trainer = Trainer(base.replace(**switches))
        trainer.run()
        return [record["perplexity"] for record in trainer.history]

    plain = curve(compile=False, graphs=False)
    assert curve(compile=False, graphs=True) == plain  # graphs are a CUDA feature: no change here
    assert curve(compile=True, graphs=False) == pytest.approx(plain, rel=1e-4)
