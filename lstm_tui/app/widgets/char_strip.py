"""A strip of text, one cell per character, with a cursor: what the gate inspector's strips and
the probability lens's have in common.

:class:`CharStrip` keeps the cells (``chars``), the cursor and its keys (left/right, ten at a
time, Home/End), the horizontal scrolling that keeps the cursor in view and the marker line
above the rows (``▼`` at the cursor, ``◀``/``▶`` where text is hidden). A subclass says what its
rows are (:meth:`CharStrip.row_lines`) and how tall it is; it never computes anything: the
screen hands it finished numbers (or a message to show in their place).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence

from rich.cells import cell_len, set_cell_size
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget

__all__ = ["CharStrip", "LABEL_WIDTH", "cell_style", "text_colour", "interpolate"]

LABEL_WIDTH = 8  # "forget " plus a space
SCROLL_MARGIN = 4  # cells kept visible beside the cursor when the strip scrolls
MAX_WORD_CELL = 10  # a word-level model's cell: the word cut to this many columns
#: Characters drawn as a visible stand-in (no width of their own, or they would move the row).
SHOWN_AS = {" ": "·", "\n": "↵", "\t": "→", "\r": "␍"}


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def interpolate(stops: Sequence[str], x: float) -> str:
    """The colour at ``x`` (0..1, clamped; nan is black) along ``stops`` ("#rrggbb")."""
    if x != x:  # nan
        return "#000000"
    x = min(max(x, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(x), len(stops) - 2)
    frac = x - i
    a, b = _hex(stops[i]), _hex(stops[i + 1])
    r, g, bl = (round(u + (v - u) * frac) for u, v in zip(a, b))
    return f"#{r:02x}{g:02x}{bl:02x}"


def text_colour(background: str) -> str:
    """Black on light backgrounds, white on dark ones."""
    r, g, b = _hex(background)
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 140 else "#ffffff"


def cell_style(background: str, *, cursor: bool = False) -> Style:
    return Style(color=text_colour(background), bgcolor=background, bold=cursor, underline=cursor)


class CharStrip(Widget, can_focus=True):
    """Cells of a text with a cursor; subclasses draw the rows (:meth:`row_lines`)."""

    DEFAULT_CSS = """
    CharStrip {
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
    ]

    class CursorMoved(Message):
        """The cursor is on character ``index`` (also sent when new numbers arrive)."""

        def __init__(self, strip: CharStrip, index: int) -> None:
            super().__init__()
            self.strip = strip
            self.index = index

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.chars: tuple[str, ...] | None = None  # None: the message is shown instead
        self.cursor = 0
        self.scroll_start = 0
        self.message = Text("")
        self.word_level = False
        self._cum: list[int] | None = None

    # ------------------------------------------------------------------ data
    @property
    def cell_count(self) -> int:
        """One cell per character (per word for a word-level model)."""
        return len(self.chars) if self.chars is not None else 0

    def set_chars(self, chars: Sequence[str]) -> None:
        """New cells; the cursor stays on the same index when the new text is long enough."""
        self.chars = tuple(chars)
        self.message = Text("")
        self.word_level = any(len(c) > 1 for c in self.chars)
        self._cum = None
        self.cursor = min(self.cursor, max(len(self.chars) - 1, 0))
        self.scroll_start = min(self.scroll_start, self.cursor)
        self.refresh(layout=True)
        self.announce()

    def show_message(self, message: str | Text, style: str = "") -> None:
        """Show ``message`` in place of the strips (an error, or why there is nothing to show)."""
        self.chars = None
        self.message = message if isinstance(message, Text) else Text(message, style=style)
        self.refresh(layout=True)

    def announce(self) -> None:
        """Post :class:`CursorMoved` for the cursor as it is (after a change of what is shown)."""
        if self.chars is not None:
            self.post_message(self.CursorMoved(self, self.cursor))

    # ------------------------------------------------------------------ keys
    def action_move(self, step: int) -> None:
        self._go(self.cursor + step)

    def action_move_to(self, index: int) -> None:
        self._go(index if index >= 0 else self.cell_count - 1)

    def _go(self, index: int) -> None:
        if self.chars is None or not self.chars:
            return
        index = min(max(index, 0), self.cell_count - 1)
        if index != self.cursor:
            self.cursor = index
            self.refresh()
            self.post_message(self.CursorMoved(self, index))

    # ------------------------------------------------------------------ geometry
    def cell_text(self, char: str) -> str:
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
            for char in self.chars or ():
                cum.append(cum[-1] + cell_len(self.cell_text(char)))
            self._cum = cum
        return self._cum

    def window(self, space: int) -> tuple[int, int]:
        """First and one-past-last visible cell for ``space`` columns, the cursor kept in view."""
        cum = self._prefix()
        n = len(cum) - 1
        if n <= 0:
            return 0, 0
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

    def row_count(self) -> int:
        """Lines drawn below the marker line (a subclass's rows)."""
        return 0

    def get_content_height(self, container, viewport, width: int) -> int:
        if self.chars is None:
            return max(len(self.message.wrap(self.app.console, max(width, 1))), 1)
        return 1 + self.row_count()

    # ------------------------------------------------------------------ drawing
    def coloured_row(
        self, label: str, colours: Mapping[int, str] | Sequence[str], first: int, end: int, label_style: str = ""
    ) -> Text:
        """One row: ``label``, then cells ``first..end`` on the backgrounds ``colours[k]``."""
        chars = self.chars or ()
        line = Text(label[: LABEL_WIDTH - 1].ljust(LABEL_WIDTH), style=label_style)
        for k in range(first, end):
            line.append(self.cell_text(chars[k]), cell_style(colours[k], cursor=k == self.cursor))
        return line

    def marker_line(self, first: int, end: int) -> Text:
        chars = self.chars or ()
        marker = Text(f"{self.cursor + 1}/{len(chars)}".rjust(LABEL_WIDTH - 1)[: LABEL_WIDTH - 1] + " ", style="dim")
        for k in range(first, end):
            cell = cell_len(self.cell_text(chars[k]))
            if k == self.cursor:
                marker.append("▼" + " " * (cell - 1), "bold")
            elif k == first and first > 0:
                marker.append("◀" + " " * (cell - 1), "dim")
            elif k == end - 1 and end < len(chars):
                marker.append("▶" + " " * (cell - 1), "dim")
            else:
                marker.append(" " * cell)
        return marker

    def row_lines(self, first: int, end: int) -> list[Text]:
        """The rows under the marker line for cells ``first..end``."""
        return []

    def render(self) -> Text:
        if self.chars is None:
            return self.message
        space = max(self.size.width - LABEL_WIDTH, 1)
        first, end = self.window(space)
        return Text("\n").join([self.marker_line(first, end), *self.row_lines(first, end)])
