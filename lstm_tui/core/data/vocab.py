"""d2l's Vocab, plus an exact list round trip so a checkpoint restores the same indices."""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from typing import Any, cast, overload

UNK = "<unk>"


#: A flat token list or one token list per line (d2l's two shapes).
Tokens = Sequence[str] | Sequence[Sequence[str]]


def count_corpus(tokens: Tokens) -> collections.Counter[str]:
    """Token frequencies of a flat or line-nested token list (first-seen order kept)."""
    if len(tokens) == 0 or isinstance(tokens[0], (list, tuple)):
        return collections.Counter(token for line in tokens for token in line)
    return collections.Counter(cast(Sequence[str], tokens))  # the first token is not a list: the flat shape


class Vocab:
    """Token <-> index table: ``<unk>`` at 0, reserved tokens, then by falling frequency.

    Ties keep first-seen order (Counter insertion order + stable sort), exactly as d2l.
    """

    def __init__(
        self,
        tokens: Tokens | None = None,
        min_freq: int = 0,
        reserved_tokens: Iterable[str] | None = None,
        max_size: int = 0,
    ):
        counter = count_corpus(tokens if tokens is not None else [])
        self._fill(counter.items(), min_freq, reserved_tokens, max_size)

    def _fill(
        self, freqs: Iterable[tuple[str, int]], min_freq: int, reserved_tokens: Iterable[str] | None, max_size: int
    ) -> None:
        """d2l's construction from ``(token, count)`` pairs in first-seen order; ``max_size`` > 0
        keeps at most that many entries (``<unk>`` included), the rarest tokens becoming ``<unk>``."""
        self._token_freqs = sorted(freqs, key=lambda item: item[1], reverse=True)
        self.idx_to_token: list[str] = [UNK] + list(reserved_tokens or [])
        self.token_to_idx: dict[str, int] = {token: idx for idx, token in enumerate(self.idx_to_token)}
        for token, freq in self._token_freqs:
            if freq < min_freq or 0 < max_size <= len(self.idx_to_token):
                break
            if token not in self.token_to_idx:
                self.token_to_idx[token] = len(self.idx_to_token)
                self.idx_to_token.append(token)

    @classmethod
    def from_counts(
        cls, tokens: Sequence[str], counts: Sequence[int], *, min_freq: int = 0, max_size: int = 0
    ) -> Vocab:
        """The vocabulary :class:`Vocab` builds from a token list whose distinct tokens, in
        first-seen order, are ``tokens`` with ``counts`` occurrences (counted elsewhere, fast)."""
        vocab = cls.__new__(cls)
        vocab._fill(zip(tokens, (int(c) for c in counts)), min_freq, None, max_size)
        return vocab

    @classmethod
    def from_list(cls, idx_to_token: Sequence[str]) -> Vocab:
        """Rebuild a vocabulary from :meth:`to_list` (token frequencies are not kept)."""
        tokens = list(idx_to_token)
        if not tokens or tokens[0] != UNK:
            raise ValueError(f"a vocabulary list must start with {UNK!r}")
        if len(set(tokens)) != len(tokens):
            raise ValueError("a vocabulary list must not repeat tokens")
        if not all(isinstance(token, str) for token in tokens):
            raise ValueError("vocabulary tokens must be strings")
        vocab = cls()
        vocab.idx_to_token = tokens
        vocab.token_to_idx = {token: idx for idx, token in enumerate(tokens)}
        return vocab

    def to_list(self) -> list[str]:
        """The tokens in index order (plain strings: safe in a weights_only checkpoint)."""
        return list(self.idx_to_token)

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __contains__(self, token: object) -> bool:
        return token in self.token_to_idx

    @overload
    def __getitem__(self, tokens: str) -> int: ...
    @overload
    def __getitem__(self, tokens: list[Any] | tuple[Any, ...]) -> list[Any]: ...

    def __getitem__(self, tokens: str | list[Any] | tuple[Any, ...]) -> int | list[Any]:
        """Index of a token (``unk`` if unknown), or a list of indices for a list/tuple."""
        if not isinstance(tokens, (list, tuple)):
            return self.token_to_idx.get(tokens, self.unk)
        return [self.__getitem__(token) for token in tokens]

    @overload
    def to_tokens(self, indices: int) -> str: ...
    @overload
    def to_tokens(self, indices: list[int] | tuple[int, ...]) -> list[str]: ...

    def to_tokens(self, indices: int | list[int] | tuple[int, ...]) -> str | list[str]:
        """Token of an index, or a list of tokens for a list/tuple of indices."""
        if not isinstance(indices, (list, tuple)):
            return self.idx_to_token[indices]
        return [self.idx_to_token[index] for index in indices]

    @property
    def unk(self) -> int:
        return 0

    @property
    def token_freqs(self) -> list[tuple[str, int]]:
        return self._token_freqs

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.idx_to_token[:8])
        return f"Vocab({len(self)} tokens: {head}{', ...' if len(self) > 8 else ''})"
