"""Character tokens, vectorised: the book's cleaning on bytes, counting with ``np.bincount``.

The book's pipeline (``text.py``: lines, per-line regex, lists of one-character strings, a
Counter) gives the indices; this module gives the same indices without a Python object per
character. Everything works on UTF-8 bytes in chunks (progress and cancel after each one):

* :func:`clean_bytes` is d2l's cleaning (letters only, lower case, each run of other
  characters one space, lines stripped and joined without a separator). Only ASCII letters
  survive it, so on UTF-8 a multi-byte character is just a run of "other" bytes.
* :func:`encode_chars` counts the characters (bytes when the text is ASCII, code points
  otherwise), orders them as d2l's Vocab does (by falling count, ties in first-seen order) and
  maps the text to indices in the smallest integer type that holds the vocabulary.
"""

from __future__ import annotations

import numpy as np

from .decoding import Buffer
from .hooks import LoadHooks
from .vocab import Vocab

CHUNK = 1 << 22
MAX_CODE_POINT = 0x10FFFF
_FEW_NEW = 8  # new characters in a chunk found one by one; more: one np.unique of the chunk

OTHER, LETTER, NEWLINE = 0, 1, 2
KIND = np.zeros(256, np.uint8)
KIND[ord("A") : ord("Z") + 1] = LETTER
KIND[ord("a") : ord("z") + 1] = LETTER
KIND[[ord("\n"), ord("\r")]] = NEWLINE
LOWER = np.zeros(256, np.uint8)
LOWER[ord("A") : ord("Z") + 1] = np.arange(ord("a"), ord("z") + 1)
LOWER[ord("a") : ord("z") + 1] = np.arange(ord("a"), ord("z") + 1)
_KIND_TABLE, _LOWER_TABLE = KIND.tobytes(), LOWER.tobytes()  # for bytes.translate: faster than indexing


def index_dtype(vocab_size: int) -> np.dtype:
    """The smallest integer type that holds indices ``0 .. vocab_size - 1``."""
    if vocab_size <= 256:
        return np.dtype(np.uint8)
    if vocab_size <= 2**15:
        return np.dtype(np.int16)
    return np.dtype(np.int32)


def byte_view(data: Buffer, start: int = 0, stop: int | None = None) -> np.ndarray:
    """``data[start:stop]`` as a uint8 array, without a copy."""
    stop = len(data) if stop is None else stop
    return np.frombuffer(data, np.uint8, count=stop - start, offset=start)


# ----------------------------------------------------------------------------- cleaning
def clean_bytes(data: Buffer, hooks: LoadHooks) -> bytes:
    """d2l's cleaning of UTF-8 ``data``: ASCII letters lower-cased, a space for each run of other
    characters between two letters of one line, nothing else (lines joined as d2l joins them)."""
    total, pieces, start = len(data), [], 0
    while start < total:
        stop = _significant_at_or_after(data, start + CHUNK)
        pieces.append(_clean_chunk(data, start, stop))
        hooks.step("cleaning", stop, total)
        start = stop
    return b"".join(pieces)


def _significant_at_or_after(data: Buffer, at: int) -> int:
    """The first letter or newline at or after ``at`` (the text's length if none): chunks cut
    there never split a run of other characters."""
    total = len(data)
    while at < total:
        found = np.flatnonzero(KIND[byte_view(data, at, min(total, at + 65536))])
        if len(found):
            return at + int(found[0])
        at += 65536
    return total


def _clean_chunk(data: Buffer, start: int, stop: int) -> bytes:
    """One chunk of :func:`clean_bytes` (it starts and ends at a letter or newline, or the
    text's edges). A run of other bytes becomes one space when a letter is on both sides."""
    with memoryview(data) as view:
        piece = bytes(view[start:stop])
    ext = np.empty(len(piece) + 2, np.uint8)  # the kinds, between two letter-or-newline sentinels
    ext[0] = NEWLINE
    ext[1:-1] = np.frombuffer(piece.translate(_KIND_TABLE), np.uint8)
    ext[-1] = KIND[data[stop]] if stop < len(data) else NEWLINE
    edges = np.flatnonzero(np.diff((ext == OTHER).view(np.int8)))  # +1 into a run of others, -1 out of it
    starts, ends = edges[0::2] + 1, edges[1::2] + 1  # (they alternate: both sentinels are not "other")
    space = (ext[starts - 1] == LETTER) & (ext[ends] == LETTER)
    out = bytearray(piece.translate(_LOWER_TABLE))
    np.frombuffer(out, np.uint8)[starts[space] - 1] = ord(" ")
    return bytes(out.translate(None, b"\x00"))


# ----------------------------------------------------------------------------- char tokens
def encode_chars(text: Buffer, hooks: LoadHooks, *, min_freq: int = 0, max_size: int = 0) -> tuple[np.ndarray, Vocab]:
    """``(indices, vocab)`` of the characters of UTF-8 ``text``, as d2l's Vocab orders them."""
    if text.isascii():
        return _encode_ascii(text, hooks, min_freq, max_size)
    return _encode_unicode(text, hooks, min_freq, max_size)


def count_values(codes: np.ndarray) -> np.ndarray:
    """``np.bincount(codes)``; bytes are counted two at a time (as uint16, 65,536 bins folded
    back to 256): numpy widens what it counts to int64 first, so half as many is ~3x faster."""
    if codes.dtype != np.uint8:
        return np.bincount(codes)
    even = len(codes) - len(codes) % 2
    pairs = np.bincount(codes[:even].view(np.uint16), minlength=65536).reshape(256, 256)
    counts: np.ndarray = pairs.sum(axis=0) + pairs.sum(axis=1)  # (either byte order: both halves are added)
    if even < len(codes):
        counts[codes[-1]] += 1
    return counts


class _Tally:
    """Counts of code points and where each was first seen (for d2l's tie order)."""

    def __init__(self, size: int):
        self.counts = np.zeros(size, np.int64)
        self.first = np.full(size, -1, np.int64)

    def add(self, codes: np.ndarray, offset: int) -> None:
        counts = count_values(codes)
        self.counts[: len(counts)] += counts
        new = np.flatnonzero((counts > 0) & (self.first[: len(counts)] < 0))
        if len(new) > _FEW_NEW:
            values, index = np.unique(codes, return_index=True)
            fresh = self.first[values] < 0
            self.first[values[fresh]] = offset + index[fresh]
        else:
            for value in new:
                self.first[value] = offset + int(np.argmax(codes == value))

    def vocab(self, min_freq: int, max_size: int) -> Vocab:
        seen = np.flatnonzero(self.counts)
        order = seen[np.argsort(self.first[seen], kind="stable")]
        return Vocab.from_counts(
            [chr(c) for c in order], self.counts[order].tolist(), min_freq=min_freq, max_size=max_size
        )


def _lookup(vocab: Vocab, size: int, dtype: np.dtype) -> np.ndarray:
    """Code point -> index (0, ``<unk>``, for a character the vocabulary left out)."""
    table = np.zeros(size, dtype)
    for token, index in vocab.token_to_idx.items():
        if len(token) == 1 and ord(token) < size:
            table[ord(token)] = index
    return table


def _encode_ascii(text: Buffer, hooks: LoadHooks, min_freq: int, max_size: int) -> tuple[np.ndarray, Vocab]:
    total, tally = len(text), _Tally(256)
    for start in range(0, total, CHUNK):
        stop = min(start + CHUNK, total)
        tally.add(byte_view(text, start, stop), start)
        hooks.step("counting", stop, total)
    vocab = tally.vocab(min_freq, max_size)
    table = _lookup(vocab, 256, np.dtype(np.uint8)).tobytes()
    ids = np.empty(total, np.uint8)
    with memoryview(text) as view:
        for start in range(0, total, CHUNK):
            stop = min(start + CHUNK, total)
            ids[start:stop] = byte_view(bytes(view[start:stop]).translate(table))
            hooks.step("indexing", stop, total)
    return ids, vocab


def utf8_chunks(data: Buffer, size: int = CHUNK) -> list[tuple[int, int]]:
    """``(start, stop)`` byte ranges of about ``size`` bytes that never split a character."""
    ranges, start, total = [], 0, len(data)
    while start < total:
        stop = min(start + size, total)
        while stop < total and (data[stop] & 0xC0) == 0x80:
            stop -= 1
        ranges.append((start, stop))
        start = stop
    return ranges


def _code_points(view: memoryview, start: int, stop: int) -> np.ndarray:
    return np.frombuffer(str(view[start:stop], "utf-8").encode("utf-32-le"), np.uint32)


def _encode_unicode(text: Buffer, hooks: LoadHooks, min_freq: int, max_size: int) -> tuple[np.ndarray, Vocab]:
    total, tally, ranges, count = len(text), _Tally(MAX_CODE_POINT + 1), utf8_chunks(text), 0
    with memoryview(text) as view:
        for start, stop in ranges:
            codes = _code_points(view, start, stop)
            tally.add(codes, count)
            count += len(codes)
            hooks.step("counting", stop, total)
        vocab = tally.vocab(min_freq, max_size)
        dtype = index_dtype(len(vocab))
        table, ids, done = _lookup(vocab, MAX_CODE_POINT + 1, dtype), np.empty(count, dtype), 0
        for start, stop in ranges:
            codes = _code_points(view, start, stop)
            ids[done : done + len(codes)] = table[codes]
            done += len(codes)
            hooks.step("indexing", stop, total)
    return ids, vocab
