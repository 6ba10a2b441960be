"""The benchmark's reference (the book's code path, bench/reference_d2l.py) is apples to apples.

Started from the project's initial weights, the reference must compute the same loss as the
project's model on the same minibatch, and the same update, or the throughput comparison in
bench/throughput.py would compare different computations.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import reference_d2l as ref  # noqa: E402
from lstm_tui.core.config import RunConfig  # noqa: E402
from lstm_tui.core.data import load_corpus, seq_data_iter_sequential  # noqa: E402
from lstm_tui.core.models import build_model  # noqa: E402


@pytest.fixture(scope="module")
def corpus(small_corpus):
    return load_corpus(RunConfig(corpus=str(small_corpus)))


def _first_batch(corpus, config):
    return next(seq_data_iter_sequential(corpus.train, config.batch_size, config.num_steps, random.Random(0)))


def _project_loss(model, X, Y):
    y_hat, _ = model(X, model.begin_state(X.shape[0], "cpu"))
    return nn.functional.cross_entropy(y_hat, Y.T.reshape(-1))


def _both_losses(corpus, config):
    """The project's model and the reference built from its weights, on the first batch:
    ``(model, reference, project loss, book loss)``."""
    vocab_size = len(corpus.vocab)
    torch.manual_seed(0)
    model = build_model(config, vocab_size)
    reference = ref.build_reference(config, vocab_size, "cpu", init_from=model)
    X, Y = _first_batch(corpus, config)
    y_hat, _ = reference.net(X, reference.net.begin_state(batch_size=X.shape[0], device="cpu"))
    book = reference.loss(y_hat, Y.T.reshape(-1)).mean()
    return model, reference, _project_loss(model, X, Y), book


@pytest.mark.parametrize("fused", [False, True])
def test_scratch_reference_matches_project_loss_and_update(corpus, fused):
    # 12 steps keep the unfused model (a Python loop over steps) quick; the equations are the same
    config = RunConfig(fused=fused, num_steps=12)
    model, reference, project, book = _both_losses(corpus, config)
    assert abs(project.item() - book.item()) < 1e-5

    # the gradients agree too, gate by gate (the reference keeps d2l's 14 separate tensors)
    project.backward()
    book.backward()
    cell = model.cells[0]
    names = [f"{p}{g}" for g in "ifoc" for p in ("W_x", "W_h", "b_")]
    mine = [getattr(cell, n).grad for n in names] + [model.W_hq.grad, model.b_q.grad]
    for name, a, b in zip(names + ["W_hq", "b_q"], mine, (p.grad for p in reference.net.params)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_scratch_reference_with_d2l_init_has_book_shapes(corpus):
    vocab_size = len(corpus.vocab)
    reference = ref.build_reference(RunConfig(), vocab_size, "cpu")
    shapes = [tuple(p.shape) for p in reference.net.params]
    assert shapes[:3] == [(vocab_size, 256), (256, 256), (256,)]
    assert shapes[-2:] == [(256, vocab_size), (vocab_size,)]


@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, True)])
def test_concise_reference_loads_project_weights(corpus, layers, bidirectional):
    config = RunConfig(impl="torch", layers=layers, bidirectional=bidirectional, hidden=64)
    _, _, project, book = _both_losses(corpus, config)
    assert abs(project.item() - book.item()) < 1e-5


def test_reference_iterator_matches_project_iterator(corpus):
    """Same rng calls, same batches: the curves can be compared epoch by epoch."""
    project = list(seq_data_iter_sequential(corpus.train, 32, 35, random.Random(3)))
    book = list(ref.seq_data_iter_sequential(corpus.train.tolist(), 32, 35, random.Random(3)))
    assert len(project) == len(book)
    for (a, b), (c, d) in zip(project, book):
        assert torch.equal(a, c) and torch.equal(b, d)


def test_reference_epoch_reads_loss_and_trains(corpus):
    config = RunConfig(hidden=32)
    torch.manual_seed(0)
    reference = ref.build_reference(config, len(corpus.vocab), "cpu")
    records = ref.train_reference(reference, corpus.train.tolist(), config, random.Random(0), 2)
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[1]["perplexity"] < records[0]["perplexity"] < len(corpus.vocab) + 1
    assert all(r["tokens"] > 0 and r["tokens_per_s"] > 0 for r in records)
