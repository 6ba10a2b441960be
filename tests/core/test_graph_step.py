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
        losses.append(loss)  # kept as tensors: a loss the next replay overwrote would show here
    return [float(x) for x in losses], {k: v.detach().cpu() for k, v in model.state_dict().items()}, step


CONFIGS = {
    "scratch": RunConfig(cell="lstm", impl="scratch", hidden=16, batch_size=4, num_steps=5, lr=1.0),
    "concise-adam": RunConfig(
        cell="lstm", impl="torch", hidden=16, batch_size=4, num_steps=5, lr=0.01, optimizer="adam", layers=2
    ),
}


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_static_step_trains_like_the_plain_step(name, device):
    """CPU: the same static-buffer code, eager, bit for bit. CUDA: the captured graph, and the
    warm-up before the capture did not train."""
    config, device = CONFIGS[name], torch.device(device)
    losses, weights, _ = _train(config, device, static=False)
    static_losses, static_weights, step = _train(config, device, static=True, capture=True)
    captured = device.type == "cuda"
    assert step.capture is captured and step.captures == int(captured)
    tolerance = dict(rtol=1e-5, atol=1e-5) if captured else dict(rtol=0, atol=0)
    assert static_losses == pytest.approx(losses, rel=tolerance["rtol"], abs=tolerance["atol"])
    for key in weights:
        torch.testing.assert_close(static_weights[key], weights[key], **tolerance)


def test_compile_and_graphs_switches_train_the_same_as_plain(small_corpus):
    """--compile / --no-compile and --graphs / --no-graphs: the same perplexities (CPU)."""
    from lstm_tui.core.engine import Trainer
    from lstm_tui.core.presets import PRESETS

    base = PRESETS["scratch"].config.replace(
        corpus=str(small_corpus),
        max_tokens=1500,
        hidden=16,
        batch_size=8,
        num_steps=10,
        epochs=2,
        predict_every=0,
        device="cpu",
        seed=0,
        checkpoint_every=0,
    )

    def curve(**switches):
        trainer = Trainer(base.replace(**switches))
        trainer.run()
        return [record["perplexity"] for record in trainer.history]

    plain = curve(compile=False, graphs=False)
    assert curve(compile=False, graphs=True) == plain  # graphs are a CUDA feature: no change here
    assert curve(compile=True, graphs=False) == pytest.approx(plain, rel=1e-4)
