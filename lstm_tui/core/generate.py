"""Text generation from a recurrent language model, and perplexity measured while generating.

:func:`predict` follows d2l's ``predict_ch8`` for greedy decoding (``temperature=0``): start from
``begin_state(1)``, warm the state up on the prefix one token at a time, then repeatedly feed
the last token and take the most likely next one. ``temperature > 0`` samples from
``softmax(logits / temperature)``, optionally only among the ``top_k`` most likely tokens
and/or the smallest set of likeliest tokens whose probability reaches ``top_p`` (nucleus
sampling; 1 is no limit).
:func:`stream` yields the continuation piece by piece (for a UI); :func:`predict` is built on it.

:func:`generation_perplexity` scores a text the way the model writes: one token at a time,
carrying the state, never seeing what comes next. For a one-directional model this equals the
ordinary perplexity; a bidirectional model, which saw the future when it trained, does badly.
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from .limits import GENERATE_MAX_LENGTH

if TYPE_CHECKING:
    from .data.vocab import Vocab
    from .models.base import RecurrentLM, State

#: A device as ``torch.device`` takes it (None: the model's own).
DeviceLike = torch.device | str | None

__all__ = [
    "MAX_LENGTH",
    "GenerationError",
    "UnknownTokensError",
    "predict",
    "stream",
    "generation_perplexity",
    "token_separator",
    "prefix_tokens",
]

MAX_LENGTH = GENERATE_MAX_LENGTH
UNKNOWN_MODES = ("error", "unk")


class GenerationError(ValueError):
    """The request cannot be generated (bad prefix, length, temperature...); says why."""

    def explain(self, unk_hint: str | None = None) -> str:
        """The message for a front end that words its own advice.

        ``unk_hint`` is that front end's way to map unknown tokens to ``<unk>`` (the CLI's
        ``--unk``), or None where it has none (the app); only :class:`UnknownTokensError` uses it.
        """
        return str(self)


API_UNK_HINT = "pass unknown='unk' to map them to <unk>"


class UnknownTokensError(GenerationError):
    """The prefix has tokens the vocabulary lacks, kept as parts for each front end to word.

    The advice differs by front end (Python's ``unknown='unk'``, the CLI's ``--unk``, nothing in
    the app), so the parts stay apart instead of in one sentence to cut up: ``tokens`` (the
    unknown ones, first seen first), ``vocabulary`` (what it holds, in words), ``suggestion``
    (the prefix made of vocabulary tokens only, or None), ``left_out`` (the unknown tokens the
    suggestion drops: the others were lower-cased). ``str()`` is the whole sentence for Python
    callers (with their way past it, ``unknown='unk'``).
    """

    def __init__(
        self, tokens: Sequence[str], vocabulary: str, suggestion: str | None, left_out: Sequence[str] = ()
    ) -> None:
        self.tokens, self.vocabulary = tuple(tokens), vocabulary
        self.suggestion, self.left_out = suggestion, tuple(left_out)
        super().__init__(self.explain(API_UNK_HINT))

    def __reduce__(
        self,
    ) -> tuple[
        type[UnknownTokensError], tuple[object, ...]
    ]:  # the message is derived: pickle the parts (the default would pass args)
        return type(self), (self.tokens, self.vocabulary, self.suggestion, self.left_out)

    def explain(self, unk_hint: str | None = None) -> str:
        """The unknown tokens, then ``unk_hint`` if given, then the suggestion if there is one."""
        verb = "is" if len(self.tokens) == 1 else "are"
        text = f"{_quoted(self.tokens)} {verb} not in the vocabulary ({self.vocabulary})"
        if unk_hint:
            text += f"; {unk_hint}"
        if self.suggestion is not None:
            text += f"; try {self.suggestion!r} ({self._how_suggested()})"
        return text

    def _how_suggested(self) -> str:
        """What the suggestion changed, so the user sees why it differs from what they typed."""
        changes = []
        if len(self.left_out) < len(self.tokens):
            changes.append("lower-cased like the training text")
        if self.left_out:
            changes.append(f"without {_quoted(self.left_out)}")
        return ", ".join(changes)


def _quoted(tokens: Sequence[str], most: int = 10) -> str:
    """``'a', 'b' and 3 more``: a list of tokens short enough for one line."""
    shown = ", ".join(repr(t) for t in tokens[:most])
    return shown + (f" and {len(tokens) - most} more" if len(tokens) > most else "")


# ----------------------------------------------------------------------------- vocabulary helpers
def _is_reserved(token: str) -> bool:
    return len(token) > 2 and token.startswith("<") and token.endswith(">")


def _tokens(vocab: Vocab) -> list[str]:
    return list(getattr(vocab, "idx_to_token", None) or vocab.to_list())


def token_separator(vocab: Vocab) -> str:
    """``" "`` for a word vocabulary (tokens longer than one character), ``""`` for characters."""
    return " " if any(len(t) > 1 and not _is_reserved(t) for t in _tokens(vocab)) else ""


def _describe(vocab: Vocab, separator: str) -> str:
    plain = [t for t in _tokens(vocab) if not _is_reserved(t)]
    if separator:
        return f"a vocabulary of {len(plain)} words"
    chars = set(plain)
    if chars <= set(string.ascii_lowercase + " "):
        return "lower-case letters and space only"
    if chars <= set(string.ascii_letters + " "):
        return "letters and space only"
    shown = "".join(sorted(chars))
    return f"{len(chars)} characters: {shown[:60]!r}{'...' if len(shown) > 60 else ''}"


def _as_known(vocab: Vocab, piece: str) -> str | None:
    """``piece`` as the vocabulary holds it: itself, else lower-cased (d2l lower-cases its text), else None."""
    if piece in vocab:
        return piece
    lower = piece.lower()
    return lower if lower in vocab else None


def _suggestion(vocab: Vocab, pieces: list[str], sep: str) -> str | None:
    """The prefix rebuilt from vocabulary tokens only, or None when no text is left.

    A suggestion the user copies must work: lower-casing alone turned ``Hello, World!`` into
    ``hello, world!``, whose ``,`` and ``!`` the vocabulary still lacks, so those are dropped.
    """
    kept = [known for known in map(lambda p: _as_known(vocab, p), pieces) if known is not None]
    text = sep.join(kept)
    return text if text.strip() else None


def _unknown_tokens_error(vocab: Vocab, pieces: list[str], sep: str) -> UnknownTokensError | None:
    """The error for the pieces the vocabulary lacks, or None when it has them all."""
    missing = list(dict.fromkeys(p for p in pieces if p not in vocab))
    if not missing:
        return None
    left_out = [p for p in missing if _as_known(vocab, p) is None]
    return UnknownTokensError(missing, _describe(vocab, sep), _suggestion(vocab, pieces, sep), left_out)


def prefix_tokens(vocab: Vocab, prefix: str, *, unknown: str = "error", separator: str | None = None) -> list[int]:
    """Token indices of ``prefix``; unknown tokens raise (``unknown="error"``) or map to ``<unk>``.

    Raises :class:`UnknownTokensError` (a :class:`GenerationError`) for unknown tokens.
    """
    if unknown not in UNKNOWN_MODES:
        raise GenerationError(f"unknown must be 'error' or 'unk', not {unknown!r}")
    if not isinstance(prefix, str):
        raise GenerationError(f"the prefix must be a text, not {type(prefix).__name__}")
    sep = token_separator(vocab) if separator is None else separator
    pieces = prefix.split() if sep else list(prefix)
    if not pieces:
        raise GenerationError("the prefix is empty; give at least one " + ("word" if sep else "character"))
    if unknown == "error":
        error = _unknown_tokens_error(vocab, pieces, sep)
        if error is not None:
            raise error
    return [vocab[p] for p in pieces]


# ----------------------------------------------------------------------------- checks
def _check_length(length: Any) -> int:
    if isinstance(length, bool) or not isinstance(length, int):
        raise GenerationError(f"length must be a whole number, not {length!r}")
    if not 0 <= length <= MAX_LENGTH:
        raise GenerationError(f"length must be from 0 to {MAX_LENGTH:,}, not {length:,}")
    return length


def _check_temperature(temperature: Any) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise GenerationError(f"temperature must be a number, not {temperature!r}")
    if not math.isfinite(temperature) or temperature < 0:
        raise GenerationError(f"temperature must be a finite number >= 0 (0 is greedy), not {temperature!r}")
    return float(temperature)


def _check_top_k(top_k: Any) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0:
        raise GenerationError(f"top_k must be a whole number >= 0 (0 is no limit), not {top_k!r}")
    return top_k


def _check_top_p(top_p: Any) -> float:
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
        raise GenerationError(f"top_p must be a number above 0 and at most 1 (1 is no limit), not {top_p!r}")
    return float(top_p)


def _model_device(model: RecurrentLM, device: DeviceLike) -> torch.device:
    if device is not None:
        return torch.device(device)
    for param in model.parameters():
        found: torch.device = param.device
        return found
    return torch.device("cpu")


# ----------------------------------------------------------------------------- generation
def _choose(
    logits: torch.Tensor, temperature: float, top_k: int, generator: torch.Generator | None, top_p: float = 1.0
) -> int:
    """The next token from one row of logits (on the CPU)."""
    if torch.isnan(logits).any():
        raise GenerationError("the model produced NaN outputs (did training diverge?)")
    if temperature == 0.0 or top_k == 1:
        return int(torch.argmax(logits))
    scaled = logits.double() / temperature
    if not torch.isfinite(scaled).all():  # a temperature so small it is greedy in effect
        return int(torch.argmax(logits))
    if 0 < top_k < scaled.numel() or top_p < 1.0:
        if 0 < top_k < scaled.numel():
            values, indices = torch.topk(scaled, top_k)  # (sorted, likeliest first)
        else:
            values, indices = torch.sort(scaled, descending=True)
        if top_p < 1.0:  # the nucleus: the likeliest tokens until their probability reaches top_p
            before = torch.cumsum(torch.softmax(values, dim=0), dim=0) - torch.softmax(values, dim=0)
            keep = int((before < top_p).sum())
            values, indices = values[: max(1, keep)], indices[: max(1, keep)]
        probs = torch.softmax(values, dim=0)
        pick = torch.multinomial(probs, 1, generator=generator)
        return int(indices[pick])
    probs = torch.softmax(scaled, dim=0)
    return int(torch.multinomial(probs, 1, generator=generator))


def stream(
    model: RecurrentLM,
    vocab: Vocab,
    prefix: str,
    length: int,
    *,
    temperature: float = 0.0,
    top_k: int = 0,
    unknown: str = "error",
    generator: torch.Generator | None = None,
    device: DeviceLike = None,
    separator: str | None = None,
    top_p: float = 1.0,
) -> Iterator[str]:
    """Yield ``length`` pieces of text that continue ``prefix``, one token at a time.

    Each piece is a token, preceded by the separator for a word vocabulary (so the pieces can
    be appended to the prefix as they come). Arguments are checked before the first piece.
    ``generator`` (a CPU ``torch.Generator``) makes sampling reproducible. The model's
    train/eval mode is left as it is and no gradients are recorded.
    """
    steps = _check_length(length)
    temp = _check_temperature(temperature)
    k = _check_top_k(top_k)
    p = _check_top_p(top_p)
    sep = token_separator(vocab) if separator is None else separator
    indices = prefix_tokens(vocab, prefix, unknown=unknown, separator=sep)
    dev = _model_device(model, device)
    return _stream(model, vocab, indices, steps, temp, k, generator, dev, sep, p)


def _stream(
    model: RecurrentLM,
    vocab: Vocab,
    indices: list[int],
    steps: int,
    temperature: float,
    top_k: int,
    generator: torch.Generator | None,
    device: torch.device,
    sep: str,
    top_p: float = 1.0,
) -> Iterator[str]:
    # Grad mode is thread-local: keep no_grad inside each step, never across a ``yield``,
    # so a consumer that trains between pieces is not silently running without gradients.
    if steps == 0:
        return
    state: State
    with torch.no_grad():
        state = model.begin_state(1, device)
        for index in indices[:-1]:  # warm-up: d2l feeds the prefix one token at a time
            _, state = model(torch.tensor([[index]], device=device), state)
    last = indices[-1]
    for _ in range(steps):
        with torch.no_grad():
            logits, state = model(torch.tensor([[last]], device=device), state)
            last = _choose(logits[-1].float().cpu(), temperature, top_k, generator, top_p)
        yield sep + vocab.to_tokens(last)


def predict(
    model: RecurrentLM,
    vocab: Vocab,
    prefix: str,
    length: int,
    *,
    temperature: float = 0.0,
    top_k: int = 0,
    unknown: str = "error",
    generator: torch.Generator | None = None,
    device: DeviceLike = None,
    separator: str | None = None,
    top_p: float = 1.0,
) -> str:
    """``prefix`` followed by ``length`` generated tokens (d2l's ``predict_ch8`` when greedy)."""
    sep = token_separator(vocab) if separator is None else separator
    pieces = stream(
        model,
        vocab,
        prefix,
        length,
        temperature=temperature,
        top_k=top_k,
        unknown=unknown,
        generator=generator,
        device=device,
        separator=sep,
        top_p=top_p,
    )
    start = prefix.rstrip() if sep else prefix
    return start + "".join(pieces)


# ----------------------------------------------------------------------------- perplexity
def generation_perplexity(
    model: RecurrentLM,
    tokens: torch.Tensor | Sequence[int],
    *,
    device: DeviceLike = None,
    max_tokens: int = 2000,
    stepwise: bool | None = None,
) -> float:
    """``exp`` of the mean cross-entropy of predicting ``tokens[t+1]`` from ``tokens[:t+1]``.

    The text is read as the model reads its own output when it writes: batch 1 from
    ``begin_state``, one token at a time, carrying the state, never seeing what comes next.
    At most ``max_tokens`` predictions are scored (0 or less: all). Returns ``inf`` if the
    loss overflows.

    ``stepwise=None`` (the default) feeds a one-directional model the whole text in one call,
    which for a model that only looks back gives the same numbers, much faster; a
    bidirectional model (``model.directions > 1``) is always fed token by token, which is what
    exposes it. ``stepwise=True`` forces token-by-token feeding for any model.
    """
    seq = torch.as_tensor(tokens, dtype=torch.long).reshape(-1)
    if max_tokens and max_tokens > 0:
        seq = seq[: max_tokens + 1]
    if seq.numel() < 2:
        raise GenerationError("generation perplexity needs at least two tokens")
    if stepwise is None:
        stepwise = getattr(model, "directions", 2) != 1
    dev = _model_device(model, device)
    seq = seq.to(dev)
    count = seq.numel() - 1
    with torch.no_grad():
        state = model.begin_state(1, dev)
        if stepwise:
            total = torch.zeros((), dtype=torch.float64, device=dev)
            inputs = seq[:-1].view(-1, 1, 1)
            for t in range(count):
                logits, state = model(inputs[t], state)
                total += F.cross_entropy(logits.double(), seq[t + 1 : t + 2], reduction="sum")
        else:
            logits, _ = model(seq[:-1].view(1, -1), state)  # (steps * 1, vocab), time-major
            total = F.cross_entropy(logits.double(), seq[1:], reduction="sum")
        mean = float(total) / count
    try:
        return math.exp(mean)
    except OverflowError:
        return math.inf
