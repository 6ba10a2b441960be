""" "Run the book": the chapter's four experiments as a sweep, from the runs screen (b).

The four presets (:func:`~lstm_tui.core.sweep.book_sweep`, with the main form's device, data
and seed) run through the app's sweep launcher (:mod:`lstm_tui.app.sweeping`, reached through
the :class:`~lstm_tui.app.session.SessionHost`): one ``train`` process per experiment, one
after another, each followed live on the main screen (one chart line per run). The screen
keeps a progress line from the launcher's progress; ``b`` stops every run with a checkpoint.
When the sweep ends the comparison opens. :class:`BookMixin` is the runs screen's side.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.css.query import NoMatches
from textual.widgets import Static

from lstm_tui.core.config import ConfigError
from lstm_tui.core.runs import RunStatus
from lstm_tui.core.sweep import (
    BOOK_PRESETS,
    BOOK_SHARED_FIELDS,
    SweepNote,
    SweepOutcome,
    SweepRecord,
    SweepSpec,
    book_sweep,
    sweep_results,
)

from ...core.numbers import format_perplexity
from .confirm import Confirm

#: Seconds between redraws of the progress line.
PROGRESS_EVERY_S = 0.5


def book_spec(shared: dict[str, Any] | None = None) -> SweepSpec:
    """The book's four experiments with ``shared`` (the main form's device, data, seed) applied.
    Raises ConfigError. (Tests replace this to make the runs tiny.)"""
    return book_sweep(shared)


@dataclass
class BookResult:
    """What the book's sweep did: the run folders it made, whether it was stopped, what went
    wrong, how many experiments trained all their epochs (``trained``), and the first one a
    stop cut short (``stopped_in``: index, preset, epochs done, epochs planned, whether its
    checkpoint is there)."""

    paths: list[str]
    stopped: bool
    problems: list[str]
    trained: int = 0
    stopped_in: tuple[int, str, int, int, bool] | None = None
    sweep: str = ""


def book_result(
    root: Path, record: SweepRecord | None, outcome: SweepOutcome | None, problem: str | None
) -> BookResult:
    """The book's result from its runs' own files (never from what the app guessed)."""
    problems = [problem] if problem else []
    if record is None:
        return BookResult([], False, problems)
    result = BookResult([], outcome is not None and outcome.stopped, problems, sweep=record.name)
    for run, row in zip(record.runs, sweep_results(root, record)):
        preset = str(run.values.get("preset", run.name))
        if row.folder is not None:
            result.paths.append(str(row.folder))
        if row.status == RunStatus.FINISHED.value:
            result.trained += 1
        elif row.status == RunStatus.FAILED.value:
            result.problems.append(f"{preset}: {row.reason or 'failed'}")
        elif row.folder is not None and result.stopped_in is None and result.stopped:
            saved = (row.folder / "checkpoint.pt").is_file()
            result.stopped_in = (run.index, preset, row.epochs_done, row.epochs or run.config.epochs, saved)
    if outcome is not None and not outcome.stopped:
        result.problems += [
            f"{run.name}: did not start (see its log in .sweeps/{record.name}/)" for run in outcome.not_started
        ]
    return result


def book_outcome(result: BookResult) -> str:
    """What the book run did, honestly: an experiment a stop cut short is not "trained"."""
    total = len(BOOK_PRESETS)
    trained = f"{result.trained} of {total} trained all their epochs"
    if result.stopped_in is not None:
        index, preset, epoch, epochs, saved = result.stopped_in
        return (
            f"Stopped during {index + 1}/{total} ({preset}, epoch {epoch} of {epochs})"
            f"{'; its checkpoint is saved' if saved else ''}. {trained}."
        )
    if result.stopped:
        return f"Stopped between experiments: {trained}."
    return f"The book's runs are done: {trained}."


@dataclass
class BookRun:
    """The book's sweep as the runs screen sees it: its name, the stop asked, the run training now."""

    name: str | None = None
    path: str | None = None
    stop_asked: threading.Event = field(default_factory=threading.Event)


class BookMixin:
    """The runs screen's side of the book: b asks, starts and stops it; the progress line."""

    book_active: bool = False
    book_paths: list[str]
    book_result: BookResult | None = None
    _book: BookRun
    _pending_compare: list[str] | None = None

    def on_mount(self) -> None:  # (Textual calls every class's handler: this and the screen's own)
        self.set_interval(PROGRESS_EVERY_S, self._book_tick)

    def action_book(self) -> None:
        if self.book_active:
            return
        if self.host.run_active or self.host.sweep_active:
            self.notify(
                "Something trains already (a run on the main screen, or a sweep): F7 there stops it first.",
                title="Not started",
                severity="warning",
            )
            return
        try:
            spec = book_spec(self.host.book_shared_fields(BOOK_SHARED_FIELDS))
        except ConfigError as exc:
            self.notify(f"{exc.field}: {exc.message}", title="Cannot run the book", severity="error", markup=False)
            return
        first = spec.points[0].config
        if first.corpus:
            data = first.corpus
        elif first.max_tokens > 0:
            data = f"The Time Machine, first {first.max_tokens:,} tokens"
        else:
            data = "The Time Machine, whole book"
        message = (
            f"Trains {', '.join(BOOK_PRESETS)} one after another, each in its own process: {first.epochs} epochs "
            f"each, hidden {first.hidden}, on {first.device}, seed {first.seed}, data: {data}.\n"
            f"Each run gets its own folder in {self.root}, tagged with the sweep; the main screen follows them. "
            "b stops (each run saves a checkpoint); the comparison opens at the end."
        )

        def answer(yes: bool | None) -> None:
            if yes:
                self.start_book(spec)

        self.app.push_screen(
            Confirm("Run the book's four experiments?", message, yes="Train", no="Cancel", danger=False, width=72),
            answer,
        )

    def start_book(self, spec: SweepSpec) -> None:
        name = self.host.start_sweep(spec, parallel=1, purpose="book", on_note=self._book_note, on_done=self._book_done)
        if name is None:
            return
        self.book_active = True
        self.book_paths = []
        self.book_result = None
        self._book = BookRun(name)
        self._show_progress(Text(f"Run the book: starting {spec.points[0].values.get('preset', '')}…"))
        self.refresh_bindings()

    def action_stop_book(self) -> None:
        if self.book_active:
            self.stop_book()

    def stop_book(self) -> None:
        """Stop the book's runs (each checkpoints); any thread (the hangup watchdog calls it)."""
        if not self.book_active:
            return
        self._book.stop_asked.set()
        self.host.stop_sweep()
        if threading.current_thread() is threading.main_thread():
            self._show_progress(Text("Run the book: stopping at the next batch (each run saves a checkpoint)…"))

    def _show_progress(self, text: Text | None) -> None:
        try:
            bar = self.query_one("#book-progress", Static)
        except NoMatches:  # (the screen is being torn down: the app closes)
            return
        bar.set_class(text is not None, "-shown")
        if text is not None:
            bar.update(text)

    def _book_note(self, note: SweepNote) -> None:
        if note.kind == "stopping" and not self._book.stop_asked.is_set():  # (F7 on the main screen, a signal)
            self._book.stop_asked.set()
            self._show_progress(Text("Run the book: stopping at the next batch (each run saves a checkpoint)…"))
        if note.kind == "started":
            self._scan_runs()  # the new run's row, read off the UI thread
        self._book_tick()

    def _book_tick(self) -> None:
        """The progress line from the launcher's progress; after a stop request the "stopping"
        line stays (the processes report their last epochs after it)."""
        if not self.book_active or self._book.stop_asked.is_set():
            return
        progress = self.host.sweep_progress()
        for run in progress:
            if run.folder is not None and str(run.folder) not in self.book_paths:
                self.book_paths.append(str(run.folder))
        now = next((run for run in reversed(progress) if run.folder is not None), None)
        self._book.path = str(now.folder) if now is not None else None
        if now is None:
            return
        preset = BOOK_PRESETS[now.index] if now.index < len(BOOK_PRESETS) else now.name
        text = Text()
        text.append("Run the book ", style="bold")
        text.append(f"{now.index + 1}/{len(progress)} {preset}")
        text.append(f" · epoch {now.epoch}/{now.epochs}")
        if now.perplexity is not None:
            text.append(f" · ppl {format_perplexity(now.perplexity)}")
        if now.val_perplexity is not None:
            text.append(f" · val {format_perplexity(now.val_perplexity)}")
        text.append(" · b stops", style="dim")
        self._show_progress(text)

    def _book_done(self, record: SweepRecord | None, outcome: SweepOutcome | None, problem: str | None) -> None:
        result = book_result(self.root, record, outcome, problem)
        self.book_active = False
        self.book_result = result
        self._book.path = None
        if not self.is_mounted:
            return
        self.refresh_bindings()
        self._show_progress(None)
        self.reload()
        for text in result.problems:
            self.notify(text, title="Book run problem", severity="error", timeout=8, markup=False)
        if not result.paths:
            return
        self.notify(book_outcome(result), title="Run the book", markup=False)
        if self.is_current:
            self._open_compare(result.paths, "The book's experiments")
        else:
            self._pending_compare = list(result.paths)


__all__ = ["BOOK_PRESETS", "BookMixin", "BookResult", "BookRun", "book_outcome", "book_result", "book_spec"]
