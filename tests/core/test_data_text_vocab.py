"""Cleaning, tokenizing and the Vocab on the real book; the book's numbers must come out."""

from __future__ import annotations

import pytest

from lstm_tui.core.data import Vocab, clean_lines, read_corpus_text, tokenize


@pytest.fixture(scope="module")
def book_lines(shared_data_dir):
    return clean_lines(read_corpus_text("", shared_data_dir))


@pytest.fixture(scope="module")
def small_lines(small_corpus):
    """Cleaned lines of the small generated corpus, for tests that need some text, not the book."""
    return clean_lines(read_corpus_text(str(small_corpus)))


def test_book_lines_as_d2l(book_lines):
    assert len(book_lines) == 3221  # d2l: "# 文本总行数: 3221"
    assert book_lines[0] == "the time machine by h g wells"
    assert book_lines[10] == "twinkled and his usually pale face was flushed and animated the"


def test_book_char_vocab_and_corpus_length(book_lines):
    tokens = tokenize(book_lines, "char")
    vocab = Vocab(tokens)
    flat = [token for line in tokens for token in line]
    assert len(flat) == 170580  # d2l: load_corpus_time_machine() -> (170580, 28)
    assert len(vocab) == 28
    assert set(vocab.idx_to_token) == set("abcdefghijklmnopqrstuvwxyz ") | {"<unk>"}
    assert vocab.idx_to_token[:10] == ["<unk>", " ", "e", "t", "a", "i", "n", "o", "s", "h"]


def test_book_word_vocab(book_lines):
    vocab = Vocab(tokenize(book_lines, "word"))
    assert vocab.token_freqs[:3] == [("the", 2261), ("i", 1267), ("and", 1245)]
    assert vocab.to_tokens(list(range(1, 4))) == ["the", "i", "and"]
    assert vocab["the"] == 1 and vocab["xyzzy"] == vocab.unk == 0


def test_clean_lines_rules():
    text = "The Time-Machine, 1895!\r\nby H. G. Wells\rline3\n\n  ...  \n"
    assert clean_lines(text) == ["the time machine", "by h g wells", "line", "", ""]
    assert clean_lines(text, raw=True) == [
        "The Time-Machine, 1895!\n",
        "by H. G. Wells\n",
        "line3\n",
        "\n",
        "  ...  \n",
    ]
    assert clean_lines("") == [] and clean_lines("no newline") == ["no newline"]


def test_char_tokens_have_no_separator_between_lines():
    tokens = tokenize(clean_lines("ab\ncd\n"), "char")
    assert tokens == [["a", "b"], ["c", "d"]]
    assert [t for line in tokens for t in line] == list("abcd")


def test_tokenize_word_and_unknown_kind():
    assert tokenize(["a bb  c", ""], "word") == [["a", "bb", "c"], []]
    with pytest.raises(ValueError, match="unknown token kind 'byte'"):
        tokenize(["abc"], "byte")


def test_vocab_frequency_order_ties_first_seen():
    vocab = Vocab([["b", "a", "c"], ["a", "c", "d"]])
    # a and c appear twice (a seen first), b and d once (b seen first)
    assert vocab.idx_to_token == ["<unk>", "a", "c", "b", "d"]
    assert vocab.token_freqs == [("a", 2), ("c", 2), ("b", 1), ("d", 1)]
    assert vocab[["a", "d", "zz"]] == [1, 4, 0]
    assert vocab[("a", "b")] == [1, 3]
    assert vocab.to_tokens(2) == "c"
    assert "a" in vocab and "zz" not in vocab and "<unk>" in vocab


def test_vocab_min_freq_and_reserved():
    vocab = Vocab(list("aaabbc"), min_freq=2, reserved_tokens=["<pad>", "<bos>"])
    assert vocab.idx_to_token == ["<unk>", "<pad>", "<bos>", "a", "b"]
    assert vocab["c"] == vocab.unk and vocab["<bos>"] == 2
    assert Vocab().idx_to_token == ["<unk>"] and len(Vocab([])) == 1


def test_vocab_round_trip(small_lines):
    vocab = Vocab(tokenize(small_lines, "char"), reserved_tokens=["<pad>"])
    again = Vocab.from_list(vocab.to_list())
    assert again.idx_to_token == vocab.idx_to_token and again.token_to_idx == vocab.token_to_idx
    assert again.to_list() == vocab.to_list() and len(again) == len(vocab)
    assert all(again[t] == vocab[t] for t in vocab.idx_to_token)
    assert vocab.to_list() is not vocab.idx_to_token  # a copy: callers cannot corrupt the vocab


@pytest.mark.parametrize("bad", [[], ["a", "<unk>"], ["<unk>", "a", "a"], ["<unk>", 3]])
def test_vocab_from_list_rejects_bad_lists(bad):
    with pytest.raises(ValueError):
        Vocab.from_list(bad)
