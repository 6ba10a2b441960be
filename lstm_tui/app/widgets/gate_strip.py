"""Coloured strips of an LSTM's gates, one cell per character, with a cursor (the gate inspector).

:class:`GateStrip` draws a :class:`~lstm_tui.core.gates.GateTrace`: one row per gate (input,
forget, output: the mean over the hidden units, 0..1) and one per hidden unit (H, -1..+1).
Each cell is the character on a background whose colour is the value (viridis for the gates,
a blue-grey-orange diverging scale for H, both readable on dark terminals and by people
with the common colour-vision deficiencies). Left/right move a cursor; the strip scrolls
horizontally to keep it in view and posts :class:`GateStrip.CursorMoved`.

The widget never computes anything: the screen hands it a finished trace (or a message to
show in its place).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style
from rich.text import Text
from textual.binding import Binding

from .char_strip import LABEL_WIDTH, CharStrip, interpolate, text_colour

__all__ = ["GateStrip", "gate_colour", "unit_colour", "text_colour", "scale_text"]

GATES = (("input", "input_gate"), ("forget", "forget_gate"), ("output", "output_gate"))

# viridis (matplotlib), 0..1: dark purple -> teal -> yellow; perceptually uniform.
_VIRIDIS = ["#440154", "#472c7a", "#3b518b", "#2c718e", "#21908d", "#27ad81", "#5cc863", "#aadc32", "#fde725"]
# -1..+1: blue -> dark grey -> orange (a dark middle: quiet units fade into the background).
_DIVERGING = ["#2b83ba", "#4f8fb8", "#5d7f9c", "#4a5866", "#303030", "#6b5240", "#a86a3a", "#e08a3c", "#fdae61"]


def gate_colour(value: float) -> str:
    """Background colour of a gate value 0..1."""
    return interpolate(_VIRIDIS, value)


def unit_colour(value: float) -> str:
    """Background colour of a hidden state value -1..+1."""
    return interpolate(_DIVERGING, (value + 1) / 2)


def scale_text(kind: str, cells: int = 9) -> Text:
    """A small colour bar for the legend: ``kind`` is "gate" (0..1) or "unit" (-1..+1)."""
    text = Text()
    for k in range(cells):
        x = k / (cells - 1)
        colour = gate_colour(x) if kind == "gate" else unit_colour(2 * x - 1)
        text.append(" ", Style(bgcolor=colour))
    return text


def _stretcher(values: Sequence[float], gate: bool):
    """Maps a row's own min..max onto the whole colour range (0..1 for gates, -1..+1 for H)."""
    lo, hi = min(values), max(values)
    if not gate:
        hi = max(abs(lo), abs(hi))
        lo = -hi
    if hi - lo < 1e-9:
        return lambda v: 0.5 if gate else 0.0
    if gate:
        return lambda v: (v - lo) / (hi - lo)
    return lambda v: v / hi


class GateStrip(CharStrip):
    """The strips of one :class:`GateTrace`, or a message in their place."""

    BINDINGS = [
        *CharStrip.BINDINGS,
        Binding("u", "toggle_units", "Units", show=False, tooltip="Show the top units or the means"),
        Binding("c", "toggle_stretch", "Contrast", show=False, tooltip="More contrast"),
    ]

    #: (kept as GateStrip.CursorMoved for the screens: the same message class as CharStrip's)
    CursorMoved = CharStrip.CursorMoved

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.trace = None
        self.show_units = True
        self.max_units: int | None = None  # how many unit rows fit (None: all)
        self.stretch = False  # colour each row from its own min to max instead of the fixed range

    # ------------------------------------------------------------------ data
    @property
    def rows(self) -> list[tuple[str, list[float]]]:
        """``(label, values)`` of every row drawn: the three gates, then the units shown."""
        trace = self.trace
        if trace is None:
            return []
        rows = [(label, list(getattr(trace, field))) for label, field in GATES]
        rows += [(f"h{unit}", list(values)) for unit, values in self.shown_units()]
        return rows

    def shown_units(self) -> list[tuple[int, list[float]]]:
        """``(unit, values)`` of the unit rows drawn (most varying first)."""
        if self.trace is None or not self.show_units:
            return []
        pairs = list(zip(self.trace.units, self.trace.unit_values))
        return pairs if self.max_units is None else pairs[: max(self.max_units, 0)]

    def set_max_units(self, count: int | None) -> None:
        if count != self.max_units:
            self.max_units = count
            self.refresh(layout=True)
            self.announce()

    def set_trace(self, trace) -> None:
        """Show ``trace``; the cursor stays on the same index when the new text is long enough."""
        self.trace = trace
        self.set_chars(trace.chars)

    def show_message(self, message: str | Text, style: str = "") -> None:
        self.trace = None
        super().show_message(message, style)

    # ------------------------------------------------------------------ keys
    def action_toggle_units(self) -> None:
        self.show_units = not self.show_units
        self.refresh(layout=True)
        self.announce()

    def action_toggle_stretch(self) -> None:
        self.stretch = not self.stretch
        self.refresh()
        self.announce()

    # ------------------------------------------------------------------ drawing
    def row_count(self) -> int:
        units = len(self.shown_units())
        return len(GATES) + (1 + units if units else 0)

    def row_lines(self, first: int, end: int) -> list[Text]:
        trace = self.trace

        def strip(label: str, values: Sequence[float], colour, label_style: str) -> Text:
            scale = _stretcher(values, colour is gate_colour) if self.stretch else (lambda v: v)
            colours = {k: colour(scale(values[k])) for k in range(first, end)}
            return self.coloured_row(label, colours, first, end, label_style)

        lines = [strip(label, getattr(trace, field), gate_colour, "bold") for label, field in GATES]
        units = self.shown_units()
        if units:
            lines.append(Text("hidden".ljust(LABEL_WIDTH) + "H of the most varying units (-1 … +1)", style="dim"))
            for unit, values in units:
                lines.append(strip(f"h{unit}", values, unit_colour, ""))
        return lines
