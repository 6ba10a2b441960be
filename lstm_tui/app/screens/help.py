"""F1: every key and what each panel does."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ..keys import binding_groups, group_keys, group_text, remapped

PANELS = [
    (
        "Run setup (left)",
        "Every setting of a run. Pick a preset to fill the fields, then change any of them. "
        "A wrong value is marked in red with what the field takes; Start refuses until it is fixed. "
        "The fields lock while a run trains. Tab / shift+tab move between fields; Enter opens a choice list.",
    ),
    (
        "Perplexity",
        "Training perplexity per epoch on a log scale (and validation perplexity when val split > 0). "
        "Lower is better; 1 would be a model that is always sure and right.",
    ),
    (
        "Predictions",
        "Every 'predict every' epochs, the model continues each prefix (greedy). "
        "Also run start, stop, checkpoints and failures. Scroll up to read back; it follows new lines when at the end.",
    ),
    (
        "Generate",
        "Type a prefix, the length, temperature (0 = greedy) and top-k (0 = all), then Enter. "
        "Works while training (on a copy of the current model), after a run, or on a loaded run.",
    ),
    ("Status line", "State, epoch, perplexity, tokens per second, elapsed time and ETA, device, progress."),
]


MAIN_EXTRA = [
    ("tab, shift+tab", "Move between fields and panels"),
    ("ctrl+p", "Command palette (every action by name)"),
    ("escape", "Close this help / a dialog"),
]


def other_screens() -> list[tuple[str, list]]:
    """The keys of the screens the main one opens: (title, bindings)."""
    from ..widgets.char_strip import CharStrip
    from ..widgets.gate_strip import GateStrip
    from .compare import CompareScreen
    from .exercises import ExercisesScreen
    from .flipbook import FlipBookScreen
    from .gates import GateScreen
    from .gradient import GradientScreen
    from .lens import LensScreen
    from .runs import RunsScreen
    from .sweep_results import SweepResultsScreen

    return [
        ("Runs (F2)", RunsScreen.BINDINGS),
        ("Compare (c in Runs)", CompareScreen.BINDINGS),
        ("Exercises (e in Runs)", ExercisesScreen.BINDINGS),
        ("Sweep results (v in Runs)", SweepResultsScreen.BINDINGS),
        ("Gate inspector (F3)", GateScreen.BINDINGS + GateStrip.BINDINGS),
        ("Probability lens (F4)", LensScreen.BINDINGS + CharStrip.BINDINGS),
        ("Flip-book (b in the lens or the gate inspector)", FlipBookScreen.BINDINGS),
        ("Gradient through time (t in the lens)", GradientScreen.BINDINGS),
    ]


def key_table(bindings: list, extra: Sequence[tuple[str, str]] = ()) -> Table:
    """One row per action: its keys (the footer's first) and what it does (the tooltip)."""
    keys = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=True)
    keys.add_column("Key", style="bold cyan", no_wrap=True)
    keys.add_column("Action")
    for group in binding_groups(bindings):
        keys.add_row(key_label(group_keys(group)), group_text(group))
    for key, text in extra:
        keys.add_row(key, text)
    return keys


def key_label(key: str) -> str:
    """``"f5, ctrl+r"`` -> ``"F5, ctrl+r"``."""
    return ", ".join(
        k.upper() if k.startswith("f") and k[1:].isdigit() else k for k in (part.strip() for part in key.split(","))
    )


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q,question_mark", "close", "Close help", id="help.close")]

    def compose(self) -> ComposeResult:
        panels = Table(box=None, show_header=False, pad_edge=False, expand=True)
        panels.add_column(style="bold magenta", no_wrap=True)
        panels.add_column()
        for name, text in PANELS:
            panels.add_row(name, text)
        with VerticalScroll(id="help-body"):
            yield Static(Text("lstm-tui — keys", style="bold"))
            yield Static(key_table(remapped(self.app.BINDINGS, self.app._keymap), MAIN_EXTRA))
            yield Static(Text("\nPanels", style="bold"))
            yield Static(panels)
            for title, bindings in other_screens():
                yield Static(Text(f"\n{title}", style="bold"))
                yield Static(key_table(remapped(bindings, self.app._keymap)))
            yield Static(Text("\nPress Escape or F1 to close.", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
