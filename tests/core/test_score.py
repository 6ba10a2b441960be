"""The probability lens: per-character surprisal, top-5, bits per character, two models, two modes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lstm_tui.core.config import RunConfig
from lstm_tui.core.data.vocab import Vocab
from lstm_tui.core.engine.step import make_optimizer, make_step
from lstm_tui.core.generate import GenerationError, generation_perplexity
from lstm_tui.core.models import build_model
from lstm_tui.core.score import compare_scores, score_both_ways, score_text

TEXT = "the time traveller for so it will be convenient to speak of him was expounding a recondite matter to us"
VOCAB = Vocab(list(TEXT))


def _model(seed=0, **changes):
    torch.manual_seed(seed)
    config = RunConfig(hidden=24, **changes)
    model = build_model(config, len(VOCAB))
    # a few steps of training so the distribution is not flat
    X = torch.tensor([VOCAB[list(TEXT[:-1])]])
    Y = torch.tensor([VOCAB[list(TEXT[1:])]])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(30):
        logits, _ = model(X, None)
        loss = F.cross_entropy(logits, Y.T.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return config, model.eval()


@pytest.mark.parametrize(
    "changes",
    [
        dict(cell="lstm", impl="scratch"),
        dict(cell="lstm", impl="scratch", fused=False),
        dict(cell="gru", impl="torch"),
        dict(cell="rnn", impl="scratch"),
    ],
)
def test_the_score_of_a_text_is_the_trainers_loss_on_it(changes):
    """The loss the training step computes (make_step, before its update) is bpc * ln 2."""
    config, model = _model(**changes)
    score = score_text(model, VOCAB, TEXT)
    X = torch.tensor([VOCAB[list(TEXT[:-1])]])
    Y = torch.tensor([VOCAB[list(TEXT[1:])]])
    step = make_step(config, model, make_optimizer(config, model), torch.device("cpu"))
    loss, _ = step(X, Y, model.begin_state(1))
    assert score.nats == pytest.approx(float(loss), rel=1e-6, abs=1e-7)
    assert score.bits_per_char == pytest.approx(float(loss) / math.log(2), rel=1e-6)
    assert score.perplexity == pytest.approx(math.exp(float(loss)), rel=1e-6)
    assert len(score.positions) == len(TEXT) - 1


def test_top5_are_a_softmax_of_the_logits_and_bits_are_the_targets_surprisal():
    _, model = _model()
    score = score_text(model, VOCAB, TEXT)
    with torch.no_grad():
        logits, _ = model(torch.tensor([VOCAB[list(TEXT[:-1])]]), None)
    probs = torch.softmax(logits.double(), dim=-1)
    for pos in score.positions:
        row = probs[pos.index - 1]
        values, indices = row.topk(5)
        assert [t for t, _ in pos.top] == [VOCAB.to_tokens(int(i)) for i in indices]
        assert [p for _, p in pos.top] == pytest.approx(values.tolist(), rel=1e-9)
        assert pos.token == TEXT[pos.index]
        assert pos.bits == pytest.approx(-math.log2(float(row[VOCAB[TEXT[pos.index]]])), rel=1e-9)


def test_ten_most_surprising_are_sorted_and_context_marks_the_character():
    _, model = _model()
    score = score_text(model, VOCAB, TEXT)
    top = score.most_surprising(10)
    assert len(top) == 10 and [p.bits for p in top] == sorted((p.bits for p in score.positions), reverse=True)[:10]
    before, token, after = score.context(top[0].index, width=5)
    assert before + token + after in TEXT and token == TEXT[top[0].index]


def test_write_mode_equals_train_mode_for_one_direction_but_not_for_a_bidirectional_model():
    _, uni = _model()
    train, write = score_both_ways(uni, VOCAB, TEXT)
    assert write.bits_per_char == pytest.approx(train.bits_per_char, rel=1e-6)
    _, bi = _model(impl="torch", bidirectional=True)
    train, write = score_both_ways(bi, VOCAB, TEXT)
    # training mode reads the future, so it is far surer than when writing (one step at a time)
    assert write.bits_per_char > train.bits_per_char + 0.5
    tokens = torch.tensor(VOCAB[list(TEXT)])
    assert write.perplexity == pytest.approx(generation_perplexity(bi, tokens, max_tokens=0), rel=1e-6)


def test_compare_two_models_per_position():
    _, a = _model(seed=0)
    _, b = _model(seed=1, cell="gru")
    sa, sb = score_text(a, VOCAB, TEXT), score_text(b, VOCAB, TEXT)
    comparison = compare_scores(sa, sb)
    assert len(comparison.diff) == len(sa.positions)
    assert comparison.diff[3] == pytest.approx(sb.positions[3].bits - sa.positions[3].bits)
    assert comparison.mean_diff == pytest.approx(sb.bits_per_char - sa.bits_per_char)
    with pytest.raises(ValueError, match="different texts"):
        compare_scores(sa, score_text(b, VOCAB, TEXT[:-3]))


def test_bad_texts_are_refused_with_a_reason():
    _, model = _model()
    with pytest.raises(GenerationError, match="at least two"):
        score_text(model, VOCAB, "t")
    with pytest.raises(GenerationError, match="not in the vocabulary"):
        score_text(model, VOCAB, "the Q")
    assert len(score_text(model, VOCAB, "the Q", unknown="unk").positions) == 4
    with pytest.raises(GenerationError, match="mode"):
        score_text(model, VOCAB, TEXT, mode="future")
