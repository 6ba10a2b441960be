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

from bisect import bisect_right
from typing import Sequence

from rich.cells import cell_len, set_cell_size
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

__all__ = ["GateStrip", "gate_colour", "unit_colour", "text_colour", "scale_text"]

LABEL_WIDTH = 8  # "forget " plus a space
SCROLL_MARGIN = 4  # cells kept visible beside the cursor when the strip scrolls
MAX_WORD_CELL = 10  # a word-level model's cell: the word cut to this many columns
#: Characters drawn as a visible stand-in (no width of their own, or they would move the row).
SHOWN_AS = {" ": "·", "\n": "↵", "\t": "→", "\r": "␍"}
GATES = (("input", "input_gate"), ("forget", "forget_gate"), ("output", "output_gate"))

# viridis (matplotlib), 0..1: dark purple -> teal -> yellow; perceptually uniform.
_VIRIDIS = ["#440154", "#472c7a", "#3b518b", "#2c718e", "#21908d", "#27ad81", "#5cc863", "#aadc32", "#fde725"]
# -1..+1: blue -> dark grey -> orange (a dark middle: quiet units fade into the background).
_DIVERGING = ["#2b83ba", "#4f8fb8", "#5d7f9c", "#4a5866", "#303030", "#6b5240", "#a86a3a", "#e08a3c", "#fdae61"]


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _interpolate(stops: Sequence[str], x: float) -> str:
    if x != x:  # nan
        return "#000000"
    x = min(max(x, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(x), len(stops) - 2)
    frac = x - i
    a, b = _hex(stops[i]), _hex(stops[i + 1])
    r, g, bl = (round(u + (v - u) * frac) for u, v in zip(a, b))
    return f"#{r:02x}{g:02x}{bl:02x}"


def gate_colour(value: float) -> str:
    """Background colour of a gate value 0..1."""
    return _interpolate(_VIRIDIS, value)


def unit_colour(value: float) -> str:
    """Background colour of a hidden state value -1..+1."""
    return _interpolate(_DIVERGING, (value + 1) / 2)


def text_colour(background: str) -> str:
    """Black on light backgrounds, white on dark ones."""
    r, g, b = _hex(background)
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 else "#ffffff"


def _cell_style(background: str, *, cursor: bool = False) -> Style:
    return Style(color=text_colour(background), bgcolor=background, bold=cursor, underline=cursor)


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


class GateStrip(Widget, can_focus=True):
    """The strips of one :class:`GateTrace`, or a message in their place."""

    DEFAULT_CSS = """
    GateStrip {
        height: auto;
        min-height: 4;
        width: 1fr;
    }
    """

    BINDINGS = [
        Binding("left", "move(-1)", "Previous", show=False, tooltip="One character back along the text"),
        Binding("right", "move(1)", "Next", show=False, tooltip="One character on"),
        Binding("ctrl+left,pageup", "move(-10)", "Back 10", show=False, tooltip="Ten characters back"),
        Binding("ctrl+right,pagedown", "move(10)", "On 10", show=False, tooltip="Ten characters on"),
        Binding("home", "move_to(0)", "First", show=False, tooltip="The first character"),
        Binding("end", "move_to(-1)", "Last", show=False, tooltip="The last character"),
        Binding("u", "toggle_units", "Units", show=False, tooltip="Show the top units or the means"),
        Binding("c", "toggle_stretch", "Contrast", show=False, tooltip="More contrast"),
    ]

    class CursorMoved(Message):
        """The cursor is on character ``index`` (also sent when a new trace arrives)."""

        def __init__(self, strip: "GateStrip", index: int) -> None:
            super().__init__()
            self.strip = strip
            self.index = index

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.trace = None
        self.cursor = 0
        self.scroll_start = 0
        self.show_units = True
        self.max_units: int | None = None  # how many unit rows fit (None: all)
        self.stretch = False  # colour each row from its own min to max instead of the fixed range
        self.message = Text("")
        self.word_level = False
        self._cum: list[int] | None = None

    # ------------------------------------------------------------------ data
    @property
    def cell_count(self) -> int:
        """One cell per character (per word for a word-level model)."""
        return len(self.trace.chars) if self.trace is not None else 0

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
            if self.trace is not None:
                self.post_message(self.CursorMoved(self, self.cursor))

    def set_trace(self, trace) -> None:
        """Show ``trace``; the cursor stays on the same index when the new text is long enough."""
        self.trace = trace
        self.message = Text("")
        self.word_level = any(len(c) > 1 for c in trace.chars)
        self._cum = None
        self.cursor = min(self.cursor, max(len(trace.chars) - 1, 0))
        self.scroll_start = min(self.scroll_start, self.cursor)
        self.refresh(layout=True)
        self.post_message(self.CursorMoved(self, self.cursor))

    def show_message(self, message: str | Text, style: str = "") -> None:
        """Show ``message`` in place of the strips (an error, or why there is nothing to show)."""
        self.trace = None
        self.message = message if isinstance(message, Text) else Text(message, style=style)
        self.refresh(layout=True)

    # ------------------------------------------------------------------ keys
    def action_move(self, step: int) -> None:
        self._go(self.cursor + step)

    def action_move_to(self, index: int) -> None:
        self._go(index if index >= 0 else self.cell_count - 1)

    def action_toggle_units(self) -> None:
        self.show_units = not self.show_units
        self.refresh(layout=True)
        if self.trace is not None:
            self.post_message(self.CursorMoved(self, self.cursor))

    def action_toggle_stretch(self) -> None:
        self.stretch = not self.stretch
        self.refresh()
        if self.trace is not None:
            self.post_message(self.CursorMoved(self, self.cursor))

    def _go(self, index: int) -> None:
        if self.trace is None:
            return
        index = min(max(index, 0), self.cell_count - 1)
        if index != self.cursor:
            self.cursor = index
            self.refresh()
            self.post_message(self.CursorMoved(self, index))

    # ------------------------------------------------------------------ geometry
    def _cell_text(self, char: str) -> str:
        """What a cell shows, measured in terminal columns (a CJK character or an emoji takes two)."""
        if self.word_level:
            word = char if cell_len(char) <= MAX_WORD_CELL else set_cell_size(char, MAX_WORD_CELL)
            return word + " "
        shown = SHOWN_AS.get(char, char)
        return shown if cell_len(shown) > 0 else "◌"  # (a combining mark or a control character)

    def _prefix(self) -> list[int]:
        """Column where each cell starts (cumulative widths in cells), plus the total at the end."""
        if self._cum is None:
            cum = [0]
            for char in self.trace.chars:
                cum.append(cum[-1] + cell_len(self._cell_text(char)))
            self._cum = cum
        return self._cum

    def _window(self, space: int) -> tuple[int, int]:
        """First and one-past-last visible cell for ``space`` columns, the cursor kept in view."""
        cum = self._prefix()
        n = len(cum) - 1
        widest = max(cum[k + 1] - cum[k] for k in range(n))
        margin = min(SCROLL_MARGIN, space // widest // 4)

        def fits(a: int, b: int) -> bool:  # cells a..b (inclusive) in the space
            return cum[b + 1] - cum[a] <= space

        first = min(self.scroll_start, n - 1)
        if self.cursor - margin < first:
            first = max(self.cursor - margin, 0)
        while first < self.cursor and not fits(first, min(self.cursor + margin, n - 1)):
            first += 1
        while first > 0 and fits(first - 1, n - 1):  # no blank space at the right while text is hidden
            first -= 1
        self.scroll_start = first
        end = bisect_right(cum, cum[first] + space) - 1
        return first, min(max(end, first + 1), n)

    def get_content_height(self, container, viewport, width: int) -> int:
        if self.trace is None:
            return max(len(self.message.wrap(self.app.console, max(width, 1))), 1)
        units = len(self.shown_units())
        return 1 + len(GATES) + (1 + units if units else 0)

    # ------------------------------------------------------------------ drawing
    def render(self) -> Text:
        if self.trace is None:
            return self.message
        trace = self.trace
        width = self.size.width
        space = max(width - LABEL_WIDTH, 1)
        first, end = self._window(space)
        lines: list[Text] = []

        marker = Text(f"{self.cursor + 1}/{len(trace.chars)}".rjust(LABEL_WIDTH - 1)[: LABEL_WIDTH - 1] + " ",
                      style="dim")
        for k in range(first, end):
            cell = cell_len(self._cell_text(trace.chars[k]))
            if k == self.cursor:
                marker.append("▼" + " " * (cell - 1), "bold")
            elif k == first and first > 0:
                marker.append("◀" + " " * (cell - 1), "dim")
            elif k == end - 1 and end < len(trace.chars):
                marker.append("▶" + " " * (cell - 1), "dim")
            else:
                marker.append(" " * cell)
        lines.append(marker)

        def strip(label: str, values: Sequence[float], colour, label_style: str) -> Text:
            line = Text(label[: LABEL_WIDTH - 1].ljust(LABEL_WIDTH), style=label_style)
            scale = _stretcher(values, colour is gate_colour) if self.stretch else (lambda v: v)
            for k in range(first, end):
                background = colour(scale(values[k]))
                line.append(self._cell_text(trace.chars[k]), _cell_style(background, cursor=k == self.cursor))
            return line

        for label, field in GATES:
            lines.append(strip(label, getattr(trace, field), gate_colour, "bold"))
        units = self.shown_units()
        if units:
            lines.append(Text("hidden".ljust(LABEL_WIDTH) + "H of the most varying units (-1 … +1)",
                              style="dim"))
            for unit, values in units:
                lines.append(strip(f"h{unit}", values, unit_colour, ""))
        return Text("\n").join(lines)
