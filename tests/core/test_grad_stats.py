"""The gradient lens per epoch: the pre-clip norm (mean, max) and the clipped share, without
changing the training numbers."""

from __future__ import annotations

import json

import pytest
import torch

from lstm_tui.core.config import RunConfig
from lstm_tui.core.data.vocab import Vocab
from lstm_tui.core.engine import Trainer
from lstm_tui.core.engine.grad_stats import GradStats
from lstm_tui.core.engine.graph_step import StaticStep
from lstm_tui.core.engine.step import make_optimizer, make_step
from lstm_tui.core.events import EpochEnd, Finished
from lstm_tui.core.models import build_model
from lstm_tui.core.runs import RunDir

TEXT = "the time traveller for so it will be convenient to speak of him was expounding a recondite"
VOCAB = Vocab(list(TEXT))


def _batches(n=6, batch=4, steps=5):
    g = torch.Generator().manual_seed(0)
    return [
        (
            torch.randint(0, len(VOCAB), (batch, steps), generator=g),
            torch.randint(0, len(VOCAB), (batch, steps), generator=g),
        )
        for _ in range(n)
    ]


def _run(clip: float, stats: GradStats | None, static: bool = False):
    """Losses and the norms clip_grad_norm_ returned, one step per batch, on a fresh model."""
    torch.manual_seed(0)
    config = RunConfig(hidden=16, clip=clip, optimizer="sgd", lr=1.0)
    model = build_model(config, len(VOCAB))
    optimizer = make_optimizer(config, model)
    device = torch.device("cpu")
    step = make_step(config, model, optimizer, device, grad_stats=stats)
    if static:
        step = StaticStep(step, model, optimizer, device, capture=False, restore=stats.tensors() if stats else ())
    losses = []
    for X, Y in _batches():
        loss, _ = step(X, Y, model.begin_state(X.shape[0]))
        losses.append(float(loss))
    return losses, model


def _reference_norms(clip: float) -> list[float]:
    """The same steps written out, keeping the norm each clip computed."""
    torch.manual_seed(0)
    model = build_model(RunConfig(hidden=16), len(VOCAB))
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    norms = []
    for X, Y in _batches():
        logits, _ = model(X, model.begin_state(X.shape[0]))
        loss = torch.nn.functional.cross_entropy(logits, Y.T.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        norms.append(
            float(torch.nn.utils.clip_grad_norm_(list(model.parameters()), clip if clip > 0 else float("inf")))
        )
        optimizer.step()
    return norms


@pytest.mark.parametrize("static", [False, True])
def test_norms_mean_max_and_clipped_share_and_the_numbers_do_not_change(static):
    clip = 0.22  # between the batches' norms (0.15 to 0.36): some are clipped, some not
    plain, plain_model = _run(clip, None)
    stats = GradStats(torch.device("cpu"), clip)
    measured, model = _run(clip, stats, static=static)
    assert measured == plain  # bit for bit: the lens only reads the clip's norm
    for a, b in zip(plain_model.parameters(), model.parameters()):
        assert torch.equal(a, b)
    norms = _reference_norms(clip)
    reading = stats.read()
    assert reading.grad_norm == pytest.approx(sum(norms) / len(norms), rel=1e-5)
    assert reading.grad_norm_max == pytest.approx(max(norms), rel=1e-5)
    share = sum(n + 1e-6 > clip for n in norms) / len(norms)
    assert 0 < share < 1 and reading.clipped_share == pytest.approx(share)
    stats.reset()
    assert stats.read().grad_norm is None


def test_clip_off_still_measures_the_norm_and_has_no_clipped_share():
    stats = GradStats(torch.device("cpu"), 0.0)
    _run(0.0, stats)
    norms = _reference_norms(0.0)
    reading = stats.read()
    assert reading.grad_norm == pytest.approx(sum(norms) / len(norms), rel=1e-5)
    assert reading.clipped_share is None


def test_epoch_events_and_metrics_carry_the_gradient_numbers(shared_data_dir, tmp_path):
    config = RunConfig(
        hidden=16,
        epochs=2,
        batch_size=8,
        num_steps=10,
        max_tokens=2000,
        predict_every=0,
        checkpoint_every=0,
        clip=0.5,
        device="cpu",
        data_dir=str(shared_data_dir),
    )
    events = []
    run = RunDir(tmp_path / "run")
    assert isinstance(Trainer(config, on_event=events.append, run_dir=run.path).run(), Finished)
    ends = [e for e in events if isinstance(e, EpochEnd)]
    assert len(ends) == 2
    for end in ends:
        assert end.grad_norm is not None and end.grad_norm > 0
        assert end.grad_norm_max >= end.grad_norm
        assert 0.0 <= end.clipped_share <= 1.0
    rows = [json.loads(line) for line in run.metrics_path.read_text().splitlines()]
    assert [r["grad_norm"] for r in rows] == [e.grad_norm for e in ends]
    assert [r["clipped_share"] for r in rows] == [e.clipped_share for e in ends]
