"""Gradient through time (``t`` in the probability lens): how much of the last step's loss
reaches the hidden state ``k`` steps back, ``||dL_T/dh_{T-k}||`` for ``k = 0..num_steps``, on a
log scale (:func:`lstm_tui.core.gradient_time.gradient_through_time`, in a thread worker).
Several runs overlay: the lens's model (and its second run), ``o`` adds another."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Static

from ..errors import readable_error
from ..sources import open_folder_run
from ..widgets.compare_chart import run_colour
from ..widgets.footer import KeyFooter
from ..widgets.gradient_chart import GradientChart

__all__ = ["GradientScreen", "GradientComputed", "MAX_STEPS", "steps_for"]

MAX_STEPS = 50


def steps_for(text: str) -> int:
    """Steps back the text allows (it needs ``num_steps + 2`` characters), at most MAX_STEPS."""
    return max(0, min(MAX_STEPS, len(text) - 2))


class GradientComputed(Message):
    def __init__(self, series: list[tuple[str, list[float]]], errors: list[str]) -> None:
        super().__init__()
        self.series = series
        self.errors = errors


class GradientScreen(ModalScreen[None]):
    """``sources``: ``(label, model source)`` to overlay."""

    DEFAULT_CSS = """
    GradientScreen { background: $surface; }
    #gradient-title, #gradient-legend { height: auto; padding: 0 1; }
    #gradient-chart { height: 1fr; }
    """

    BINDINGS = [
        Binding("escape,t", "back", "Back", id="gradient.back"),
        Binding("o", "add", "Add run", id="gradient.add", tooltip="Overlay another run's gradient"),
    ]

    def __init__(self, sources: list[tuple[str, Any]], text: str, runs_dir: Path | None = None) -> None:
        super().__init__()
        self.sources = list(sources)
        self.text = text
        self.runs_dir = runs_dir
        self.series: list[tuple[str, list[float]]] = []
        self.errors: list[str] = []
        self.computing = False

    def compose(self) -> ComposeResult:
        yield Static(
            Text(
                f"Gradient through time: ||∂L_T/∂h_(T-k)|| for k = 0..{steps_for(self.text)} "
                "steps back (log scale); a plain RNN's fades fast, an LSTM's does not",
                style="bold",
            ),
            id="gradient-title",
        )
        chart = GradientChart(id="gradient-chart")
        chart.border_title = "gradient norm (log) · x: steps back"
        yield chart
        yield Static("", id="gradient-legend")
        yield KeyFooter(compact=True)

    @property
    def chart(self) -> GradientChart:
        return self.query_one(GradientChart)

    def on_mount(self) -> None:
        self.compute()

    def compute(self) -> None:
        self.computing = True
        self.query_one("#gradient-legend", Static).update(Text("computing…", style="italic"))
        self._compute(list(self.sources), self.text)

    @work(thread=True, exclusive=True, group="gradient", exit_on_error=False)
    def _compute(self, sources: list[tuple[str, Any]], text: str) -> None:
        from lstm_tui.core.gradient_time import gradient_through_time

        series, errors = [], []
        for label, source in sources:
            try:
                model, vocab = source.model_and_vocab()
                series.append(
                    (f"{label} ({source.config.cell})", gradient_through_time(model, vocab, text, steps_for(text)))
                )
            except Exception as exc:  # noqa: BLE001 - shown in the legend
                errors.append(f"{label}: {readable_error(exc)}")
        self.post_message(GradientComputed(series, errors))

    def on_gradient_computed(self, message: GradientComputed) -> None:
        self.computing = False
        self.series, self.errors = message.series, message.errors
        self.chart.set_series(message.series)
        legend = Text()
        for index, (label, norms) in enumerate(message.series):
            legend.append("━━ ", run_colour(index)[1])
            ratio = f"  k={len(norms) - 1}: {norms[-1] / norms[0]:.1e} of k=0" if norms and norms[0] > 0 else ""
            legend.append(f"{label}{ratio}   ")
        for error in message.errors:
            legend.append(f"\n✗ {error}", "red")
        if not message.series and not message.errors:
            legend.append("no model to read: start, load or follow a run", "dim")
        self.query_one("#gradient-legend", Static).update(legend)

    def action_add(self) -> None:
        from .load_run import LoadRunScreen

        self.app.push_screen(LoadRunScreen(self.runs_dir), self._added)

    def _added(self, path: str | None) -> None:
        if not path:
            return
        try:
            self.sources.append((f"run {Path(path).name}", open_folder_run(path)))
        except Exception as exc:  # noqa: BLE001
            self.notify(f"Cannot read {path}: {readable_error(exc)}", severity="error", markup=False)
            return
        self.compute()

    def action_back(self) -> None:
        self.dismiss(None)
