"""The probability lens (F4): how sure the model is of each character of a text.

Each character is shaded by the model's surprisal in bits (``-log2 p``, from
:func:`lstm_tui.core.score.score_text`, in a thread worker) on a
:class:`~lstm_tui.app.widgets.surprisal_strip.SurprisalStrip` (the gate strip's keys); at the
cursor, the five likeliest characters; the text's bits per character and perplexity and its ten
most surprising characters. ``o`` adds a second run (its row and ``b - a``: blue where it is
surer), ``x`` drops it; a bidirectional model shows its write-mode surprisal (what it knows
when it writes) under its training-mode one (it sees the future). ``[`` / ``]`` read with the
run's weight snapshots ("as of epoch N"); ``b`` opens the flip-book, ``t`` the gradient through time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, Label, Static

from ..errors import readable_error
from ..session import ModelChoice
from ..sources import TimeLapse, open_folder_run
from ..widgets.surprisal_strip import MAX_BITS, MAX_DIFF, SurprisalStrip, bits_scale
from .gates import DEFAULT_TEXT, RETYPE_DELAY_S, model_text
from .lens_text import LensReading, detail_text, reading_rows, surprising_text, totals_text

__all__ = ["LensScreen", "LensComputed", "NO_MODEL", "read_lens"]

NO_MODEL = (
    "No model yet: start a run (F5), load a saved one (ctrl+o) or follow one, then open the probability lens again."
)
HINTS = "←/→ Home End move · [ ] snapshots · o/x second run · b flip-book · t gradient · r reread · Esc"


class LensComputed(Message):
    """The worker's answer to request ``request``: a :class:`LensReading` or an ``error`` text."""

    def __init__(self, request: int, reading: LensReading | None = None, error: str | None = None) -> None:
        super().__init__()
        self.request = request
        self.reading = reading
        self.error = error


def read_lens(source: Any, other: Any, text: str) -> LensReading:
    """Score ``text`` with ``source`` (both ways for a bidirectional model) and ``other`` (worker thread)."""
    from lstm_tui.core.score import compare_scores, score_text

    try:
        model, vocab = source.model_and_vocab()
    except RuntimeError as exc:
        raise RuntimeError(f"{exc}; wait for the first batch, then press r") from None
    if source.config.bidirectional:
        scores = [
            ("train", score_text(model, vocab, text, mode="train")),
            ("write", score_text(model, vocab, text, mode="write")),
        ]
    else:
        scores = [("a", score_text(model, vocab, text))]
    if other is None:
        return LensReading(tuple(scores))
    other_model, other_vocab = other.model_and_vocab()
    mode = "write" if other.config.bidirectional else "train"
    second = score_text(other_model, other_vocab, text, mode=mode)
    diff = compare_scores(scores[-1][1], second).diff
    return LensReading((*scores, ("b", second)), diff)


class LensScreen(ModalScreen[None]):
    """The probability lens (F4)."""

    DEFAULT_CSS = """
    LensScreen { align: center middle; }
    #lens-dialog {
        width: 100%; height: 100%; border: thick $primary; border-title-style: bold;
        background: $surface; padding: 0 1;
    }
    #lens-controls { height: 1; margin-bottom: 1; }
    .lens-label { width: auto; padding: 0 1 0 0; color: $text-muted; }
    #lens-text { width: 1fr; }
    #lens-strip { margin-bottom: 1; min-height: 2; }
    #lens-strip:focus { background: $boost; }
    #lens-detail, #lens-totals, #lens-surprising { height: auto; margin-bottom: 1; }
    #lens-legend, #lens-hints, #lens-runs { height: auto; color: $text-muted; }
    #lens-status { height: 1; color: $text-muted; }
    #lens-fill { height: 1fr; }
    """

    BINDINGS = [
        Binding("escape,f4", "close", "Close", id="lens.close"),
        Binding("r", "reread", "Read again", id="lens.reread", tooltip="Read the text again (a fresh snapshot)"),
        Binding("o", "other", "Second run", id="lens.other", tooltip="Pick a second run to compare with"),
        Binding("x", "drop_other", "Drop second", id="lens.drop", tooltip="Drop the second run"),
        Binding(
            "[",
            "timelapse(-1)",
            "Older",
            id="lens.older",
            tooltip="Read with the run's previous weight snapshot (as of epoch N)",
        ),
        Binding(
            "]",
            "timelapse(1)",
            "Newer",
            id="lens.newer",
            tooltip="Read with the next snapshot (past the newest: the latest model)",
        ),
        Binding(
            "b",
            "flip_book",
            "Flip-book",
            id="lens.flipbook",
            tooltip="The same prefix written at every snapshot of the run",
        ),
        Binding(
            "t",
            "gradient",
            "Gradient",
            id="lens.gradient",
            tooltip="Gradient through time: how far back the last step's loss reaches",
        ),
        Binding("tab", "move_focus(1)", "Next", show=False),
        Binding("shift+tab", "move_focus(-1)", "Previous", show=False),
    ]

    def __init__(
        self,
        choice: ModelChoice | None = None,
        run_path: str | None = None,
        text: str = DEFAULT_TEXT,
        runs_dir: Path | None = None,
    ) -> None:
        """``choice``: the session's model; ``run_path``: its run folder (snapshots), or, with no
        choice, a run folder to read (a followed run: its checkpoint)."""
        super().__init__()
        self.initial_text = text if len(text) >= 2 else DEFAULT_TEXT
        self.runs_dir = runs_dir
        self.problem = ""
        self.source: Any = choice.source if choice is not None else None
        self.description = choice.description if choice is not None else ""
        if self.source is None and run_path:
            try:
                self.source = open_folder_run(run_path)
                self.description = f"run {Path(run_path).name}"
            except Exception as exc:  # noqa: BLE001 - shown in place
                self.problem = readable_error(exc)
        self.timelapse = TimeLapse(run_path)
        self.other: Any = None
        self.request = 0
        self.computing = False
        self.error = ""
        self.reading: LensReading | None = None
        self._retype: Timer | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        with Vertical(id="lens-dialog") as dialog:
            dialog.border_title = "Probability lens"
            with Horizontal(id="lens-controls"):
                yield Label("text", classes="lens-label")
                yield Input(
                    self.initial_text,
                    placeholder="a text for the model to read",
                    compact=True,
                    id="lens-text",
                    select_on_focus=False,
                )
            yield SurprisalStrip(id="lens-strip")
            yield Static("", id="lens-detail")
            yield Static("", id="lens-totals")
            yield Static("", id="lens-surprising")
            yield Static(self._legend(), id="lens-legend")
            yield Static("", id="lens-runs")
            yield Static("", id="lens-fill")
            yield Static("", id="lens-status")
            yield Static(Text(HINTS), id="lens-hints")

    @property
    def strip(self) -> SurprisalStrip:
        return self.query_one(SurprisalStrip)

    @property
    def text_input(self) -> Input:
        return self.query_one("#lens-text", Input)

    def on_mount(self) -> None:
        self._subtitle()
        self.strip.focus()
        if self.source is None:
            self.error = self.problem or NO_MODEL
            self.strip.show_message(self.error, "bold")
            return
        self.compute()

    def _subtitle(self) -> None:
        dialog = self.query_one("#lens-dialog")
        if self.source is not None:
            dialog.border_subtitle = f"{model_text(self.source.config)} · {self.description} · {self.timelapse.label}"
        runs = Text("a: " + (self.description or "none"), style="dim")
        if self.timelapse.epoch is not None:
            runs.append(f" ({self.timelapse.label})")
        if self.other is not None:
            runs.append(f"   b: run {Path(self.other.path).name}")
        self.query_one("#lens-runs", Static).update(runs)

    @staticmethod
    def _legend() -> Text:
        text = Text("bits 0 ")
        text.append_text(bits_scale("bits"))
        text.append(f" {MAX_BITS:.0f}+ (surprised)   b - a -{MAX_DIFF:.0f} ")
        text.append_text(bits_scale("diff"))
        text.append(f" +{MAX_DIFF:.0f} (blue: b surer)")
        return text

    # ------------------------------------------------------------------ computing
    def compute(self) -> None:
        """Score the text in the box (in a worker); the answer is a LensComputed."""
        if self._retype is not None:
            self._retype.stop()
            self._retype = None
        if self.source is None:
            return
        self.request += 1
        self.computing = True
        self.query_one("#lens-status", Static).update(Text("reading the text…", style="italic"))
        self._compute(self.timelapse.source(self.source), self.other, self.text_input.value, self.request)

    @work(thread=True, exclusive=True, group="lens", exit_on_error=False)
    def _compute(self, source: Any, other: Any, text: str, request: int) -> None:
        try:
            self.post_message(LensComputed(request, reading=read_lens(source, other, text)))
        except Exception as exc:  # noqa: BLE001 - shown in place, never raised
            self.post_message(LensComputed(request, error=readable_error(exc)))

    def on_lens_computed(self, message: LensComputed) -> None:
        if message.request != self.request:
            return  # an older text's answer
        self.computing = False
        self.query_one("#lens-status", Static).update("")
        if message.error is not None or message.reading is None:
            self.error, self.reading = message.error or "no reading", None
            for name in ("detail", "totals", "surprising"):
                self.query_one(f"#lens-{name}", Static).update("")
            self.strip.show_message(Text.assemble(("✗ ", "bold red"), (self.error, "red")))
            return
        self.error, self.reading = "", message.reading
        self.strip.set_rows(message.reading.tokens, reading_rows(message.reading))
        self.query_one("#lens-totals", Static).update(totals_text(message.reading))
        self.query_one("#lens-surprising", Static).update(surprising_text(message.reading))
        self._update_detail(self.strip.cursor)

    def _update_detail(self, index: int) -> None:
        if self.reading is not None and index < len(self.reading.tokens):
            self.query_one("#lens-detail", Static).update(detail_text(self.reading, index))

    # ------------------------------------------------------------------ events
    @on(Input.Submitted, "#lens-text")
    def _text_submitted(self) -> None:
        self.compute()
        self.strip.focus()

    @on(Input.Changed, "#lens-text")
    def _text_changed(self) -> None:
        if self.source is None or not self.is_mounted:
            return
        if self._retype is not None:
            self._retype.stop()
        self._retype = self.set_timer(RETYPE_DELAY_S, self.compute)

    @on(SurprisalStrip.CursorMoved)
    def _cursor_moved(self, event: SurprisalStrip.CursorMoved) -> None:
        self._update_detail(event.index)

    # ------------------------------------------------------------------ actions
    def action_move_focus(self, step: int) -> None:
        self.focus_next() if step > 0 else self.focus_previous()

    def action_reread(self) -> None:
        self.compute()

    def action_close(self) -> None:
        self.dismiss(None)

    def action_timelapse(self, direction: int) -> None:
        self.notify(self.timelapse.step(direction), timeout=2)
        self._subtitle()
        self.compute()

    def action_other(self) -> None:
        from .load_run import LoadRunScreen

        self.app.push_screen(LoadRunScreen(self.runs_dir), self._other_chosen)

    def _other_chosen(self, path: str | None) -> None:
        if not path:
            return
        try:
            self.other = open_folder_run(path)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"Cannot read {path}: {readable_error(exc)}", severity="error", markup=False)
            return
        self._subtitle()
        self.compute()

    def action_drop_other(self) -> None:
        if self.other is not None:
            self.other = None
            self._subtitle()
            self.compute()

    def action_flip_book(self) -> None:
        from .flipbook import FlipBookScreen

        prefix = self.text_input.value[:40] or "time traveller"
        self.app.push_screen(FlipBookScreen(self.timelapse.run_path, prefix))

    def action_gradient(self) -> None:
        from .gradient import GradientScreen

        sources = [(self.description or "this run", self.timelapse.source(self.source))]
        if self.other is not None:
            sources.append((f"run {Path(self.other.path).name}", self.other))
        self.app.push_screen(
            GradientScreen([s for s in sources if s[1] is not None], self.text_input.value, runs_dir=self.runs_dir)
        )
