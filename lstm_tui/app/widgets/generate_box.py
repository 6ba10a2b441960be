"""Talk to the model: prefix, length, temperature, top-k; Enter generates and streams text in."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Static

#: The longest prefix the box takes. Textual's Input redoes work over its whole text on every
#: key (cursor offset, tab expansion, scrolling), so 10,000 typed keys cost O(n²): 10-30 s of
#: frozen UI. A prefix this long is more than the model needs; keys beyond it are refused.
PREFIX_MAX_LENGTH = 1000


def _placeholder() -> Text:
    return Text("Type a prefix and press Enter to generate (temp 0 = greedy).", style="dim")


@dataclass(frozen=True)
class GenerateRequest:
    prefix: str
    length: int
    temperature: float
    top_k: int
    top_p: float = 1.0


class GenerateBox(Vertical):
    class Submitted(Message):
        def __init__(self, request: GenerateRequest) -> None:
            super().__init__()
            self.request = request

    def __init__(self, prefix: str = "time traveller", **kwargs) -> None:
        super().__init__(**kwargs)
        self._prefix = prefix
        self.prefix = ""
        self.generated = ""
        self.error = ""
        self.note = ""  # a note in place of the output (e.g. this model cannot write)
        self.warning = ""  # shown under generated text (a bidirectional model's: it saw the future)
        self.busy = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="gen-inputs"):
            with Horizontal(id="gen-prefix-row"):
                yield Label("prefix", classes="gen-label")
                yield Input(
                    self._prefix,
                    placeholder="text to continue",
                    compact=True,
                    id="gen-prefix",
                    select_on_focus=False,
                    max_length=PREFIX_MAX_LENGTH,
                )
            with Horizontal(id="gen-params"):
                yield Label("len", classes="gen-label")
                yield Input("100", compact=True, id="gen-length", restrict=r"[0-9]*", max_length=5)
                yield Label("temp", classes="gen-label")
                yield Input("0", compact=True, id="gen-temperature", max_length=6)
                yield Label("top-k", classes="gen-label")
                yield Input("0", compact=True, id="gen-top-k", restrict=r"[0-9]*", max_length=4)
                yield Label("top-p", classes="gen-label")
                yield Input("1", compact=True, id="gen-top-p", max_length=6)
        with VerticalScroll(id="gen-scroll"):
            yield Static(_placeholder(), id="gen-output")

    def request(self) -> GenerateRequest:
        """The request the inputs describe; ValueError says what is wrong."""
        prefix = self.query_one("#gen-prefix", Input).value
        if not prefix:
            raise ValueError("type a prefix to start from")
        try:
            length = int(self.query_one("#gen-length", Input).value or "0")
        except ValueError:
            raise ValueError("length must be a whole number from 1 to 10000") from None
        if not 1 <= length <= 10_000:
            raise ValueError("length must be a whole number from 1 to 10000")
        text = self.query_one("#gen-temperature", Input).value.strip() or "0"
        try:
            temperature = float(text)
        except ValueError:
            raise ValueError(f"temperature {text!r} is not a number (0 = greedy, e.g. 0.8)") from None
        if not 0 <= temperature <= 100 or temperature != temperature:
            raise ValueError("temperature must be from 0 (greedy) to 100")
        try:
            top_k = int(self.query_one("#gen-top-k", Input).value or "0")
        except ValueError:
            raise ValueError("top-k must be a whole number (0 = all)") from None
        return GenerateRequest(prefix, length, temperature, top_k, self._top_p())

    def _top_p(self) -> float:
        text = self.query_one("#gen-top-p", Input).value.strip() or "1"
        try:
            top_p = float(text)
        except ValueError:
            raise ValueError(f"top-p {text!r} is not a number (above 0, at most 1; 1 = no limit)") from None
        if not 0 < top_p <= 1:
            raise ValueError("top-p must be above 0 and at most 1 (1 = no limit)")
        return top_p

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            request = self.request()
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self.post_message(self.Submitted(request))

    # ------------------------------------------------------------------ output
    def begin(self, prefix: str, warning: str = "") -> None:
        self.prefix, self.generated, self.error, self.busy, self.note = prefix, "", "", True, ""
        self.warning = warning
        self._show()

    def append(self, text: str) -> None:
        self.generated += text
        self._show()

    def done(self, error: str | None = None) -> None:
        self.busy = False
        if error:
            self.error = error
        self._show()

    def show_error(self, message: str) -> None:
        self.prefix, self.generated, self.error, self.busy, self.note = "", "", message, False, ""
        self._show()

    def show_note(self, message: str) -> None:
        self.prefix, self.generated, self.error, self.busy, self.note = "", "", "", False, message
        self.query_one("#gen-output", Static).update(Text(message, style="yellow"))

    def clear_note(self) -> None:
        """Put the placeholder back in place of a note that no longer holds; other output stays."""
        if self.note:
            self.note = ""
            self.query_one("#gen-output", Static).update(_placeholder())

    def _show(self) -> None:
        out = Text()
        if self.prefix:
            out.append(self.prefix, style="bold magenta")
        out.append(self.generated)
        if self.busy:
            out.append("▌", style="dim")
        if self.warning and out.plain:
            out.append(f"\n⚠ {self.warning}", style="dim yellow")
        if self.error:
            if out.plain:
                out.append("\n")
            out.append(f"✗ {self.error}", style="bold red")
        self.query_one("#gen-output", Static).update(out)
        self.query_one("#gen-scroll", VerticalScroll).scroll_end(animate=False)
