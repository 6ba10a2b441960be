"""The whole pipeline for one run: text -> clean lines -> tokens -> Vocab -> index tensors.

The vocabulary is built over ALL tokens before ``max_tokens`` cuts the corpus (as d2l does),
so a short run still knows every character of the book; the validation part is the tail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from .corpus import read_corpus_text
from .download import Progress
from .errors import CorpusError
from .iterators import count_batches, min_corpus_tokens
from .text import clean_lines, tokenize
from .vocab import Vocab

if TYPE_CHECKING:
    from ..config import RunConfig


@dataclass
class CorpusData:
    """Index tensors for training (and validation) plus the vocabulary they index."""

    train: torch.Tensor
    val: torch.Tensor | None
    vocab: Vocab
    text_chars: int

    @property
    def tokens(self) -> int:
        """Tokens used (train + val), after the ``max_tokens`` cut."""
        return len(self.train) + (len(self.val) if self.val is not None else 0)


def load_corpus(config: RunConfig, progress: Progress | None = None) -> CorpusData:
    """Read, clean, tokenize and index the corpus ``config`` names; check it is long enough."""
    text = read_corpus_text(config.corpus, config.data_dir, progress)
    tokens = tokenize(clean_lines(text, raw=config.raw), config.token)
    vocab = Vocab(tokens)
    corpus = torch.tensor([vocab[token] for line in tokens for token in line], dtype=torch.long)
    if config.max_tokens > 0:
        corpus = corpus[:config.max_tokens]
    train, val = split_corpus(corpus, config.val_split)
    _check_lengths(train, val, config)
    return CorpusData(train=train, val=val, vocab=vocab, text_chars=len(text))


def corpus_for(config: RunConfig, *, vocab: Vocab | None = None, progress: Progress | None = None) -> CorpusData:
    """The corpus a run of ``config`` trains on (:func:`load_corpus`); with ``vocab`` (a
    checkpoint's), a CorpusError when the corpus gives another vocabulary. The one loader of
    a run's corpus: the trainer and the run preparation (core/session.py) both call it."""
    data = load_corpus(config, progress=progress)
    if vocab is not None:
        check_vocab(data, vocab)
    return data


def check_vocab(data: CorpusData, vocab: Vocab) -> None:
    """CorpusError when ``data`` indexes another vocabulary than ``vocab`` (a checkpoint's)."""
    if vocab.to_list() != data.vocab.to_list():
        raise CorpusError(
            "the corpus gives another vocabulary than the one the checkpoint was trained on",
            "resume with the same corpus, token and raw settings",
        )


def check_batches(train_tokens: int, config: RunConfig) -> int:
    """Batches per epoch of ``train_tokens`` tokens under ``config``; CorpusError when there is
    not one (the rule "too short for one batch" lives here only)."""
    need = min_corpus_tokens(config.batch_size, config.num_steps)
    batches = count_batches(train_tokens, config.batch_size, config.num_steps, config.sampling)
    if train_tokens < need or batches < 1:
        raise CorpusError(
            f"the training corpus has {train_tokens} tokens, too few for one batch of "
            f"batch_size {config.batch_size} x num_steps {config.num_steps} (needs {need})",
            "use a smaller batch_size or num_steps, a larger max_tokens, or a smaller val_split",
        )
    return batches


def split_corpus(corpus: torch.Tensor, val_split: float) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Hold out the last ``val_split`` fraction (the end of the book) as validation."""
    if val_split <= 0:
        return corpus, None
    n_val = int(len(corpus) * val_split)
    return corpus[:len(corpus) - n_val], corpus[len(corpus) - n_val:]


def _check_lengths(train: torch.Tensor, val: torch.Tensor | None, config: RunConfig) -> None:
    where = config.corpus or "The Time Machine"
    if len(train) == 0 and val is None:
        raise CorpusError(f"the corpus {where} has no tokens after cleaning", "non-raw cleaning keeps only letters; try raw=true or another file")
    check_batches(len(train), config)
    if val is not None and len(val) < config.num_steps + 1:
        raise CorpusError(
            f"the validation part has {len(val)} tokens, fewer than num_steps {config.num_steps} + 1",
            "use a larger val_split or max_tokens, or a smaller num_steps",
        )
