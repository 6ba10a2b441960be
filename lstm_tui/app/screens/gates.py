"""The gate inspector: where an LSTM remembers and where it forgets, character by character.

For the current model (a snapshot of the training run, the last run, or a loaded run: the
session's choice, the generate box's too) and a text the user types, it shows per character the
mean input, forget and output gate and the hidden state of the most varying units as
coloured strips (:class:`~lstm_tui.app.widgets.gate_strip.GateStrip`). The numbers come
from :func:`lstm_tui.core.gates.gate_activations`, computed in a thread worker (the
model's forward is torch) that posts :class:`GatesComputed`.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Label, Select, Static

from lstm_tui.core.config import RunConfig

from ..errors import readable_error
from ..session import ModelChoice, ModelSource
from ..sources import TimeLapse
from ..widgets.gate_strip import GateStrip, gate_colour, scale_text, text_colour, unit_colour

__all__ = ["DEFAULT_TEXT", "GateScreen", "GatesComputed"]

#: d2l's first sentence of The Time Machine, cleaned the way the corpus is (lower case, letters).
DEFAULT_TEXT = "time traveller for so it will be convenient to speak of him was expounding a recondite matter to us"
TOP_UNITS = 8
RETYPE_DELAY_S = 0.3  # recompute this long after the last key typed in the text box
NO_MODEL = "No model yet: start a run (F5) or load a saved one (ctrl+o), then open the gate inspector again."
HINTS = "←/→ ctrl+←/→ Home End move · u units · c contrast · [ ] snapshots · b flip-book · r read again · Esc close"
READING = (
    "gates: mean over the hidden units · forget ≈ 1 keeps the memory cell C, ≈ 0 wipes it · "
    "input ≈ 1 writes the new candidate · output ≈ 1 shows C in H"
)


class GatesComputed(Message):
    """The worker's answer to request ``request``: a ``GateTrace`` or an ``error`` text."""

    def __init__(self, request: int, trace: Any = None, error: str | None = None) -> None:
        super().__init__()
        self.request = request
        self.trace = trace
        self.error = error


def model_text(config: RunConfig) -> str:
    bidi = " bidirectional" if config.bidirectional else ""
    return f"{config.impl} {config.cell.upper()} {config.layers}×{config.hidden}{bidi}"


class GateScreen(ModalScreen[None]):
    """The gate inspector (F3)."""

    DEFAULT_CSS = """
    GateScreen {
        align: center middle;
    }
    #gates-dialog {
        width: 100%;
        height: 100%;
        border: thick $primary;
        border-title-style: bold;
        background: $surface;
        padding: 0 1;
    }
    #gates-controls {
        height: 1;
        margin-bottom: 1;
    }
    .gates-label {
        width: auto;
        padding: 0 1 0 0;
        color: $text-muted;
    }
    #gates-text {
        width: 1fr;
    }
    #gates-layer {
        width: 14;
        margin-left: 2;
    }
    #gates-strip {
        margin-bottom: 1;
    }
    #gates-strip:focus {
        background: $boost;
    }
    #gates-detail {
        height: auto;
        margin-bottom: 1;
    }
    #gates-note {
        height: auto;
        color: $warning;
        display: none;
    }
    #gates-note.-shown {
        display: block;
    }
    #gates-legend, #gates-reading, #gates-hints {
        height: auto;
        color: $text-muted;
    }
    #gates-status {
        height: 1;
        color: $text-muted;
    }
    #gates-fill {
        height: 1fr;
    }
    """

    BINDINGS = [
        Binding("escape,f3", "close", "Close", id="gates.close"),
        Binding("r", "reread", "Read again", id="gates.reread"),
        Binding(
            "[",
            "timelapse(-1)",
            "Older",
            id="gates.older",
            tooltip="Read with the run's previous weight snapshot (as of epoch N)",
        ),
        Binding(
            "]",
            "timelapse(1)",
            "Newer",
            id="gates.newer",
            tooltip="Read with the next snapshot (past the newest: the latest model)",
        ),
        Binding(
            "b",
            "flip_book",
            "Flip-book",
            id="gates.flipbook",
            tooltip="The same prefix written at every snapshot of the run",
        ),
        # The app refuses its own actions (app.focus_next included) while a modal screen is up.
        Binding("tab", "move_focus(1)", "Next", show=False),
        Binding("shift+tab", "move_focus(-1)", "Previous", show=False),
    ]

    def __init__(
        self, choice: ModelChoice | None = None, text: str = DEFAULT_TEXT, run_path: str | None = None
    ) -> None:
        """``choice``: the model to read with (the session's :meth:`~..session.AppSession.model_choice`);
        ``run_path``: its run folder (the snapshots ``[`` / ``]`` step through)."""
        super().__init__()
        self.timelapse = TimeLapse(run_path)
        self.initial_text = text
        self.source: ModelSource | None = choice.source if choice is not None else None
        self.config: RunConfig | None = choice.config if choice is not None else None
        self.description = choice.description if choice is not None else ""
        self.request = 0
        self.computing = False
        self.error = ""
        self.detail = ""
        self._retype: Timer | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        layers = self.config.layers if self.config is not None else 1
        with Vertical(id="gates-dialog") as dialog:
            dialog.border_title = "Gate inspector"
            if self.config is not None:
                dialog.border_subtitle = self._subtitle()
            with Horizontal(id="gates-controls"):
                yield Label("text", classes="gates-label")
                yield Input(
                    self.initial_text,
                    placeholder="a text for the model to read",
                    compact=True,
                    id="gates-text",
                    select_on_focus=False,
                )
                if layers > 1:
                    yield Select(
                        [(f"layer {k}", k) for k in range(layers)],
                        value=0,
                        allow_blank=False,
                        compact=True,
                        id="gates-layer",
                    )
            yield GateStrip(id="gates-strip")
            yield Static("", id="gates-detail")
            yield Static("", id="gates-note")
            yield Static(self._legend(), id="gates-legend")
            yield Static(Text(READING), id="gates-reading")
            yield Static("", id="gates-fill")
            yield Static("", id="gates-status")
            yield Static(Text(HINTS), id="gates-hints")

    def _subtitle(self) -> str:
        assert self.config is not None
        return f"{model_text(self.config)} · {self.description} · {self.timelapse.label}"

    @property
    def strip(self) -> GateStrip:
        return self.query_one(GateStrip)

    @property
    def text_input(self) -> Input:
        return self.query_one("#gates-text", Input)

    @property
    def selected_layer(self) -> int:
        selects = self.query("#gates-layer")
        return int(selects.first(Select).value) if selects else 0

    def on_mount(self) -> None:
        self._fit()
        self.strip.focus()
        if self.source is None:
            self.strip.show_message(NO_MODEL, "bold")
            self.error = NO_MODEL
            return
        self.compute()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """As many unit rows as the height leaves room for (8 from 28 rows up)."""
        self.strip.set_max_units(min(max(self.app.size.height - 20, 0), TOP_UNITS))

    @staticmethod
    def _legend(stretch: bool = False) -> Text:
        text = Text("colours  gates ")
        text.append("low " if stretch else "0 ")
        text.append_text(scale_text("gate"))
        text.append(" high (row's own range)" if stretch else " 1")
        text.append("   H ")
        text.append("-max " if stretch else "-1 ")
        text.append_text(scale_text("unit"))
        text.append(" +max" if stretch else " +1")
        text.append("   c: " + ("fixed scale" if stretch else "more contrast"), style="dim")
        return text

    # ------------------------------------------------------------------ computing
    def compute(self) -> None:
        """Trace the text in the box through the model (in a worker); the answer is a GatesComputed."""
        if self._retype is not None:
            self._retype.stop()
            self._retype = None
        if self.source is None:
            return
        self.request += 1
        self.computing = True
        self.query_one("#gates-status", Static).update(Text("reading the text…", style="italic"))
        self._compute(self.timelapse.source(self.source), self.text_input.value, self.selected_layer, self.request)

    @work(thread=True, exclusive=True, group="gates", exit_on_error=False)
    def _compute(self, source: ModelSource, text: str, layer: int, request: int) -> None:
        try:
            from lstm_tui.core.gates import GateError, gate_activations

            try:
                model, vocab = source.model_and_vocab()
            except RuntimeError as exc:
                raise GateError(f"{exc}; wait for the first batch, then press Enter in the text box") from None
            trace = gate_activations(model, vocab, text, layer=layer, top_units=TOP_UNITS)
            self.post_message(GatesComputed(request, trace=trace))
        except Exception as exc:  # noqa: BLE001 - shown in place, never raised
            self.post_message(GatesComputed(request, error=readable_error(exc)))

    def on_gates_computed(self, message: GatesComputed) -> None:
        if message.request != self.request:
            return  # an older text's answer
        self.computing = False
        self.query_one("#gates-status", Static).update("")
        note = self.query_one("#gates-note", Static)
        if message.error is not None:
            self.error = message.error
            self.detail = ""
            self.query_one("#gates-detail", Static).update("")
            note.set_class(False, "-shown")
            self.strip.show_message(Text.assemble(("✗ ", "bold red"), (message.error, "red")))
            return
        self.error = ""
        trace = message.trace
        note.update(Text(trace.note))
        note.set_class(bool(trace.note), "-shown")
        self.strip.set_trace(trace)
        self._update_detail(self.strip.cursor)

    # ------------------------------------------------------------------ events
    @on(Input.Submitted, "#gates-text")
    def _text_submitted(self) -> None:
        self.compute()
        self.strip.focus()

    @on(Input.Changed, "#gates-text")
    def _text_changed(self) -> None:
        if self.source is None or not self.is_mounted:
            return
        if self._retype is not None:
            self._retype.stop()
        self._retype = self.set_timer(RETYPE_DELAY_S, self.compute)

    @on(Select.Changed, "#gates-layer")
    def _layer_changed(self) -> None:
        self.compute()

    @on(GateStrip.CursorMoved)
    def _cursor_moved(self, event: GateStrip.CursorMoved) -> None:
        self._update_detail(event.index)
        self.query_one("#gates-legend", Static).update(self._legend(event.strip.stretch))

    def _update_detail(self, index: int) -> None:
        trace = self.strip.trace
        if trace is None or not trace.chars:
            return
        char = trace.chars[index]
        shown = "space" if char == " " else repr(char)
        line = Text()
        line.append(f"{shown}", "bold")
        line.append(f"  {index + 1}/{len(trace.chars)}", "dim")
        plain = [f"{shown} {index + 1}/{len(trace.chars)}"]
        for label, value in (
            ("input", trace.input_gate[index]),
            ("forget", trace.forget_gate[index]),
            ("output", trace.output_gate[index]),
        ):
            line.append(f"   {label} ")
            line.append(f"{value:.3f}", style=f"{text_colour(gate_colour(value))} on {gate_colour(value)}")
            plain.append(f"{label} {value:.3f}")
        units = self.strip.shown_units()
        if units:
            line.append("\nH  ", "dim")
            for unit, values in units:
                value = values[index]
                line.append(f"h{unit} ")
                line.append(f"{value:+.2f}", style=f"{text_colour(unit_colour(value))} on {unit_colour(value)}")
                line.append("  ")
                plain.append(f"h{unit} {value:+.2f}")
        self.detail = " ".join(plain)
        self.query_one("#gates-detail", Static).update(line)

    def action_move_focus(self, step: int) -> None:
        if step > 0:
            self.focus_next()
        else:
            self.focus_previous()

    def action_reread(self) -> None:
        """Read the text again (while training: on a fresh snapshot of the model)."""
        self.compute()

    def action_timelapse(self, direction: int) -> None:
        self.notify(self.timelapse.step(direction), timeout=2)
        if self.config is not None:
            self.query_one("#gates-dialog").border_subtitle = self._subtitle()
        self.compute()

    def action_flip_book(self) -> None:
        from .flipbook import FlipBookScreen

        self.app.push_screen(FlipBookScreen(self.timelapse.run_path, self.text_input.value[:40] or "time traveller"))

    def action_close(self) -> None:
        self.dismiss(None)
