"""The live-knobs dialog (ctrl+k): lr, clip (0 = off), momentum and weight decay, prefilled
from the run's current config; Enter hands the changed values to ``submit``, which applies them
(the app's own run) or sends them (a run another process trains). A bad value marks its field
with what it accepts and the dialog stays open."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from lstm_tui.core.config import ConfigError, allowed_text
from lstm_tui.core.knobs import LIVE_KNOBS

#: ``submit(changes)``: None when done, else ``(field, message)`` of what is wrong.
Submit = Callable[[dict[str, str]], "tuple[str, str] | None"]


def knob_text(value: Any) -> str:
    return f"{float(value):g}"


class KnobsDialog(ModalScreen["dict[str, str] | None"]):
    """Edit the live knobs; dismisses with the changed ones (as typed) or None."""

    DEFAULT_CSS = """
    KnobsDialog { align: center middle; }
    #knobs-dialog { width: 70; height: auto; border: thick $primary; background: $surface; padding: 0 1; }
    #knobs-title { text-style: bold; }
    .knob-row { height: 1; }
    .knob-label { width: 14; }
    .knob-row Input { width: 16; }
    .knob-allowed { color: $text-muted; width: 1fr; }
    .knob-row.-bad .knob-allowed { color: $error; }
    #knobs-hint { color: $text-muted; }
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="knobs.cancel")]

    def __init__(self, current: Any, what: str, submit: Submit) -> None:
        """``current``: the run's config (a RunConfig) whose knob values prefill the fields."""
        super().__init__()
        self.current = {name: knob_text(getattr(current, name)) for name in LIVE_KNOBS}
        self.what = what
        self.submit = submit
        self.bad: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="knobs-dialog"):
            yield Label(Text(f"Live knobs of {self.what} (from the next batch)"), id="knobs-title")
            for name in LIVE_KNOBS:
                with Horizontal(classes="knob-row", id=f"knob-row-{name}"):
                    yield Label(name + (" (0 = off)" if name == "clip" else ""), classes="knob-label")
                    yield Input(self.current[name], compact=True, id=f"knob-{name}")
                    yield Static(Text(allowed_text(name)), classes="knob-allowed", id=f"knob-allowed-{name}")
            yield Static("", id="knobs-error")
            yield Label("Enter applies · Tab next field · Escape cancels", id="knobs-hint")

    def on_mount(self) -> None:
        self.query_one("#knob-lr", Input).focus()

    def changes(self) -> dict[str, str]:
        """The knobs whose text differs from the current value."""
        out = {}
        for name in LIVE_KNOBS:
            text = self.query_one(f"#knob-{name}", Input).value.strip()
            if text != self.current[name]:
                out[name] = text
        return out

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        changes = self.changes()
        if not changes:
            self.dismiss({})
            return
        try:
            problem = self.submit(changes)
        except ConfigError as exc:
            problem = (exc.field, exc.message)
        if problem is None:
            self.dismiss(changes)
        else:
            self.mark(*problem)

    def mark(self, field: str, message: str) -> None:
        """Show ``message`` (with what ``field`` accepts) on the field's row."""
        if self.bad is not None:
            self.query_one(f"#knob-row-{self.bad}").remove_class("-bad")
        self.query_one("#knobs-error", Static).update(Text(f"{field}: {message}", style="bold red"))
        if field in LIVE_KNOBS:
            self.bad = field
            self.query_one(f"#knob-row-{field}").add_class("-bad")
            self.query_one(f"#knob-{field}", Input).focus()

    def action_cancel(self) -> None:
        self.dismiss(None)
