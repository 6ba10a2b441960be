"""Gradient through time: ||dL_T/dh_{T-k}||, checked against autograd's jacobian, and the
chapter's point: a plain RNN's gradient fades much faster than an LSTM's."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lstm_tui.core.config import RunConfig
from lstm_tui.core.data.vocab import Vocab
from lstm_tui.core.engine import Trainer
from lstm_tui.core.events import Finished
from lstm_tui.core.generate import GenerationError
from lstm_tui.core.gradient_time import gradient_through_time
from lstm_tui.core.models import ScratchLSTM, ScratchRNN

TEXT = "abca cab"  # 8 tokens: 3 steps back need 5
VOCAB = Vocab(list("abc "))


def _known(model: torch.nn.Module) -> torch.nn.Module:
    """Deterministic, not-tiny weights (so the gradients are far from zero)."""
    with torch.no_grad():
        for i, (_, p) in enumerate(sorted(model.named_parameters())):
            n = p.numel()
            p.copy_(torch.sin(torch.arange(n, dtype=torch.float32) * 0.7 + i).view_as(p) * 0.8)
    return model.eval()


def _by_jacobian(model, text: str, num_steps: int) -> list[float]:
    """The same quantity another way: run the first steps without gradients to get the state
    that step T-k reads, then d(loss)/d(H) of the remaining k+1 steps as a jacobian."""
    ids = torch.tensor(VOCAB[list(text)])
    window, warm = ids[-(num_steps + 2) :], ids[: -(num_steps + 2)]
    inputs, target = window[:-1], window[-1:]
    out = []
    for k in range(num_steps + 1):
        start = num_steps - k  # the step whose input state is h_{T-k}
        with torch.no_grad():
            state = model.begin_state(1)
            for token in torch.cat((warm, inputs[:start])):
                _, state = model(token.view(1, 1), state)

        def loss_from(H, rest=state, start=start):
            s = (H, *rest[1:])
            for token in inputs[start:]:
                logits, s = model(token.view(1, 1), s)
            return F.cross_entropy(logits.double(), target)

        jac = torch.autograd.functional.jacobian(loss_from, state[0])
        out.append(float(jac.norm()))
    return out


@pytest.mark.parametrize(
    "make", [lambda: ScratchRNN(len(VOCAB), 3), lambda: ScratchLSTM(len(VOCAB), 3, fused=True)], ids=["rnn", "lstm"]
)
def test_matches_autograd_jacobian_on_a_tiny_model_with_known_weights(make):
    model = _known(make())
    got = gradient_through_time(model, VOCAB, TEXT, 3)
    want = _by_jacobian(model, TEXT, 3)
    assert len(got) == 4
    assert got == pytest.approx(want, rel=1e-5, abs=1e-12)
    assert all(g > 0 for g in got)
    assert getattr(model, "fused", None) in (None, True)  # the caller's model is left as it was


def _trained(shared_data_dir, cell: str):
    config = RunConfig(
        cell=cell,
        impl="scratch",
        hidden=32,
        epochs=3,
        batch_size=16,
        num_steps=20,
        lr=1.0,
        max_tokens=3000,
        predict_every=0,
        checkpoint_every=0,
        seed=0,
        device="cpu",
        data_dir=str(shared_data_dir),
    )
    trainer = Trainer(config)
    assert isinstance(trainer.run(), Finished)
    model, vocab = trainer.snapshot()
    return model, vocab


def test_a_plain_rnn_forgets_faster_than_an_lstm(shared_data_dir):
    text = "the time traveller for so it will be convenient to speak of him was expounding"
    steps = 15
    ratios = {}
    for cell in ("rnn", "lstm"):
        model, vocab = _trained(shared_data_dir, cell)
        grads = gradient_through_time(model, vocab, text, steps)
        assert len(grads) == steps + 1
        ratios[cell] = grads[steps] / grads[0]
    assert ratios["rnn"] < ratios["lstm"] / 100, ratios


def test_too_short_a_text_or_a_bad_step_count_is_refused():
    model = _known(ScratchRNN(len(VOCAB), 3))
    with pytest.raises(GenerationError, match="at least 6"):
        gradient_through_time(model, VOCAB, "abc", 4)
    with pytest.raises(GenerationError, match="num_steps"):
        gradient_through_time(model, VOCAB, TEXT, -1)
