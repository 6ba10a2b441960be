"""Generation: d2l's greedy predict, sampling, streaming, errors, generation perplexity."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lstm_tui.core.config import RunConfig
from lstm_tui.core.data import Vocab
from lstm_tui.core.generate import (
    GenerationError,
    UnknownTokensError,
    generation_perplexity,
    predict,
    prefix_tokens,
    stream,
    token_separator,
)
from lstm_tui.core.models import build_model

TEXT = "the time machine by h g wells the time traveller for so it will be convenient to speak of him"


@pytest.fixture(scope="module")
def vocab() -> Vocab:
    return Vocab(list(TEXT))


def make_model(vocab, seed=0, **changes):
    torch.manual_seed(seed)
    config = RunConfig(hidden=24, impl="torch").replace(**changes) if changes else RunConfig(hidden=24, impl="torch")
    return build_model(config, len(vocab))


@pytest.fixture(scope="module")
def model(vocab):
    return make_model(vocab).eval()


def d2l_greedy(prefix, num_preds, net, vocab):
    """A straight port of the book's predict_ch8 loop (the reference)."""
    state = net.begin_state(batch_size=1, device="cpu")
    outputs = [vocab[prefix[0]]]
    with torch.no_grad():
        for y in prefix[1:]:
            _, state = net(torch.tensor([[outputs[-1]]]), state)
            outputs.append(vocab[y])
        for _ in range(num_preds):
            y, state = net(torch.tensor([[outputs[-1]]]), state)
            outputs.append(int(y.argmax(dim=1).reshape(1)))
    return "".join(vocab.idx_to_token[i] for i in outputs)


@pytest.mark.parametrize("impl", ["torch", "scratch"])
def test_greedy_matches_d2l_loop(vocab, impl):
    net = make_model(vocab, seed=3, impl=impl)
    if impl == "scratch":  # d2l's 0.01 init gives near-uniform logits; make the choice decisive
        with torch.no_grad():
            for p in net.parameters():
                p.mul_(100)
    for prefix in ("time traveller", "t", "the "):
        assert predict(net, vocab, prefix, 30) == d2l_greedy(prefix, 30, net, vocab)


def test_lengths_and_stream(vocab, model):
    sampled = list(stream(model, vocab, "time ", 40, temperature=1.0, generator=torch.Generator().manual_seed(0)))
    assert len(sampled) == 40 and all(piece in vocab for piece in sampled)  # tokens (an untrained model may say <unk>)
    out = predict(model, vocab, "time ", 40, temperature=1.0, generator=torch.Generator().manual_seed(0))
    assert out == "time " + "".join(sampled)
    pieces = list(stream(model, vocab, "time", 25))
    assert len(pieces) == 25 and all(len(p) == 1 for p in pieces)
    assert "time" + "".join(pieces) == predict(model, vocab, "time", 25)
    assert predict(model, vocab, "time", 0) == "time"
    assert list(stream(model, vocab, "time", 0)) == []


def test_seeded_sampling_is_deterministic(vocab, model):
    def sample(seed, **kw):
        return predict(model, vocab, "the ", 60, temperature=1.5, generator=torch.Generator().manual_seed(seed), **kw)

    assert sample(5) == sample(5)
    assert sample(5) != sample(6)
    assert sample(5, top_k=4) == sample(5, top_k=4)


def test_top_k_one_is_greedy(vocab, model):
    greedy = predict(model, vocab, "time traveller", 40)
    assert predict(model, vocab, "time traveller", 40, temperature=2.0, top_k=1) == greedy
    assert predict(model, vocab, "time traveller", 40, temperature=1e-30) == greedy


def test_top_k_only_picks_likely_tokens(vocab, model):
    prefix, k = "the", 3
    text = predict(model, vocab, prefix, 50, temperature=50.0, top_k=k, generator=torch.Generator().manual_seed(1))
    state = model.begin_state(1, "cpu")
    ids = vocab[list(text)]
    with torch.no_grad():
        for t in range(len(ids) - 1):
            logits, state = model(torch.tensor([[ids[t]]]), state)
            if t >= len(prefix) - 1:
                assert ids[t + 1] in torch.topk(logits[0], k).indices.tolist()


def test_unknown_characters(vocab, model):
    with pytest.raises(GenerationError) as info:
        predict(model, vocab, "Qt!Q", 5)
    message = str(info.value)
    assert "'Q', '!' are not in the vocabulary (lower-case letters and space only)" in message
    assert "unknown='unk'" in message
    pieces = list(stream(model, vocab, "Qt!", 5, unknown="unk"))
    assert len(pieces) == 5
    assert predict(model, vocab, "Qt!", 5, unknown="unk") == "Qt!" + "".join(pieces)
    with pytest.raises(GenerationError, match="try 'time'"):
        predict(model, vocab, "Time", 5)
    with pytest.raises(GenerationError, match="unknown must be"):
        predict(model, vocab, "time", 5, unknown="skip")


@pytest.fixture(scope="module")
def corpus_vocab(small_corpus):
    from lstm_tui.core.data import load_corpus

    return load_corpus(RunConfig(corpus=str(small_corpus))).vocab


@pytest.mark.parametrize(
    "prefix,suggestion",
    [("Hello, World!", "hello world"), ("Time", "time"), ("time!", "time"), ("THE Time-Machine.", "the timemachine")],
)
def test_unknown_tokens_error_has_parts_and_a_suggestion_the_vocabulary_reads(corpus_vocab, prefix, suggestion):
    with pytest.raises(UnknownTokensError) as info:
        prefix_tokens(corpus_vocab, prefix)
    error = info.value
    assert isinstance(error, GenerationError)
    assert set(error.tokens) == {c for c in prefix if c not in corpus_vocab}
    assert error.suggestion == suggestion
    assert all(c in corpus_vocab for c in error.suggestion)
    prefix_tokens(corpus_vocab, error.suggestion)  # the suggestion itself is accepted
    assert "unknown='unk'" in str(error)  # for Python callers
    app_text = error.explain()
    assert "unknown=" not in app_text and "not in the vocabulary" in app_text and repr(suggestion) in app_text
    assert "pass --unk" in error.explain("pass --unk to map them to <unk>")


def test_hello_world_suggestion_leaves_out_what_lower_casing_cannot_fix(corpus_vocab):
    with pytest.raises(UnknownTokensError) as info:
        prefix_tokens(corpus_vocab, "Hello, World!")
    error = info.value
    assert error.tokens == ("H", ",", "W", "!") and error.left_out == (",", "!")
    assert "'hello, world!'" not in str(error) and "try 'hello world'" in str(error)


def test_no_suggestion_when_nothing_readable_is_left(corpus_vocab):
    with pytest.raises(UnknownTokensError) as info:
        prefix_tokens(corpus_vocab, "!? 42")
    assert info.value.suggestion is None and "try" not in info.value.explain()


def test_unknown_tokens_error_survives_pickling(corpus_vocab):
    import pickle

    with pytest.raises(UnknownTokensError) as info:
        prefix_tokens(corpus_vocab, "Hi!")
    copy = pickle.loads(pickle.dumps(info.value))
    assert (str(copy), copy.tokens, copy.suggestion) == (str(info.value), ("H", "!"), "hi")


def test_other_generation_errors_explain_as_their_message(vocab, model):
    with pytest.raises(GenerationError) as info:
        predict(model, vocab, "", 5)
    assert info.value.explain("pass --unk") == str(info.value)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"prefix": ""}, "prefix is empty"),
        ({"length": -1}, "length must be from 0"),
        ({"length": 100_001}, "length must be from 0"),
        ({"length": 2.5}, "whole number"),
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": float("inf")}, "temperature"),
        ({"top_k": -1}, "top_k"),
    ],
)
def test_bad_arguments(vocab, model, kwargs, match):
    args = {"prefix": "time", "length": 5, **kwargs}
    prefix, length = args.pop("prefix"), args.pop("length")
    with pytest.raises(GenerationError, match=match):
        predict(model, vocab, prefix, length, **args)
    with pytest.raises(GenerationError, match=match):
        stream(model, vocab, prefix, length, **args)  # checked at the call, before iterating
    assert issubclass(GenerationError, ValueError)


def test_mode_and_grad_are_left_alone(vocab):
    net = make_model(vocab).train()
    seen = []
    for _ in stream(net, vocab, "time", 3):
        seen.append(torch.is_grad_enabled())
    assert seen == [True, True, True] and net.training
    assert all(p.grad is None for p in net.parameters())


def test_word_vocabulary(model):
    words = Vocab(TEXT.split())
    net = make_model(words)
    assert token_separator(words) == " "
    out = predict(net, words, "the time ", 6)
    assert out.startswith("the time ") and len(out.split()) == 8
    with pytest.raises(GenerationError, match="'zebra' is not in the vocabulary"):
        predict(net, words, "the zebra", 3)
    with pytest.raises(UnknownTokensError) as info:
        predict(net, words, "The zebra time", 3)
    assert info.value.suggestion == "the time"  # words lower-cased or left out, never mangled


def ordinary_perplexity(net, tokens):
    with torch.no_grad():
        logits, _ = net(tokens[:-1].reshape(1, -1), net.begin_state(1, "cpu"))
        return math.exp(F.cross_entropy(logits.double(), tokens[1:]).item())


@pytest.mark.parametrize(
    "changes",
    [
        {"impl": "torch"},
        {"impl": "scratch", "fused": True},
        {"impl": "scratch", "fused": False, "cell": "gru", "layers": 2},
    ],
)
def test_generation_perplexity_equals_ordinary_for_one_direction(vocab, changes):
    net = make_model(vocab, seed=1, **changes)
    tokens = torch.tensor(vocab[list(TEXT)])
    ordinary = ordinary_perplexity(net, tokens)
    assert generation_perplexity(net, tokens, stepwise=True) == pytest.approx(ordinary, rel=1e-4)
    assert generation_perplexity(net, tokens) == pytest.approx(ordinary, rel=1e-4)
    assert generation_perplexity(net, tokens, max_tokens=10, stepwise=True) == pytest.approx(
        ordinary_perplexity(net, tokens[:11]), rel=1e-4
    )


def fit(net, tokens, steps=40):
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(steps):
        logits, _ = net(tokens[:-1].reshape(1, -1), None)
        loss = F.cross_entropy(logits, tokens[1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net


def test_generation_perplexity_exposes_bidirectional(vocab):
    tokens = torch.tensor(vocab[list(TEXT)])
    bi = fit(make_model(vocab, seed=1, bidirectional=True), tokens)
    ordinary = ordinary_perplexity(bi, tokens)
    writing = generation_perplexity(bi, tokens)
    assert writing == generation_perplexity(bi, tokens, stepwise=True)  # always token by token
    assert ordinary < 1.5 and writing > 4 * ordinary  # it looked ahead while training
    uni = fit(make_model(vocab, seed=1), tokens)
    assert generation_perplexity(uni, tokens) == pytest.approx(ordinary_perplexity(uni, tokens), rel=1e-4)
    with pytest.raises(GenerationError, match="two tokens"):
        generation_perplexity(bi, tokens[:1])
