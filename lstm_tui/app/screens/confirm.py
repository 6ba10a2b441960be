"""A yes/no question in a modal dialog (y / n / escape, or the buttons)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class Confirm(ModalScreen[bool]):
    """Dismisses with ``True`` (y, the yes button) or ``False`` (n, escape, the no button).

    The safe answer (no) has the focus, so Enter alone never confirms.
    """

    DEFAULT_CSS = """
    Confirm { align: center middle; }
    Confirm #dialog-message { width: 1fr; }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(
        self,
        title: str,
        message: str = "",
        *,
        yes: str = "Yes",
        no: str = "No",
        danger: bool = True,
        width: int | None = None,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.yes_label = yes
        self.no_label = no
        self.danger = danger
        self.width = width  # of the dialog, for long messages (the app's CSS sets 52)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text(self.title_text), id="dialog-title")
            if self.message:
                yield Static(Text(self.message), id="dialog-message")
            with Horizontal(id="dialog-buttons"):
                yield Button(Text(f"{self.yes_label} [y]"), variant="error" if self.danger else "success", id="yes")
                yield Button(Text(f"{self.no_label} [n]"), variant="primary", id="no")

    def on_mount(self) -> None:
        if self.width:
            dialog = self.query_one("#dialog")
            dialog.styles.width = self.width
            dialog.styles.max_width = "95%"
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
