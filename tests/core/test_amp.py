"""bf16 autocast (``amp``): on the CPU where it is native (AVX-512 BF16 / AMX), off with a
status line elsewhere; the weights, loss and state stay float32 either way."""

from __future__ import annotations

import pytest
import torch

from lstm_tui.core.config import RunConfig
from lstm_tui.core.device import bf16_native
from lstm_tui.core.engine import Trainer
from lstm_tui.core.engine.step import autocast_context
from lstm_tui.core.events import EpochEnd, Finished, Status

CPU = torch.device("cpu")
BASE = dict(
    device="cpu",
    impl="torch",
    hidden=32,
    batch_size=8,
    num_steps=10,
    max_tokens=2000,
    epochs=3,
    predict_every=0,
    checkpoint_every=0,
    lr=1.0,
    seed=0,
)


def _train(corpus, hook=None, **changes):
    config = RunConfig.from_mapping({**BASE, "corpus": str(corpus), **changes})
    events = []
    trainer = Trainer(config, on_event=lambda e: (events.append(e), hook and hook(e, trainer)))
    result = trainer.run()
    assert isinstance(result, Finished), result
    return trainer, events


def _perplexities(events):
    return [e.perplexity for e in events if isinstance(e, EpochEnd)]


def _statuses(events):
    return [e.message for e in events if isinstance(e, Status)]


def test_autocast_context_turns_bf16_on_for_the_cpu_only_when_asked():
    a, b = torch.randn(4, 8), torch.randn(8, 3)
    with autocast_context(CPU, True):
        assert torch.is_autocast_enabled("cpu")
        assert (a @ b).dtype == torch.bfloat16
    with autocast_context(CPU, False):
        assert not torch.is_autocast_enabled("cpu")
        assert (a @ b).dtype == torch.float32


@pytest.mark.skipif(not bf16_native(CPU), reason="this CPU has no native bf16 (AVX-512 BF16 / AMX)")
def test_amp_on_a_bf16_cpu_runs_the_model_in_bf16_and_stays_close_to_float32(small_corpus):
    seen = []

    def watch(event, trainer):  # once the model exists, record the dtype its output layer computes in
        if isinstance(event, Status) and event.message == "bf16 autocast on":
            trainer.model.linear.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))

    trainer, events = _train(small_corpus, hook=watch, amp=True)
    _, plain = _train(small_corpus)
    assert "bf16 autocast on" in _statuses(events)
    assert seen[0] == torch.bfloat16  # training batches (generation at the end runs in float32)
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())
    for bf16, fp32 in zip(_perplexities(events), _perplexities(plain), strict=True):
        assert bf16 == pytest.approx(fp32, rel=0.02)


def test_amp_without_native_bf16_says_so_and_trains_in_float32(small_corpus, monkeypatch):
    monkeypatch.setattr("lstm_tui.core.engine.trainer.bf16_native", lambda device: False)
    _, events = _train(small_corpus, amp=True)
    _, plain = _train(small_corpus)
    assert any("no native bf16; training in float32" in m for m in _statuses(events))
    assert _perplexities(events) == _perplexities(plain)
