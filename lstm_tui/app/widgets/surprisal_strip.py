"""The probability lens's strip: each character on the colour of the model's surprisal (bits).

Rows (:class:`LensRow`) are drawn under one marker line, with the cursor and keys of
:class:`~.char_strip.CharStrip` (the gate strip's): a row of bits per score (this run, a second
run, write mode) and a row of differences (``b - a`` bits: blue where the second is surer,
orange where it is less sure). The first character has no prediction: it is drawn plain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.style import Style
from rich.text import Text

from .char_strip import CharStrip, interpolate

__all__ = ["LensRow", "SurprisalStrip", "bits_colour", "diff_colour", "bits_scale", "MAX_BITS"]

MAX_BITS = 8.0  # the top of the colour scale (a 28-character vocabulary guesses at 4.8 bits)
MAX_DIFF = 4.0  # +-bits at the ends of the difference scale
NO_SCORE = "#303030"
# "magma"-like, 0 bits (sure, dark) -> many bits (surprised, bright).
_SURPRISE = ["#000004", "#221150", "#5f187f", "#982d80", "#d3436e", "#f8765c", "#febb81", "#fcfdbf"]
# -MAX_DIFF..+MAX_DIFF: blue (b surer) -> dark grey -> orange (b less sure).
_DIFF = ["#2b83ba", "#4f8fb8", "#4a5866", "#303030", "#6b5240", "#e08a3c", "#fdae61"]


def bits_colour(bits: float | None) -> str:
    return NO_SCORE if bits is None else interpolate(_SURPRISE, bits / MAX_BITS)


def diff_colour(diff: float | None) -> str:
    return NO_SCORE if diff is None else interpolate(_DIFF, (diff / MAX_DIFF + 1) / 2)


def bits_scale(kind: str = "bits", cells: int = 9) -> Text:
    """A small colour bar for the legend ("bits": 0..MAX_BITS, "diff": -MAX_DIFF..+MAX_DIFF)."""
    text = Text()
    for k in range(cells):
        x = k / (cells - 1)
        colour = bits_colour(x * MAX_BITS) if kind == "bits" else diff_colour((2 * x - 1) * MAX_DIFF)
        text.append(" ", Style(bgcolor=colour))
    return text


@dataclass(frozen=True)
class LensRow:
    """One row: ``values[i]`` for character ``i`` (None: not scored), shaded as bits or a diff."""

    label: str
    values: tuple[float | None, ...]
    kind: str = "bits"  # or "diff"


class SurprisalStrip(CharStrip):
    """The rows of one lens reading, or a message in their place."""

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.lens_rows: tuple[LensRow, ...] = ()

    def set_rows(self, chars: Sequence[str], rows: Sequence[LensRow]) -> None:
        for row in rows:
            if len(row.values) != len(chars):
                raise ValueError(f"row {row.label!r} has {len(row.values)} values for {len(chars)} characters")
        self.lens_rows = tuple(rows)
        self.set_chars(chars)

    def show_message(self, message: str | Text, style: str = "") -> None:
        self.lens_rows = ()
        super().show_message(message, style)

    def row_count(self) -> int:
        return len(self.lens_rows)

    def row_lines(self, first: int, end: int) -> list[Text]:
        lines = []
        for row in self.lens_rows:
            colour = bits_colour if row.kind == "bits" else diff_colour
            colours = {k: colour(row.values[k]) for k in range(first, end)}
            lines.append(self.coloured_row(row.label, colours, first, end, "bold"))
        return lines
