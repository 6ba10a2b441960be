"""The flip-book (``b`` in the probability lens or the gate inspector): the same prefix written
greedily at every weight snapshot of the run, oldest first and newest last: how "time traveller"
emerged from noise (:func:`lstm_tui.core.timelapse.flip_book`, in a thread worker)."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from ..errors import readable_error
from ..widgets.footer import KeyFooter

__all__ = ["FlipBookScreen", "FlipBookComputed", "flip_book_text", "LENGTH"]

LENGTH = 50


class FlipBookComputed(Message):
    def __init__(self, pages: list[tuple[int, str]] | None = None, error: str | None = None) -> None:
        super().__init__()
        self.pages = pages
        self.error = error


def flip_book_text(prefix: str, pages: list[tuple[int, str]]) -> Text:
    """One line per snapshot: ``epoch N  prefix continuation``."""
    out = Text()
    width = len(str(max((epoch for epoch, _ in pages), default=1)))
    for k, (epoch, text) in enumerate(pages):
        if k:
            out.append("\n")
        out.append(f"epoch {epoch:>{width}}  ", "bold")
        out.append(prefix, "bold magenta")
        continuation = (text[len(prefix) :] if text.startswith(prefix) else text).replace("\n", " ")
        if continuation.strip():
            out.append(continuation)
        else:  # a young model often writes spaces only: say so rather than show a blank line
            out.append(f" ({len(continuation)} spaces)" if continuation else " (nothing)", "dim")
    return out


class FlipBookScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    FlipBookScreen { background: $surface; }
    #flipbook-title { height: auto; padding: 0 1; }
    #flipbook-scroll { height: 1fr; padding: 0 1; }
    """

    BINDINGS = [Binding("escape,b", "back", "Back", id="flipbook.back")]

    def __init__(self, run_path: str | None, prefix: str = "time traveller", length: int = LENGTH) -> None:
        super().__init__()
        self.run_path = run_path
        self.prefix = prefix
        self.length = length
        self.pages: list[tuple[int, str]] = []
        self.error = ""
        self.computing = False

    def compose(self) -> ComposeResult:
        yield Static(
            Text(f"Flip-book: {self.prefix!r} written greedily at every snapshot, newest last", style="bold"),
            id="flipbook-title",
        )
        with VerticalScroll(id="flipbook-scroll"):
            yield Static(Text("writing…", style="italic"), id="flipbook-pages")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        if not self.run_path:
            self._show_error("no run folder: the flip-book needs a run's snapshots (start, load or follow a run)")
            return
        self.computing = True
        self._compute(self.run_path, self.prefix, self.length)

    @work(thread=True, exclusive=True, group="flipbook", exit_on_error=False)
    def _compute(self, run_path: str, prefix: str, length: int) -> None:
        try:
            from lstm_tui.core.timelapse import flip_book

            self.post_message(FlipBookComputed(flip_book(run_path, prefix, length)))
        except Exception as exc:  # noqa: BLE001 - shown in place
            self.post_message(FlipBookComputed(error=readable_error(exc)))

    def on_flip_book_computed(self, message: FlipBookComputed) -> None:
        self.computing = False
        if message.error is not None:
            self._show_error(message.error)
            return
        self.pages = message.pages or []
        if not self.pages:
            self._show_error("this run has no snapshots yet (one is kept every few epochs)")
            return
        self.query_one("#flipbook-pages", Static).update(flip_book_text(self.prefix, self.pages))
        self.query_one("#flipbook-scroll", VerticalScroll).scroll_end(animate=False)

    def _show_error(self, error: str) -> None:
        self.error = error
        self.query_one("#flipbook-pages", Static).update(Text(f"✗ {error}", style="red"))

    def action_back(self) -> None:
        self.dismiss(None)
