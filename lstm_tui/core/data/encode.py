"""UTF-8 text -> token indices and vocabulary: the book's results, vectorised (chars.py,
words.py), with the numbers the cleaning warning needs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .chars import CHUNK, byte_view, clean_bytes, count_values, encode_chars
from .decoding import Buffer
from .hooks import NO_HOOKS, LoadHooks
from .text import TOKEN_KINDS
from .vocab import Vocab
from .words import encode_words

_LETTER_BYTES = np.zeros(256, bool)
_LETTER_BYTES[list(range(65, 91)) + list(range(97, 123))] = True
_SPACE_BYTES = np.zeros(256, bool)
_SPACE_BYTES[[9, 10, 11, 12, 13, 32]] = True
_CONTINUATION = np.zeros(256, bool)
_CONTINUATION[0x80:0xC0] = True


@dataclass(frozen=True)
class Encoded:
    """The corpus as indices (uint8 / int16 / int32: the smallest that holds the vocabulary)."""

    ids: np.ndarray
    vocab: Vocab
    chars: int  # characters of the text (code points), before cleaning
    dropped: int  # characters the book's cleaning drops (neither ASCII letters nor whitespace); 0 raw


def encode(
    data: Buffer,
    token: str = "char",
    raw: bool = False,
    *,
    min_freq: int = 0,
    max_size: int = 0,
    hooks: LoadHooks = NO_HOOKS,
) -> Encoded:
    """Index UTF-8 ``data`` as d2l's pipeline would (``text.py`` + ``Vocab``), fast."""
    if token not in TOKEN_KINDS:
        raise ValueError(f"unknown token kind {token!r}; expected one of {', '.join(TOKEN_KINDS)}")
    counts = _byte_counts(data, hooks) if not (raw and data.isascii()) else None
    chars = len(data) if counts is None else int(len(data) - counts[_CONTINUATION].sum())
    dropped = 0 if raw or counts is None else chars - int(counts[_LETTER_BYTES].sum() + counts[_SPACE_BYTES].sum())
    if raw:
        text = normalize_newlines(data)
        ids, vocab = (
            encode_chars(text, hooks, min_freq=min_freq, max_size=max_size)
            if token == "char"
            else encode_words(text, True, hooks, min_freq=min_freq, max_size=max_size)
        )
    elif token == "char":
        ids, vocab = encode_chars(clean_bytes(data, hooks), hooks, min_freq=min_freq, max_size=max_size)
    else:
        ids, vocab = encode_words(data, False, hooks, min_freq=min_freq, max_size=max_size)
    return Encoded(ids=ids, vocab=vocab, chars=chars, dropped=dropped)


def normalize_newlines(data: Buffer) -> Buffer:
    """The raw text as d2l's lines give it: \\r\\n and \\r become \\n, and the last line ends with one."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if data and not data.endswith(b"\n"):
        data = data + b"\n"
    return data


def _byte_counts(data: Buffer, hooks: LoadHooks) -> np.ndarray:
    counts, total = np.zeros(256, np.int64), len(data)
    for start in range(0, total, CHUNK):
        stop = min(start + CHUNK, total)
        counts += count_values(byte_view(data, start, stop))
        hooks.step("counting", stop, total)
    return counts
