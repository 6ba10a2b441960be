"""The prediction log: one entry per ``predict_every`` epochs, plus run start/stop/failure lines.

Follows new lines while it is scrolled to the end; keeps its place when the user scrolled up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from rich.text import Text
from textual.events import Resize
from textual.geometry import Size
from textual.reactive import Reactive
from textual.widgets import RichLog

from ...core.numbers import format_perplexity

MAX_ENTRIES = 2000
BREAK_MARK = "↵"  # a line break of a raw corpus's sample: one entry stays one line of the log


def _one_line(text: str, style: str = "") -> Text:
    """``text`` with its line breaks shown as a dim mark (a sample of 40 newlines is 40 marks,
    not 40 blank lines in the log)."""
    out = Text(style=style)
    for index, piece in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n")):
        if index:
            out.append(BREAK_MARK, style="dim")
        out.append(piece)
    return out


#: The mark on a sample line whose model saw the future while training (Sample.warning).
SAMPLE_WARNING_MARK = "⚠ sees the future"


class PredictionLog(RichLog):
    # A write grows the virtual size, and Textual's own reactive (layout=True) then lays out the
    # whole screen again -- 10-40 ms of UI-thread time, the GIL held all along, for every line.
    # The log's own size never depends on its content (its height is a share of the column),
    # so only its scrollbars need updating; they still trigger a layout when they appear.
    virtual_size = Reactive(Size(0, 0), layout=False)

    def watch_virtual_size(self, virtual_size: Size) -> None:
        if self._batched is None:
            self._scroll_update(virtual_size)

    def __init__(self, **kwargs) -> None:
        super().__init__(wrap=True, markup=False, highlight=False, max_lines=5000, auto_scroll=True, **kwargs)
        self._sample_head: tuple[str, int] | None = None  # (run, epoch) of the last sample's head
        self._batched: bool | None = None  # in batched_lines(): whether the log followed its end before it
        self.entries = 0  # samples written (for tests and the status of the log)
        self._lines: deque[Text] = deque(maxlen=MAX_ENTRIES)
        self._wrap_width = 0

    def _at_end(self) -> bool:
        return self.is_vertical_scroll_end or self.max_scroll_y == 0

    def add(self, text: str | Text, style: str = "") -> None:
        follow = self._at_end() if self._batched is None else False
        line = text if isinstance(text, Text) else Text(text, style=style)
        self._lines.append(line)
        width = self.scrollable_content_region.width
        if width > 0:
            self._wrap_width = width
            self.write(line, width=width, scroll_end=False)
            if follow:  # (now, not after the next refresh: that is a second frame of the whole log)
                self.scroll_end(animate=False, immediate=True, x_axis=False)

    @contextmanager
    def batched_lines(self) -> Iterator[None]:
        """Lines added within are laid out once, at the end: the scrollbars updated and the log
        scrolled to its end (if it was there) once for all of them, not once a line (each is a
        round of Textual's reactives, about half of a line's cost)."""
        if self._batched is not None:  # (nested: the outer batch finishes)
            yield
            return
        self._batched, size = self._at_end(), self.virtual_size
        try:
            yield
        finally:
            follow, self._batched = self._batched, None
            if self.virtual_size != size:  # (no line added: nothing to lay out)
                self._scroll_update(self.virtual_size)
                if follow:
                    self.scroll_end(animate=False, immediate=True, x_axis=False)

    def on_resize(self, event: Resize) -> None:
        """Re-wrap every entry to the new width (RichLog keeps lines as first wrapped)."""
        width = self.scrollable_content_region.width
        if width <= 0 or width == self._wrap_width:
            return
        self._wrap_width = width
        follow = self.is_vertical_scroll_end or self.max_scroll_y == 0
        super().clear()
        for line in self._lines:
            self.write(line, width=width, scroll_end=False)
        if follow:
            self.scroll_end(animate=False, immediate=False)

    @property
    def plain(self) -> str:
        """Everything in the log as plain text."""
        return "\n".join(line.plain for line in self._lines)

    def info(self, text: str) -> None:
        self.add(text, "dim")

    def good(self, text: str) -> None:
        self.add(text, "bold green")

    def warn(self, text: str) -> None:
        self.add(text, "bold yellow")

    def error(self, text: str) -> None:
        self.add(text, "bold red")

    def sample(
        self,
        epoch: int,
        perplexity: float | None,
        val: float | None,
        prefix: str,
        text: str,
        warning: str = "",
        run: str = "",
    ) -> None:
        """One prediction; ``text`` is the prefix and its continuation (d2l's ``predict_ch8``);
        a ``warning`` (``Sample.warning``: a bidirectional model's) marks the line. An epoch's
        samples share one head line (the epoch and its perplexities); ``run`` names the run in
        it (several followed runs: each run's epoch has a head of its own)."""
        continuation = text[len(prefix) :] if text.startswith(prefix) else text
        if self._sample_head != (run, epoch):
            self._sample_head = (run, epoch)
            head = Text(f"{run}  ", style="dim") if run else Text()
            head.append(f"epoch {epoch}", style="bold")
            if perplexity is not None:
                head.append(f"  perplexity {format_perplexity(perplexity)}", style="cyan")
            if val is not None:
                head.append(f"  val {format_perplexity(val)}", style="yellow")
            self.add(head)
        line = Text("  ")
        line.append_text(_one_line(prefix, "bold magenta"))
        line.append_text(_one_line(continuation))
        if warning:
            line.append(f"  {SAMPLE_WARNING_MARK}", style="dim yellow")
        self.add(line)
        self.entries += 1

    def clear(self) -> PredictionLog:
        self._sample_head = None
        self._lines.clear()
        return super().clear()
