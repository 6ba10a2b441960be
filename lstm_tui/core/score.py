"""The probability lens: how surprised a model is by each character of a text.

:func:`score_text` reads a text the way the trainer does (``mode="train"``: the whole text in
one call from ``begin_state``, so a bidirectional model sees the future) or the way the model
writes (``mode="write"``: one token at a time, only the past). Position ``i`` scores token
``i + 1`` from tokens ``0..i`` (the first token has no prediction). Surprisal is in bits:
``-log2 p(token)``; the text's bits per character is the mean, its perplexity ``2 ** bpc``, which
is ``exp`` of the trainer's mean cross-entropy on the same text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from .generate import DeviceLike, GenerationError, prefix_tokens, token_separator

if TYPE_CHECKING:
    from .data.vocab import Vocab
    from .models.base import RecurrentLM

__all__ = [
    "MODES",
    "MAX_SCORE_TOKENS",
    "CharScore",
    "TextScore",
    "score_text",
    "score_both_ways",
    "compare_scores",
    "ScoreComparison",
]

MODES = ("train", "write")
TOP_K = 5
MAX_SCORE_TOKENS = 200_000
LN2 = math.log(2.0)


@dataclass(frozen=True)
class CharScore:
    """The prediction of token ``index`` (>= 1) of the text."""

    index: int
    token: str
    bits: float
    top: tuple[tuple[str, float], ...]  # the most likely tokens here, with probabilities

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "char": self.token, "bits": self.bits, "top": [list(t) for t in self.top]}


@dataclass(frozen=True)
class TextScore:
    tokens: tuple[str, ...]
    positions: tuple[CharScore, ...]
    mode: str
    separator: str = ""

    @property
    def bits_per_char(self) -> float:
        return sum(p.bits for p in self.positions) / len(self.positions)

    @property
    def perplexity(self) -> float:
        try:
            return math.pow(2.0, self.bits_per_char)
        except OverflowError:
            return math.inf

    @property
    def nats(self) -> float:
        """The mean cross-entropy in nats (the trainer's loss on this text)."""
        return self.bits_per_char * LN2

    def most_surprising(self, n: int = 10) -> list[CharScore]:
        """The ``n`` positions with the most bits, most surprising first (ties: earlier first)."""
        return sorted(self.positions, key=lambda p: (-p.bits, p.index))[:n]

    def context(self, index: int, width: int = 12) -> tuple[str, str, str]:
        """``(before, token, after)`` around token ``index``, ``width`` tokens each side."""
        sep = self.separator
        before = sep.join(self.tokens[max(0, index - width) : index])
        after = sep.join(self.tokens[index + 1 : index + 1 + width])
        return before, self.tokens[index], after

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "bits_per_char": self.bits_per_char,
            "perplexity": self.perplexity,
            "scored": len(self.positions),
            "positions": [p.to_dict() for p in self.positions],
        }


@dataclass(frozen=True)
class ScoreComparison:
    """Two models on the same text: ``diff[i] = b.bits - a.bits`` (negative: b is surer)."""

    a: TextScore
    b: TextScore
    diff: tuple[float, ...]

    @property
    def mean_diff(self) -> float:
        return sum(self.diff) / len(self.diff)


def _log_probs(model: RecurrentLM, seq: torch.Tensor, mode: str) -> torch.Tensor:
    """``(len(seq) - 1, vocab)`` float64 log-probabilities of each next token."""
    device = seq.device
    with torch.no_grad():
        state = model.begin_state(1, device)
        if mode == "train":
            logits, _ = model(seq[:-1].view(1, -1), state)  # time-major (steps * 1, vocab)
        else:
            rows = []
            for t in range(seq.numel() - 1):
                out, state = model(seq[t].view(1, 1), state)
                rows.append(out[-1])
            logits = torch.stack(rows)
    return F.log_softmax(logits.double(), dim=-1)


def score_text(
    model: RecurrentLM,
    vocab: Vocab,
    text: str,
    *,
    mode: str = "train",
    top_k: int = TOP_K,
    unknown: str = "error",
    device: DeviceLike = None,
) -> TextScore:
    """Per-token surprisal of ``text`` with the ``top_k`` likeliest tokens at each position.

    Raises :class:`~.generate.GenerationError` for a text of fewer than two tokens, unknown
    tokens (``unknown="unk"`` maps them to ``<unk>``), a bad mode or a text too long."""
    if mode not in MODES:
        raise GenerationError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    sep = token_separator(vocab)
    indices = prefix_tokens(vocab, text, unknown=unknown, separator=sep)
    if len(indices) < 2:
        raise GenerationError("scoring needs at least two " + ("words" if sep else "characters"))
    if len(indices) > MAX_SCORE_TOKENS:
        raise GenerationError(f"the text has {len(indices):,} tokens; at most {MAX_SCORE_TOKENS:,} are scored")
    dev = torch.device(device) if device is not None else next(model.parameters()).device
    seq = torch.tensor(indices, dtype=torch.long, device=dev)
    logp = _log_probs(model, seq, mode).cpu()
    if torch.isnan(logp).any():
        raise GenerationError("the model produced NaN outputs (did training diverge?)")
    target = seq[1:].cpu()
    bits = (-logp.gather(1, target.view(-1, 1)).view(-1) / LN2).tolist()
    k = max(0, min(top_k, logp.shape[1]))
    top_p, top_i = (
        logp.exp().topk(k, dim=1) if k else (torch.empty(len(bits), 0), torch.empty(len(bits), 0, dtype=torch.long))
    )
    tokens = tuple(vocab.to_tokens(i) for i in indices)
    positions = tuple(
        CharScore(
            index=t + 1,
            token=tokens[t + 1],
            bits=bits[t],
            top=tuple((vocab.to_tokens(int(i)), float(p)) for p, i in zip(top_p[t].tolist(), top_i[t].tolist())),
        )
        for t in range(len(bits))
    )
    return TextScore(tokens=tokens, positions=positions, mode=mode, separator=sep)


def score_both_ways(model: RecurrentLM, vocab: Vocab, text: str, **kwargs: Any) -> tuple[TextScore, TextScore]:
    """``(train-mode, write-mode)`` scores: for a bidirectional model the gap between them is why
    its text is garbage (it learned to read the answer from the future)."""
    return score_text(model, vocab, text, mode="train", **kwargs), score_text(
        model, vocab, text, mode="write", **kwargs
    )


def compare_scores(a: TextScore, b: TextScore) -> ScoreComparison:
    """Per-position ``b.bits - a.bits`` for two scores of the same text (two models, or one model
    read two ways); a ValueError if the texts differ."""
    if a.tokens != b.tokens:
        raise ValueError("the two scores are of different texts (or vocabularies that split them differently)")
    return ScoreComparison(a, b, tuple(pb.bits - pa.bits for pa, pb in zip(a.positions, b.positions)))
