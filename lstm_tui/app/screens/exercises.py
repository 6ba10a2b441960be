"""The book's exercises as runnable cards (``e`` in the runs screen, F2).

The cards of :mod:`lstm_tui.core.exercises` on the left: each a question and the one field it
changes (the baseline's value and the variants'). Enter runs the highlighted card as a sweep
through the app's launcher (:mod:`lstm_tui.app.sweeping`: separate ``train`` processes, same
seed and data, the main form's device and data), ``s`` stops it (each run checkpoints). The
right side shows the card's runs overlaid (:class:`~..widgets.compare_chart.CompareChart`),
one legend line per run, and once the runs have ended the verdict that
:meth:`~lstm_tui.core.exercises.Card.verdict` computes from their numbers. A card run before
(its sweep record in ``.sweeps/``, from here or ``lstm-tui sweep --exercise``) shows its curves
and verdict when highlighted, without training again. The files are read on a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from lstm_tui.core.compare import Curve, curves
from lstm_tui.core.config import ConfigError
from lstm_tui.core.exercises import CARDS, Card
from lstm_tui.core.runs import RunError
from lstm_tui.core.sweep import (
    BOOK_SHARED_FIELDS,
    SweepRecord,
    SweepResult,
    SweepSpec,
    list_records,
    load_record,
    sweep_folders,
    sweep_results,
)

from ...core.numbers import format_perplexity
from ..widgets.compare_chart import CompareChart, run_colour
from ..widgets.footer import KeyFooter
from .confirm import Confirm
from .screen_commands import ScreenCommands

#: Runs of a card trained at the same time (one: their speeds compare, and each gets the cores).
CARD_PARALLEL = 1
#: Seconds between re-reads of the shown card's runs while its sweep trains.
REFRESH_S = 1.0


def card_spec(card: Card, shared: dict[str, Any]) -> SweepSpec:
    """The card's sweep with the main form's ``shared`` fields (tests replace this: tiny runs)."""
    return card.spec({k: v for k, v in shared.items() if k != card.field})


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def card_text(card: Card) -> Text:
    """Title, question and the one field that differs: the baseline's value and the variants'."""
    text = Text()
    text.append(card.title, style="bold")
    text.append(f"  ({card.name})\n", style="dim")
    text.append(card.question + "\n")
    text.append("differs: ", style="dim")
    text.append(card.field, style="bold cyan")
    text.append(f"  baseline {_value(card.baseline)}", style="bold")
    text.append("  vs  " + ", ".join(_value(v) for v in card.variants))
    changed = "".join(f", {key} {_value(value)}" for key, value in card.base.items())
    text.append(f"  · preset {card.preset}{changed}, same seed and data", style="dim")
    return text


@dataclass
class CardView:
    """What the screen shows of a card: its newest sweep (None: never run) and the runs' numbers."""

    card: Card
    record: SweepRecord | None = None
    results: list[SweepResult] | None = None
    curves: list[Curve] | None = None
    running: bool = False

    @property
    def verdict(self) -> str | None:
        """Card.verdict on the runs' results; None while they train or before any run."""
        if self.record is None or self.running or not self.results:
            return None
        return self.card.verdict(self.results)


def card_records(root: Path) -> dict[str, SweepRecord]:
    """The newest sweep record of each card (``meta["exercise"]``) under ``root``."""
    newest: dict[str, SweepRecord] = {}
    for record in list_records(root):  # (newest first)
        name = str(record.meta.get("exercise", ""))
        if name in CARDS and name not in newest:
            newest[name] = record
    return newest


def legend(view: CardView) -> Text:
    text = Text(no_wrap=True, overflow="ellipsis")
    for index, result in enumerate(view.results or []):
        value = result.values.get(view.card.field)
        if index:
            text.append("\n")
        text.append("■ ", style=f"bold {run_colour(index)[1]}")
        text.append(f"{view.card.field} {_value(value)}", style="bold")
        text.append(" (baseline)" if value == view.card.baseline else "", style="dim")
        val = "-" if result.val_ppl is None else format_perplexity(result.val_ppl)
        train = "-" if result.train_ppl is None else format_perplexity(result.train_ppl)
        epochs = f"{result.epochs_done}/{result.epochs}" if result.epochs else str(result.epochs_done)
        text.append(f"  val {val}  train {train}  · {result.status} {epochs}", style="")
    return text


class ExercisesScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ExercisesScreen { background: $background; }
    #ex-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
    #ex-body { height: 1fr; }
    #ex-cards { width: 26; height: 1fr; border: round $primary 60%; }
    #ex-cards:focus { border: round $primary; }
    #ex-right { width: 1fr; }
    #ex-card { height: auto; max-height: 7; padding: 0 1; }
    #ex-chart { height: 1fr; min-height: 6; border: round $primary 60%; }
    #ex-legend { height: auto; max-height: 4; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    #ex-verdict { height: auto; max-height: 4; padding: 0 1; background: $boost; }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="exercises.back", tooltip="Back to the runs screen"),
        Binding(
            "enter",
            "run",
            "Run card",
            id="exercises.run",
            priority=True,
            tooltip="Run the highlighted card: its baseline and variants as separate processes, same seed and data",
        ),
        Binding(
            "s",
            "stop",
            "Stop",
            id="exercises.stop",
            tooltip="Stop the card's runs at their next batch (each saves a checkpoint)",
        ),
    ]
    COMMANDS = {ScreenCommands}

    def __init__(self, host: Any, root: Path) -> None:
        super().__init__()
        self.host = host
        self.root = Path(root)
        self.records: dict[str, SweepRecord] = {}
        self.view: CardView | None = None
        self.running: str | None = None  # the name of the card whose sweep this screen started
        self.running_sweep: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="ex-title")
        with Horizontal(id="ex-body"):
            cards = OptionList(*(Option(card.title, id=card.name) for card in CARDS.values()), id="ex-cards")
            cards.border_title = "Exercises"
            yield cards
            with Vertical(id="ex-right"):
                yield Static("", id="ex-card")
                chart = CompareChart(id="ex-chart")
                chart.border_title = "Perplexity (log scale) · lines: train · dots: validation"
                yield chart
                yield Static("", id="ex-legend")
                yield Static("", id="ex-verdict")
        yield KeyFooter(compact=True)

    @property
    def cards(self) -> OptionList:
        return self.query_one("#ex-cards", OptionList)

    @property
    def chart(self) -> CompareChart:
        return self.query_one("#ex-chart", CompareChart)

    @property
    def verdict_text(self) -> str:
        return str(self.query_one("#ex-verdict", Static).render())

    def on_mount(self) -> None:
        self.cards.focus()
        self._adopt_running()
        self.cards.highlighted = 0
        self._title()
        self.set_interval(REFRESH_S, self._tick)

    def _adopt_running(self) -> None:
        """A card's sweep the app still runs (started from this screen before it was closed)."""
        name = self.host.sweep_name
        if not name:
            return
        try:
            card = str(load_record(self.root, name).meta.get("exercise", ""))
        except RunError:
            return
        if card in CARDS:
            self.running, self.running_sweep = card, name

    def highlighted_card(self) -> Card | None:
        index = self.cards.highlighted
        if index is None:
            return None
        option_id = self.cards.get_option_at_index(index).id
        return CARDS.get(option_id or "")

    # ------------------------------------------------------------------ reading (a thread)
    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        card = CARDS.get(event.option.id or "")
        if card is not None:
            self.view = CardView(card, self.records.get(card.name))
            self._draw()
            self._read(card.name)

    @work(thread=True, exclusive=True, group="exercise-read", exit_on_error=False)
    def _read(self, name: str) -> None:
        try:
            records = card_records(self.root)
        except (RunError, OSError):
            records = {}
        sweep = self._sweep_of_card(name)
        record = records.get(name)
        if sweep is not None:
            try:
                record = load_record(self.root, sweep)
            except RunError:
                pass  # (being written: the next look has it)
        view = CardView(CARDS[name], record, running=sweep is not None)
        if record is not None:
            view.results = sweep_results(self.root, record)
            view.curves = curves(sweep_folders(self.root, record))
        self.app.call_from_thread(self._show, view, records)

    def _sweep_of_card(self, name: str) -> str | None:
        """The sweep that trains card ``name`` now (this screen's, or one the app still runs)."""
        if self.running == name and self.running_sweep and self.host.sweep_active:
            return self.running_sweep
        return None

    def _show(self, view: CardView, records: dict[str, SweepRecord]) -> None:
        if not self.is_mounted:
            return
        self.records = records
        current = self.highlighted_card()
        if current is None or current.name != view.card.name:
            return
        self.view = view
        self._draw()

    # ------------------------------------------------------------------ drawing
    def _title(self) -> None:
        count = len(CARDS)
        done = len(self.records)
        text = Text()
        text.append(f"The book's exercises · {count} cards", style="bold")
        text.append(f" · {done} run before" if done else "", style="")
        if self.running:
            text.append(f" · training {self.running} (s stops)", style="bold yellow")
        text.append(" · Enter runs the highlighted card", style="dim")
        self.query_one("#ex-title", Static).update(text)

    def _draw(self) -> None:
        view = self.view
        if view is None:
            return
        for index, card in enumerate(CARDS.values()):
            mark = " ●" if card.name == self.running else (" ✓" if card.name in self.records else "")
            self.cards.replace_option_prompt_at_index(index, card.title + mark)
        self.query_one("#ex-card", Static).update(card_text(view.card))
        self.chart.set_curves(view.curves or [], "epoch")
        self.query_one("#ex-legend", Static).update(legend(view))
        self.query_one("#ex-verdict", Static).update(self._verdict_line(view))
        self._title()

    def _verdict_line(self, view: CardView) -> Text:
        if view.running:
            return Text("training… the verdict comes from the runs' numbers once they have ended", style="yellow")
        if view.record is None:
            runs = 1 + len(view.card.variants)
            return Text(f"not run yet: Enter trains its {runs} runs (baseline and variants)", style="dim")
        verdict = view.verdict
        if verdict is None:
            return Text("no run of this card has started", style="dim")
        text = Text()
        text.append("verdict: ", style="bold")
        text.append(verdict)
        text.append(f"  (sweep {view.record.name})", style="dim")
        return text

    def _tick(self) -> None:
        if self.running and not self.host.sweep_active:  # it ended while this screen was away from it
            self._ended()
        card = self.highlighted_card()
        if card is not None and card.name == self.running:
            self._read(card.name)

    # ------------------------------------------------------------------ run, stop
    def action_run(self) -> None:
        card = self.highlighted_card()
        if card is None:
            return
        if self.host.run_active or self.host.sweep_active:
            self.notify(
                "Something trains already (a run on the main screen, or a sweep): stop it first.",
                title="Not started",
                severity="warning",
            )
            return
        try:
            spec = card_spec(card, self.host.book_shared_fields(BOOK_SHARED_FIELDS))
        except ConfigError as exc:
            self.notify(f"{exc.field}: {exc.message}", title="Cannot run the card", severity="error", markup=False)
            return
        first = spec.points[0].config
        values = ", ".join(_value(point.values[card.field]) for point in spec.points)
        message = (
            f"Trains {len(spec)} runs, one after another in separate processes: {card.field} = {values}; "
            f"preset {card.preset}, {first.epochs} epochs each, {first.val_split:.0%} held out, "
            f"on {first.device}, seed {first.seed}. Each run gets its own folder in {self.root}. s stops."
        )

        def answer(yes: bool | None) -> None:
            if yes:
                self.start(card, spec)

        self.app.push_screen(
            Confirm(f"Run the card “{card.title}”?", message, yes="Train", no="Cancel", danger=False, width=72), answer
        )

    def start(self, card: Card, spec: SweepSpec) -> None:
        name = self.host.start_sweep(
            spec, parallel=CARD_PARALLEL, purpose="exercise", on_note=self._noted, on_done=self._done
        )
        if name is None:
            return
        self.running, self.running_sweep = card.name, name
        self.view = CardView(card, None, running=True)
        self._draw()
        self.refresh_bindings()

    def action_stop(self) -> None:
        if not self.running or not self.host.sweep_active:
            self.notify("No card is training.", severity="warning")
            return
        self.host.stop_sweep()
        self.notify("The card's runs stop at their next batch, each with a checkpoint.", title="Stopping")

    def _noted(self, note: Any) -> None:
        if self.is_mounted and self.running:
            self._read(self.running)

    def _done(self, record: SweepRecord | None, outcome: Any, problem: str | None) -> None:
        if problem and self.is_mounted:
            self.notify(problem, title="The card did not run", severity="error", markup=False)
        self._ended()

    def _ended(self) -> None:
        name, self.running, self.running_sweep = self.running, None, None
        if not self.is_mounted or name is None:
            return
        self.refresh_bindings()
        card = self.highlighted_card()
        self._read(card.name if card is not None else name)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return True if self.running else None
        return True

    def action_back(self) -> None:
        self.dismiss(None)


__all__ = ["CARD_PARALLEL", "CardView", "ExercisesScreen", "card_records", "card_spec", "card_text"]
