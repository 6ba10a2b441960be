"""The two minibatch samplers: shapes, labels, coverage, continuity, reproducibility."""

from __future__ import annotations

import random

import pytest
import torch

from lstm_tui.core.data import (
    Vocab,
    clean_lines,
    count_batches,
    data_iter,
    min_corpus_tokens,
    read_corpus_text,
    seq_data_iter_random,
    seq_data_iter_sequential,
    tokenize,
)


@pytest.fixture(scope="module")
def ids(small_corpus) -> torch.Tensor:
    """The small generated corpus as char indices (the samplers need some text, not the book)."""
    tokens = tokenize(clean_lines(read_corpus_text(str(small_corpus))), "char")
    vocab = Vocab(tokens)
    return torch.tensor([vocab[t] for line in tokens for t in line], dtype=torch.long)


def d2l_random_starts(length, batch_size, num_steps, rng):
    """d2l's start-index arithmetic written out on plain ints, as a reference."""
    offset = rng.randint(0, num_steps - 1)
    num_subseqs = (length - offset - 1) // num_steps
    starts = list(range(0, num_subseqs * num_steps, num_steps))
    rng.shuffle(starts)
    batches = num_subseqs // batch_size
    return [[offset + s for s in starts[i : i + batch_size]] for i in range(0, batches * batch_size, batch_size)]


@pytest.mark.parametrize("sampler", [seq_data_iter_random, seq_data_iter_sequential])
def test_shapes_dtype_and_labels(ids, sampler):
    corpus = ids[:10_000]
    batches = list(sampler(corpus, 32, 35, random.Random(0)))
    assert batches
    for X, Y in batches:
        assert X.shape == Y.shape == (32, 35) and X.dtype == Y.dtype == torch.int64
        assert torch.equal(X[:, 1:], Y[:, :-1])  # Y is X shifted by one


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_random_sampling_matches_d2l_and_covers_without_duplicates(ids, seed):
    corpus, bs, ns = ids[:10_000], 32, 35
    expected = d2l_random_starts(len(corpus), bs, ns, random.Random(seed))
    batches = list(seq_data_iter_random(corpus, bs, ns, random.Random(seed)))
    assert len(batches) == len(expected)
    rows = set()
    for (X, Y), starts in zip(batches, expected):
        for row, start in enumerate(starts):
            assert torch.equal(X[row], corpus[start : start + ns])
            assert torch.equal(Y[row], corpus[start + 1 : start + 1 + ns])
            rows.add(start)
    offset_subseqs = (len(corpus) - 1 - (min(rows) % ns)) // ns
    assert len(rows) == len(batches) * bs == offset_subseqs // bs * bs  # no start used twice


def test_random_epoch_count_formula():
    corpus = torch.arange(1000)
    for seed in range(20):
        rng = random.Random(seed)
        offset = random.Random(seed).randint(0, 9)
        batches = list(seq_data_iter_random(corpus, 4, 10, rng))
        num_subseqs = (1000 - offset - 1) // 10
        assert len(batches) == num_subseqs // 4
        starts = torch.cat([X[:, 0] for X, _ in batches])
        assert len(set(starts.tolist())) == len(starts) and all((s - offset) % 10 == 0 for s in starts.tolist())
        assert len(batches) <= count_batches(1000, 4, 10, "random")


def test_sequential_rows_continue_across_batches(ids):
    corpus, bs, ns = ids[:10_000], 8, 35
    for seed in range(5):
        offset = random.Random(seed).randint(0, ns)
        batches = list(seq_data_iter_sequential(corpus, bs, ns, random.Random(seed)))
        assert 0 <= offset <= ns
        row_len = (len(corpus) - offset - 1) // bs
        assert len(batches) == row_len // ns <= count_batches(len(corpus), bs, ns, "sequential")
        rows = torch.cat([X for X, _ in batches], dim=1)  # each row read batch after batch
        for r in range(bs):
            start = offset + r * row_len
            assert torch.equal(rows[r], corpus[start : start + rows.shape[1]])
        for (_X0, Y0), (X1, _) in zip(batches, batches[1:]):
            assert torch.equal(X1[:, 0], Y0[:, -1])  # batch k+1 starts where batch k ended


def test_sequential_offsets_cover_range():
    corpus = torch.arange(500)
    firsts = {next(seq_data_iter_sequential(corpus, 2, 5, random.Random(s)))[0][0, 0].item() for s in range(200)}
    assert firsts == set(range(0, 6))  # offset in [0, num_steps] inclusive, like d2l


def test_random_offsets_cover_range():
    corpus = torch.arange(500)
    offsets = set()
    for s in range(200):
        X, _ = next(seq_data_iter_random(corpus, 2, 5, random.Random(s)))
        offsets.add(X[0, 0].item() % 5)
    assert offsets == set(range(0, 5))  # offset in [0, num_steps - 1]


@pytest.mark.parametrize("sampling", ["random", "sequential"])
def test_reproducible_and_seed_dependent(ids, sampling):
    corpus = ids[:5_000]

    def epoch(seed):
        return torch.cat([torch.cat([X, Y]) for X, Y in data_iter(corpus, 4, 10, sampling, random.Random(seed))])

    assert torch.equal(epoch(3), epoch(3))
    assert not torch.equal(epoch(3), epoch(4)) or not torch.equal(epoch(3), epoch(5))


def test_rng_continues_across_epochs():
    corpus, rng = torch.arange(2000), random.Random(0)
    first = [X for X, _ in seq_data_iter_random(corpus, 4, 10, rng)]
    second = [X for X, _ in seq_data_iter_random(corpus, 4, 10, rng)]
    assert not all(torch.equal(a, b) for a, b in zip(first, second))


def test_too_short_corpus_yields_nothing_and_min_tokens_is_enough():
    for sampler in (seq_data_iter_random, seq_data_iter_sequential):
        assert list(sampler(torch.arange(5), 2, 5, random.Random(0))) == []
    need = min_corpus_tokens(4, 10)
    corpus = torch.arange(need)
    for seed in range(50):
        for sampling in ("random", "sequential"):
            assert len(list(data_iter(corpus, 4, 10, sampling, random.Random(seed)))) >= 1


def test_count_batches_and_unknown_sampling():
    assert count_batches(170580, 32, 35, "sequential") == ((170580 - 1) // 32) // 35
    assert count_batches(170580, 32, 35, "random") == ((170580 - 1) // 35) // 32
    assert count_batches(0, 32, 35, "random") == 0
    with pytest.raises(ValueError, match="unknown sampling"):
        count_batches(100, 2, 3, "shuffled")
    with pytest.raises(ValueError, match="unknown sampling"):
        data_iter(torch.arange(100), 2, 3, "shuffled", random.Random(0))


def test_list_corpus_accepted():
    X, Y = next(seq_data_iter_sequential(list(range(100)), 2, 5, random.Random(0)))
    assert X.dtype == torch.int64 and X.shape == (2, 5)
