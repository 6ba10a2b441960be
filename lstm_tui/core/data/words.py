"""Word tokens in chunks: each word counted with a C-level Counter, indexed through ``map``.

The book's word tokens are ``line.split()`` of the cleaned lines (runs of ASCII letters, lower
case) or, raw, of the text's lines (``str.split``: any Unicode whitespace separates words).
Both equal splitting the whole text once the cleaning maps every non-letter to a space, so the
text is split in chunks that end on a space. Words get provisional ids in first-seen order as
they come; once all are counted, d2l's Vocab order is applied to them with one lookup table.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

from .chars import CHUNK, LOWER, index_dtype
from .decoding import Buffer
from .hooks import LoadHooks
from .vocab import Vocab

#: Non-raw words: ASCII letters lower-cased, every other byte a space.
_CLEAN_WORDS = bytes(int(b) if b else 32 for b in LOWER)
#: ASCII bytes that ``str.split`` treats as whitespace, all made spaces (``bytes.split`` and
#: ``str.split`` then agree on ASCII text).
_ASCII_SPACES = bytes(32 if chr(b).isspace() else b for b in range(256))


class _Words:
    """Provisional ids (first-seen order), counts, and each chunk's ids."""

    def __init__(self) -> None:
        self.ids: dict[Any, int] = {}
        self.counts: list[int] = []
        self.pieces: list[np.ndarray] = []

    def add(self, words: list[Any]) -> None:
        ids, counts = self.ids, self.counts
        for word, count in collections.Counter(words).items():  # first-seen order within the chunk
            index = ids.get(word)
            if index is None:
                ids[word] = len(counts)
                counts.append(count)
            else:
                counts[index] += count
        self.pieces.append(np.fromiter(map(ids.__getitem__, words), np.int32, len(words)))

    def encode(self, min_freq: int, max_size: int, as_text: bool) -> tuple[np.ndarray, Vocab]:
        tokens = [w.decode("ascii") for w in self.ids] if as_text else list(self.ids)
        vocab = Vocab.from_counts(tokens, self.counts, min_freq=min_freq, max_size=max_size)
        dtype = index_dtype(len(vocab))
        table = np.fromiter((vocab.token_to_idx.get(t, 0) for t in tokens), dtype, len(tokens))
        provisional = np.concatenate(self.pieces) if self.pieces else np.zeros(0, np.int32)
        return table[provisional], vocab


def encode_words(
    data: Buffer, raw: bool, hooks: LoadHooks, *, min_freq: int = 0, max_size: int = 0
) -> tuple[np.ndarray, Vocab]:
    """``(indices, vocab)`` of the word tokens of UTF-8 ``data`` (raw or cleaned, as the book)."""
    ascii_text = not raw or data.isascii()
    text = data.translate(_CLEAN_WORDS if not raw else _ASCII_SPACES) if ascii_text else data
    words, total, start = _Words(), len(text), 0
    with memoryview(text) as view:
        while start < total:
            stop = _cut(text, start + CHUNK)
            piece = view[start:stop]
            words.add(bytes(piece).split() if ascii_text else str(piece, "utf-8").split())
            hooks.step("counting", stop, total)
            start = stop
    return words.encode(min_freq, max_size, as_text=ascii_text)


def _cut(text: Buffer, at: int) -> int:
    """The end of a chunk: just after the first ASCII space or newline at or after ``at``."""
    if at >= len(text):
        return len(text)
    found = [p for p in (text.find(b" ", at), text.find(b"\n", at)) if p >= 0]
    return min(found) + 1 if found else len(text)
