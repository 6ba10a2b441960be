"""Pick a saved run (from the runs folder) or type a path to a run folder or checkpoint.

``mode`` is "load" (talk to the model) or "resume" (continue training it from its checkpoint);
F8 in the dialog switches to resume and takes the highlighted run (or the typed path).
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from ...core.numbers import format_perplexity

TITLES = {"load": "Load a run", "resume": "Resume a run (continue training from its checkpoint)"}
HINTS = {"load": "Enter loads · F8 resumes training · Escape cancels", "resume": "Enter resumes · Escape cancels"}


class LoadRunScreen(ModalScreen["str | None"]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="load.cancel"),
        Binding("f8", "resume", "Resume", id="load.resume"),
    ]

    def __init__(self, runs_dir: Path | None, mode: str = "load") -> None:
        super().__init__()
        self.runs_dir = runs_dir
        self.mode = mode if mode in TITLES else "load"

    def compose(self) -> ComposeResult:
        from lstm_tui.core.runs import RunError, default_runs_dir, list_runs

        root = self.runs_dir or default_runs_dir()
        try:
            runs = [r for r in list_runs(root) if r.has_checkpoint]
            problem = ""
        except RunError as exc:
            runs, problem = [], str(exc)
        if self.mode == "resume":  # a finished run needs more epochs first: unfinished ones on top
            runs.sort(key=lambda r: r.status == "finished")
        options = []
        for run in runs:
            summary = run.summary or {}
            ppl = summary.get("perplexity")
            text = f"{run.name}  {run.status}"
            if isinstance(ppl, (int, float)):
                text += f"  ppl {format_perplexity(ppl)}"
            options.append(Option(Text(text), id=str(run.path)))
        with Vertical(id="load-dialog"):
            yield Label(Text(f"{TITLES[self.mode]} (from {root})"), id="load-title")
            if options:
                yield OptionList(*options, id="load-list")
            else:
                yield Label(Text(problem or "No saved runs with a checkpoint yet."), id="load-empty")
            yield Label("…or a run folder / checkpoint path:")
            yield Input(placeholder="path, then Enter", id="load-path")
            yield Label(HINTS[self.mode], classes="dim", id="load-hint")

    def on_mount(self) -> None:
        lists = self.query(OptionList)
        (lists.first() if lists else self.query_one("#load-path", Input)).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value:
            self.dismiss(value)

    def action_resume(self) -> None:
        """Resume the highlighted run (or the typed path)."""
        self.mode = "resume"
        typed = self.query_one("#load-path", Input).value.strip()
        lists = self.query(OptionList)
        if typed:
            self.dismiss(typed)
        elif lists and lists.first().highlighted is not None:
            option_list = lists.first()
            self.dismiss(option_list.get_option_at_index(option_list.highlighted).id)
        else:
            self.query_one("#load-title", Label).update(Text(TITLES["resume"]))
            self.query_one("#load-hint", Label).update(HINTS["resume"])

    def action_cancel(self) -> None:
        self.dismiss(None)
