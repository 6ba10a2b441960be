"""load_corpus: the whole pipeline on the real book, cuts, validation split, length checks."""

from __future__ import annotations

import pytest
import torch

from lstm_tui.core.config import RunConfig
from lstm_tui.core.data import CorpusData, CorpusError, load_corpus, split_corpus


@pytest.fixture
def config(shared_data_dir) -> RunConfig:
    return RunConfig(data_dir=str(shared_data_dir))


@pytest.fixture
def small_config(small_corpus) -> RunConfig:
    """The default config on the small generated corpus, for the checks that need some text."""
    return RunConfig(corpus=str(small_corpus))


def test_default_config_gives_d2l_corpus(config, corpus_bytes):
    data = load_corpus(config)
    assert isinstance(data, CorpusData)
    assert len(data.train) == 10_000 and data.val is None and data.tokens == 10_000
    assert len(data.vocab) == 28 and data.train.dtype == torch.uint8  # the smallest type that holds 28
    assert data.text_chars == len(corpus_bytes)
    assert "".join(data.vocab.to_tokens(data.train[:16].tolist())) == "the time machine"


def test_whole_book(config):
    for whole in (0, -1):
        data = load_corpus(config.replace(max_tokens=whole))
        assert len(data.train) == 170580


def test_val_split_is_the_tail(config):
    full = load_corpus(config.replace(max_tokens=0))
    data = load_corpus(config.replace(max_tokens=10_000, val_split=0.1))
    assert len(data.train) == 9_000 and len(data.val) == 1_000 and data.tokens == 10_000
    assert torch.equal(torch.cat([data.train, data.val]), full.train[:10_000])
    assert len(data.vocab) == 28  # vocabulary over the whole book, not the cut


def test_word_tokens_and_raw(config):
    words = load_corpus(config.replace(token="word", max_tokens=0, batch_size=4, num_steps=5))
    assert len(words.train) == 32775 and len(words.vocab) == 4580  # d2l's word numbers
    raw = load_corpus(config.replace(raw=True))
    assert {"T", ",", ".", "\n"} <= set(raw.vocab.idx_to_token)


def test_too_short_for_one_batch(small_config):
    with pytest.raises(CorpusError) as info:
        load_corpus(small_config.replace(max_tokens=500, batch_size=32, num_steps=35))
    error = info.value
    assert "500 tokens" in error.reason and "batch_size 32" in error.reason and "num_steps 35" in error.reason
    assert "smaller batch_size or num_steps" in error.hint


def test_validation_too_short(small_config):
    with pytest.raises(CorpusError, match="validation part has 20 tokens, fewer than num_steps 35"):
        load_corpus(small_config.replace(max_tokens=2000, val_split=0.01, batch_size=4))


def test_local_corpus_without_letters(tmp_path):
    (tmp_path / "digits.txt").write_text("1234 5678\n" * 10)
    cfg = RunConfig(corpus=str(tmp_path / "digits.txt"), data_dir=str(tmp_path))
    with pytest.raises(CorpusError, match="no tokens after cleaning"):
        load_corpus(cfg)


def test_split_corpus():
    corpus = torch.arange(100)
    train, val = split_corpus(corpus, 0.25)
    assert train.tolist() == list(range(75)) and val.tolist() == list(range(75, 100))
    assert split_corpus(corpus, 0.0) == (corpus, None)
