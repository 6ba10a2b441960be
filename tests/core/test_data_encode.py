"""The vectorised pipeline gives exactly the book's indices (a straightforward d2l pipeline:
lines, cleaning per line, token lists, Counter-ordered Vocab, a list of indices)."""

from __future__ import annotations

import collections
import random

import numpy as np
import pytest
import torch

from lstm_tui.core.config import RunConfig
from lstm_tui.core.data import load_corpus
from lstm_tui.core.data.encode import encode
from lstm_tui.core.data.text import clean_lines, tokenize
from lstm_tui.core.data.vocab import Vocab


def book_pipeline(
    text: str, token: str, raw: bool, min_freq: int = 0, max_size: int = 0
) -> tuple[list[int], list[str]]:
    """d2l's chapter as written: lines, char (or word) lists, a Counter, a list of indices."""
    tokens = tokenize(clean_lines(text, raw=raw), token)
    counter = collections.Counter(t for line in tokens for t in line)
    freqs = sorted(counter.items(), key=lambda item: item[1], reverse=True)
    vocab = ["<unk>"]
    for t, freq in freqs:
        if freq < min_freq or 0 < max_size <= len(vocab):
            break
        if t not in vocab:
            vocab.append(t)
    index = {t: i for i, t in enumerate(vocab)}
    return [index.get(t, 0) for line in tokens for t in line], vocab


def ours(text: str, token: str, raw: bool, **kw) -> tuple[list[int], list[str]]:
    out = encode(text.encode("utf-8"), token, raw, **kw)
    return out.ids.tolist(), out.vocab.to_list()


@pytest.mark.parametrize("token", ["char", "word"])
@pytest.mark.parametrize("raw", [False, True])
def test_time_machine_equals_the_books_pipeline(corpus_bytes, shared_data_dir, token, raw):
    text = corpus_bytes.decode("utf-8")
    want_ids, want_vocab = book_pipeline(text, token, raw)
    data = load_corpus(
        RunConfig(data_dir=str(shared_data_dir), token=token, raw=raw, max_tokens=0, batch_size=4, num_steps=5)
    )
    assert data.vocab.to_list() == want_vocab
    assert torch.equal(data.train.long(), torch.tensor(want_ids, dtype=torch.long))
    assert len(data.train) == len(want_ids)
    if token == "char" and not raw:  # the book's numbers
        assert len(want_vocab) == 28 and len(want_ids) == 170580


def test_time_machine_vocab_is_the_old_vocab_class(corpus_bytes):
    """Vocab(tokens) (d2l's class, kept) and the counting path agree, ties included."""
    text = corpus_bytes.decode()
    tokens = tokenize(clean_lines(text), "word")
    assert Vocab(tokens).to_list() == encode(corpus_bytes, "word", False).vocab.to_list()


TRICKY = [
    "Hello,  World!\r\nsecond\rline\n\n  -- third --\t\x0bend",
    "a\x1cb\x1dc d\u00a0e\u3000f\u2028g\n",
    "café Ünïcode — dashes… «quotes» 中文字符 😀 emoji\r\nnext😀line",
    "  leading\nand trailing  \n\n\n",
    "no newline at end",
    "<unk> is a word <unk>\n",
    "",
    "123 456 !!!\n???",
]


@pytest.mark.parametrize("text", TRICKY)
@pytest.mark.parametrize("token", ["char", "word"])
@pytest.mark.parametrize("raw", [False, True])
def test_tricky_texts_equal_the_books_pipeline(text, token, raw):
    assert ours(text, token, raw) == book_pipeline(text, token, raw)


def test_generated_text_across_chunk_boundaries(monkeypatch):
    """Chunks much smaller than the text: gaps, lines and characters that straddle them."""
    import lstm_tui.core.data.chars as chars
    import lstm_tui.core.data.words as words

    monkeypatch.setattr(chars, "CHUNK", 7)
    monkeypatch.setattr(words, "CHUNK", 5)
    rng = random.Random(3)
    alphabet = list("abcXYZ  ,.\n\r\t") + ["é", "中", "😀", "\r\n"]
    text = "".join(rng.choice(alphabet) for _ in range(3000))
    for token in ("char", "word"):
        for raw in (False, True):
            assert ours(text, token, raw) == book_pipeline(text, token, raw), (token, raw)


@pytest.mark.parametrize("min_freq,max_size", [(2, 0), (0, 5), (3, 4), (1000, 0)])
def test_min_freq_and_max_vocab_make_rare_words_unk(min_freq, max_size):
    rng = random.Random(0)
    words = [f"w{int(rng.paretovariate(1.2))}" for _ in range(2000)]
    text = " ".join(words) + "\n"
    got = ours(text, "word", True, min_freq=min_freq, max_size=max_size)
    assert got == book_pipeline(text, "word", True, min_freq, max_size)
    ids, vocab = got
    if max_size:
        assert len(vocab) <= max_size
    assert 0 in ids  # rare words became <unk>
    assert all(vocab[i] == w for i, w in zip(ids, words) if i)


def test_cjk_raw_chars_round_trip_and_smallest_type():
    text = "".join(chr(0x4E00 + (i * 7919) % 400) for i in range(5000)) + "😀\n"
    out = encode(text.encode(), "char", True)
    assert out.ids.dtype == np.int16  # 402 characters: more than uint8 holds
    assert "".join(out.vocab.to_tokens(out.ids.tolist())) == text
    assert (out.ids.tolist(), out.vocab.to_list()) == book_pipeline(text, "char", True)


def test_index_type_is_the_smallest_that_holds_the_vocab():
    assert encode(b"abc\n", "char", True).ids.dtype == np.uint8
    words = " ".join(f"w{i}" for i in range(40_000)).encode()
    assert encode(words, "word", True).ids.dtype == np.int32
