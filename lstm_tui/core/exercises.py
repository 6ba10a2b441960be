"""The chapter's exercises (and their neighbours) as runnable cards: ready sweeps with a verdict.

Each :class:`Card` names the one field it changes, the baseline's value and the variants'; its
:meth:`~Card.spec` is a sweep (same seed, same data, the card's base config) and
:meth:`~Card.verdict` turns the runs' numbers into a sentence ("validation perplexity 1.6x lower",
"diverged at epoch 3", "no clear difference (within 3%)"), never a canned one.

The questions paraphrase d2l's exercises on RNNs and LSTMs (gradient clipping, sampling,
hyperparameters, deep RNNs, GRU vs LSTM vs RNN); the reference copy of the chapter holds no
exercise section, so the wording is ours.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import ConfigError
from .numbers import format_perplexity
from .presets import PRESETS
from .runs import RunStatus
from .sweep.results import SweepResult
from .sweep.spec import SweepSpec, grid

#: Within this relative difference two perplexities count as the same.
SAME_WITHIN = 0.03
#: What every card trains unless a front end overrides it: the concise model with 10% held out
#: (an honest comparison), fewer epochs than the book so that a card answers in minutes.
CARD_BASE: dict[str, Any] = {"val_split": 0.1, "epochs": 100}


@dataclass(frozen=True)
class Card:
    name: str
    title: str
    question: str
    field: str
    baseline: Any
    variants: tuple[Any, ...]
    preset: str = "concise"
    base: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def spec(self, shared: Mapping[str, Any] | None = None) -> SweepSpec:
        """The card's sweep: baseline first, then the variants; ``shared`` (device, data, seed,
        tiny sizes for tests...) applies to every run. ConfigError names a bad field."""
        changes = {**CARD_BASE, **self.base, **(shared or {})}
        changes.pop("preset", None)
        if self.field in (shared or {}):
            raise ConfigError(self.field, f"is the field the {self.name!r} card varies; it cannot be set for all runs")
        base = PRESETS[self.preset].config.replace(**changes)
        spec = grid(base, {self.field: (self.baseline, *self.variants)}, title=self.title, name=self.name)
        return SweepSpec(
            points=spec.points, varying=spec.varying, title=self.title, name=self.name, meta={"exercise": self.name}
        )

    def verdict(self, results: Sequence[SweepResult]) -> str:
        return verdict(self, results)


CARDS: dict[str, Card] = {
    card.name: card
    for card in (
        Card(
            "clipping",
            "Gradient clipping on vs off",
            "What happens when the gradients are not clipped? A plain RNN, whose gradients explode more "
            "easily than an LSTM's (the LSTM's stay below the threshold of 1 here): does it still converge?",
            "clip",
            1.0,
            (0.0,),
            base={"cell": "rnn"},
        ),
        Card(
            "sampling",
            "Sequential vs random minibatches",
            "Sequential partitioning carries the hidden state from batch to batch; random sampling starts "
            "each batch afresh. Which gives the lower perplexity?",
            "sampling",
            "sequential",
            ("random",),
        ),
        Card(
            "hidden",
            "Hidden size",
            "Change the number of hidden units: how do perplexity and training speed respond?",
            "hidden",
            256,
            (128, 512),
        ),
        Card(
            "layers",
            "One layer or two",
            "Does stacking a second LSTM layer lower the perplexity on this small corpus?",
            "layers",
            1,
            (2,),
        ),
        Card(
            "cell",
            "LSTM vs GRU vs plain RNN",
            "Train an LSTM, a GRU and a plain RNN with the same hidden size: which learns best, and at what cost?",
            "cell",
            "lstm",
            ("gru", "rnn"),
        ),
        Card(
            "lr",
            "Learning rate",
            "Adjust the learning rate: what does a smaller or a larger step do to training?",
            "lr",
            1.0,
            (0.25, 4.0),
        ),
    )
}


def get_card(name: str) -> Card:
    try:
        return CARDS[name]
    except KeyError:
        raise ConfigError("exercise", f"{name!r} is not an exercise; expected one of {', '.join(CARDS)}") from None


# ----------------------------------------------------------------------------- the verdict
def diverged_epoch(result: SweepResult) -> int | None:
    """The epoch a run diverged in: a non-finite perplexity in its metrics, or a failure whose
    reason says the loss or weights stopped being finite; None if it did not."""
    for record in result.metrics:
        value = record.get("perplexity")
        if isinstance(value, (int, float)) and not math.isfinite(value):
            return int(record.get("epoch", 0)) or None
    reason = (result.reason or "").lower()
    if result.status == RunStatus.FAILED.value and any(w in reason for w in ("nan", "inf", "too large")):
        return result.failed_epoch or len(result.metrics) + 1
    return None


def _label(field_name: str, value: Any) -> str:
    return f"{field_name} {value:g}" if isinstance(value, float) else f"{field_name} {value}"


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) and value > 0 else None


def compare_to(baseline: SweepResult, other: SweepResult) -> str:
    """How ``other`` did against ``baseline``, from their numbers (validation perplexity when both
    have one, else training perplexity)."""
    epoch = diverged_epoch(other)
    if epoch is not None:
        return f"diverged at epoch {epoch}"
    by_val = _finite(other.val_ppl) is not None and (
        _finite(baseline.val_ppl) is not None or _finite(baseline.train_ppl) is None
    )
    metric = "validation perplexity" if by_val else "training perplexity"
    mine = _finite(other.val_ppl if by_val else other.train_ppl)
    theirs = _finite(baseline.val_ppl if by_val else baseline.train_ppl)
    if mine is None:
        return f"no result ({other.reason or other.status})"
    if theirs is None:
        return f"{metric} {format_perplexity(mine)} (the baseline has no number to compare with)"
    ratio = theirs / mine
    numbers = f"{format_perplexity(mine)} vs {format_perplexity(theirs)}"
    if abs(mine - theirs) <= SAME_WITHIN * theirs:
        return f"no clear difference in {metric} (within {SAME_WITHIN:.0%}: {numbers})"
    if ratio > 1:
        return f"{metric} {ratio:.2g}x lower ({numbers})"
    return f"{metric} {1 / ratio:.2g}x higher ({numbers})"


def _unfinished(result: SweepResult) -> str:
    if result.status in (RunStatus.FINISHED.value, RunStatus.FAILED.value) or not result.epochs:
        return ""
    return f" [{result.status} at epoch {result.epochs_done} of {result.epochs}]"


def verdict(card: Card, results: Sequence[SweepResult]) -> str:
    """One clause per variant against the baseline (the run whose value is the card's baseline)."""
    baseline = next((r for r in results if r.values.get(card.field) == card.baseline), None)
    if baseline is None:
        return f"no baseline run ({_label(card.field, card.baseline)}) to compare with"
    clauses = []
    base_diverged = diverged_epoch(baseline)
    if base_diverged is not None:
        clauses.append(f"the baseline ({_label(card.field, card.baseline)}) diverged at epoch {base_diverged}")
    for result in results:
        if result is baseline:
            continue
        value = result.values.get(card.field)
        clauses.append(f"{_label(card.field, value)}: {compare_to(baseline, result)}{_unfinished(result)}")
    head = f"against {_label(card.field, card.baseline)}{_unfinished(baseline)}"
    return head + ": " + "; ".join(clauses) if clauses else head + ": no variant ran"


__all__ = ["CARDS", "CARD_BASE", "SAME_WITHIN", "Card", "compare_to", "diverged_epoch", "get_card", "verdict"]
