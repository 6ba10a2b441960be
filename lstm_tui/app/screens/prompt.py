"""Ask for one line of text in a modal dialog; a wrong answer is explained in place."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static


class Prompt(ModalScreen["str | None"]):
    """Enter submits, escape cancels (dismisses with ``None``).

    ``submit(text)`` is called with what was typed: it returns ``None`` when it is done (the
    dialog closes and dismisses with the text) or a message saying what is wrong, which is
    shown under the input while the dialog stays open for another try.
    """

    DEFAULT_CSS = """
    Prompt { align: center middle; }
    #prompt-dialog {
        width: 80%;
        max-width: 90;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 0 1;
    }
    #prompt-title { text-style: bold; }
    #prompt-error { display: none; color: $error; }
    #prompt-error.-shown { display: block; }
    #prompt-hint { color: $text-muted; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(
        self,
        title: str,
        value: str = "",
        *,
        label: str = "",
        submit: Callable[[str], str | None] | None = None,
        placeholder: str = "",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.label = label
        self.submit = submit
        self.placeholder = placeholder
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="prompt-dialog"):
            yield Label(Text(self.title_text), id="prompt-title")
            if self.label:
                yield Label(Text(self.label), id="prompt-label")
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input")
            yield Static("", id="prompt-error")
            yield Label("Enter confirms · Escape cancels", id="prompt-hint")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        try:
            problem = self.submit(text) if self.submit is not None else None
        except Exception as exc:  # noqa: BLE001 - shown in place, never raised
            problem = str(exc) or type(exc).__name__
        if problem:
            self.show_error(problem)
        else:
            self.dismiss(text)

    def show_error(self, message: str) -> None:
        self.error = message
        error = self.query_one("#prompt-error", Static)
        error.update(Text(message))
        error.add_class("-shown")

    def action_cancel(self) -> None:
        self.dismiss(None)
