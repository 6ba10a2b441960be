"""The probability lens's words: the reading's rows, the detail at the cursor, the totals and
the most surprising characters, as Rich text (no Textual, no torch: scores come finished)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text

from ...core.numbers import format_perplexity
from ..widgets.char_strip import text_colour
from ..widgets.surprisal_strip import LensRow, bits_colour, diff_colour

__all__ = ["LensReading", "reading_rows", "detail_text", "totals_text", "surprising_text", "shown"]

SURPRISING = 10


@dataclass(frozen=True)
class LensReading:
    """What the worker found: ``scores`` by label (first: the model's own), ``diff`` of the second
    run against the first (or None)."""

    scores: tuple[tuple[str, Any], ...]  # (label, TextScore)
    diff: tuple[float, ...] | None = None

    @property
    def main(self) -> Any:
        return self.scores[0][1]

    @property
    def tokens(self) -> tuple[str, ...]:
        return tuple(self.main.tokens)


def shown(token: str) -> str:
    return "space" if token == " " else repr(token)


def _aligned(score: Any) -> tuple[float | None, ...]:
    values: list[float | None] = [None] * len(score.tokens)
    for position in score.positions:
        values[position.index] = position.bits
    return tuple(values)


def reading_rows(reading: LensReading) -> list[LensRow]:
    rows = [LensRow(label, _aligned(score)) for label, score in reading.scores]
    if reading.diff is not None:
        rows.append(LensRow("b - a", (None, *reading.diff), "diff"))
    return rows


def _bits(value: float) -> Text:
    colour = bits_colour(value)
    return Text(f"{value:.2f}", style=f"{text_colour(colour)} on {colour}")


def detail_text(reading: LensReading, index: int) -> Text:
    """At character ``index``: its bits in each row and each score's five likeliest characters."""
    tokens = reading.tokens
    line = Text()
    line.append(shown(tokens[index]), "bold")
    line.append(f"  {index + 1}/{len(tokens)}", "dim")
    if index == 0:
        line.append("   the first character has no prediction (nothing before it)", "dim")
        return line
    for label, score in reading.scores:
        position = score.positions[index - 1]
        line.append(f"   {label} ")
        line.append_text(_bits(position.bits))
        line.append(" bits")
    if reading.diff is not None:
        diff = reading.diff[index - 1]
        colour = diff_colour(diff)
        line.append("   b - a ")
        line.append(f"{diff:+.2f}", style=f"{text_colour(colour)} on {colour}")
    for label, score in reading.scores:
        line.append(f"\n{label:<6} expects ", "dim")
        for token, p in score.positions[index - 1].top:
            style = "bold green" if token == tokens[index] else ""
            line.append(f"{shown(token)} {p:.0%}", style)
            line.append("  ")
    return line


def _ppl(value: float) -> str:
    return format_perplexity(value)


def totals_text(reading: LensReading) -> Text:
    """Bits per character and perplexity of every score."""
    line = Text()
    for k, (label, score) in enumerate(reading.scores):
        if k:
            line.append("   ")
        line.append(f"{label}: ", "bold")
        line.append(f"{score.bits_per_char:.3f} bits/char", "cyan")
        line.append(f" · perplexity {_ppl(score.perplexity)}")
    if reading.diff is not None and reading.diff:
        mean = sum(reading.diff) / len(reading.diff)
        surer = sum(1 for d in reading.diff if d < 0)
        line.append(f"   b - a: {mean:+.3f} bits/char, b surer at {surer}/{len(reading.diff)}", "dim")
    return line


def surprising_text(reading: LensReading, width: int = 8) -> Text:
    """The ten most surprising characters of the first score, in their context."""
    score = reading.main
    line = Text("most surprising  ", style="bold")
    for k, position in enumerate(score.most_surprising(SURPRISING)):
        before, token, after = score.context(position.index, width)
        if k:
            line.append("  ")
        line.append(before[-width:].replace(" ", "·"), "dim")
        colour = bits_colour(position.bits)
        line.append(token.replace(" ", "·"), style=f"bold {text_colour(colour)} on {colour}")
        line.append(after[:2].replace(" ", "·"), "dim")
        line.append(f" {position.bits:.1f}")
    return line
