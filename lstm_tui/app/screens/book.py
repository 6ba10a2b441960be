""" "Run the book": the chapter's four experiments trained in a row, on the runs screen (b).

The runs are prepared by :func:`~lstm_tui.app.worker.prepare_new` (the main screen's run is
too) and trained in a thread worker of the runs screen (:func:`run_book`). The worker posts
:class:`BookStarted` per experiment, the trainer's events as the engine messages of
:mod:`lstm_tui.app.messages` (not bubbling: they are the runs screen's) and :class:`BookDone`
at the end; it never touches widgets. :class:`BookMixin` is the screen's side.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.message import Message
from textual.widgets import Static

from lstm_tui.core import events as ev
from lstm_tui.core.config import ConfigError, RunConfig
from lstm_tui.core.presets import PRESETS

from .. import messages as m
from ..gil import short_gil_switches
from ..worker import Preparation, Prepared, Refused, prepare_new
from .confirm import Confirm

#: The chapter's experiments, trained in this order by "Run the book".
BOOK_PRESETS: tuple[str, ...] = ("scratch", "concise", "deep", "bidirectional")
#: Fields of the main form that the book's runs share (the same data, device and seed).
BOOK_SHARED_FIELDS: tuple[str, ...] = ("device", "data_dir", "corpus", "seed")


def book_configs(shared: dict[str, Any] | None = None) -> list[RunConfig]:
    """The book's four experiments: each preset with ``shared`` (from the main form: device,
    data, seed) applied. Raises ConfigError."""
    changes = dict(shared or {})
    changes.pop("preset", None)
    return [PRESETS[name].config.replace(**changes) for name in BOOK_PRESETS]


class BookStarted(Message):
    """Experiment ``index`` of ``total`` (``preset``, ``epochs`` epochs) starts in ``path``."""

    def __init__(self, index: int, total: int, preset: str, epochs: int, path: str) -> None:
        super().__init__()
        self.index, self.total, self.preset, self.epochs, self.path = index, total, preset, epochs, path


class BookDone(Message):
    """The book run ended: the run folders it made, whether it was stopped, what went wrong,
    how many experiments trained all their epochs (``trained``), and the one a stop cut short
    (``stopped_in``: index, preset, epochs done, epochs planned, whether its checkpoint was
    written -- ``Finished.checkpoint_saved``)."""

    def __init__(
        self,
        paths: list[str],
        stopped: bool,
        problems: list[str],
        trained: int = 0,
        stopped_in: tuple[int, str, int, int, bool] | None = None,
    ) -> None:
        super().__init__()
        self.paths, self.stopped, self.problems = paths, stopped, problems
        self.trained, self.stopped_in = trained, stopped_in


def book_outcome(message: BookDone) -> str:
    """What the book run did, honestly: an experiment a stop cut short is not "trained"."""
    total = len(BOOK_PRESETS)
    trained = f"{message.trained} of {total} trained all their epochs"
    if message.stopped_in is not None:
        index, preset, epoch, epochs, saved = message.stopped_in
        return (
            f"Stopped during {index + 1}/{total} ({preset}, epoch {epoch} of {epochs})"
            f"{'; its checkpoint is saved' if saved else ''}. {trained}."
        )
    if message.stopped:
        return f"Stopped between experiments: {trained}."
    return f"The book's runs are done: {trained}."


class BookRun:
    """What the book's worker and the UI share: the stop flag and the trainer that trains now."""

    def __init__(self) -> None:
        self.stop_asked = threading.Event()
        self._lock = threading.Lock()
        self._trainer: Any = None
        self._path: str | None = None

    def training(self, trainer: Any, path: str | None) -> None:
        with self._lock:
            self._trainer, self._path = trainer, path

    @property
    def path(self) -> str | None:
        """The folder of the book's run that trains now."""
        with self._lock:
            return self._path

    def stop(self) -> None:
        self.stop_asked.set()
        with self._lock:
            trainer = self._trainer
        if trainer is not None:
            trainer.stop()


def run_book(configs: list[RunConfig], root: Path, book: BookRun, post: Callable[[Message], None]) -> None:
    """Train ``configs`` one after another in ``root`` (worker thread); ends with a BookDone."""
    paths: list[str] = []
    problems: list[str] = []
    stopped, trained, data = False, 0, None
    stopped_in: tuple[int, str, int, int, bool] | None = None
    try:
        for index, config in enumerate(configs):
            if book.stop_asked.is_set():
                stopped = True
                break
            run_id = -(index + 1)  # (never a main-screen run's id)

            def on_event(event: ev.Event, run_id: int = run_id) -> None:
                if not isinstance(event, (ev.Finished, ev.Failed)):
                    post(m.engine_message(event, run_id, bubble=False))

            made = prepare_new(config, root, on_event, data=data)
            if not isinstance(made, Prepared) or made.run_path is None:
                problems.append(f"{config.preset}: {_refusal(made)}")
                break
            data = made.data  # once: the four runs see exactly the same data
            paths.append(made.run_path)
            post(BookStarted(index, len(configs), config.preset, config.epochs, made.run_path))
            book.training(made.trainer, made.run_path)
            if book.stop_asked.is_set():
                made.trainer.stop()
            with short_gil_switches():
                result = made.trainer.run()
            book.training(None, None)
            if isinstance(result, ev.Failed):
                problems.append(f"{config.preset}: {result.reason}")
            elif result.stopped:
                stopped, stopped_in = True, (index, config.preset, result.epoch, config.epochs, result.checkpoint_saved)
                break
            else:
                trained += 1
    except BaseException as exc:  # noqa: BLE001 - nothing may take the app down
        problems.append(f"{type(exc).__name__}: {exc}")
    post(BookDone(paths, stopped, problems, trained, stopped_in))


def _refusal(made: Preparation) -> str:
    if isinstance(made, Refused):
        return f"{made.field}: {made.message}"
    if isinstance(made, ev.Failed):
        return made.reason
    return "its run folder could not be made"


class BookMixin:
    """The runs screen's side of the book: b asks, starts and stops it; the progress line."""

    book_active: bool = False
    book_paths: list[str]
    book_result: BookDone | None = None
    _book: BookRun
    _book_now: BookStarted | None = None
    _pending_compare: list[str] | None = None

    def action_book(self) -> None:
        if self.book_active:
            return
        if self.host.run_active:
            self.notify(
                "A run is training on the main screen: stop it (F7) before running the book.",
                title="Not started",
                severity="warning",
            )
            return
        try:
            configs = book_configs(self.host.book_shared_fields(BOOK_SHARED_FIELDS))
        except ConfigError as exc:
            self.notify(f"{exc.field}: {exc.message}", title="Cannot run the book", severity="error", markup=False)
            return
        first = configs[0]
        if first.corpus:
            data = first.corpus
        elif first.max_tokens > 0:
            data = f"The Time Machine, first {first.max_tokens:,} tokens"
        else:
            data = "The Time Machine, whole book"
        message = (
            f"Trains {', '.join(BOOK_PRESETS)} one after another: {first.epochs} epochs each, "
            f"hidden {first.hidden}, on {first.device}, seed {first.seed}, data: {data}.\n"
            f"Each run gets its own folder in {self.root}. b stops; the comparison opens at the end."
        )

        def answer(yes: bool | None) -> None:
            if yes:
                self.start_book(configs)

        self.app.push_screen(
            Confirm("Run the book's four experiments?", message, yes="Train", no="Cancel", danger=False, width=72),
            answer,
        )

    def start_book(self, configs: list[RunConfig]) -> None:
        self.book_active = True
        self.book_paths = []
        self.book_result = None
        self._book_now = None
        self._book = BookRun()
        self._show_progress(Text(f"Run the book: preparing {configs[0].preset}…"))
        self.refresh_bindings()
        book, root = self._book, self.root
        self.run_worker(
            lambda: run_book(configs, root, book, self.post_message),
            thread=True,
            exclusive=True,
            group="book",
            exit_on_error=False,
        )

    def action_stop_book(self) -> None:
        if self.book_active:
            self.stop_book()
            self._show_progress(Text("Run the book: stopping at the next batch (a checkpoint is saved)…"))

    def stop_book(self) -> None:
        self._book.stop()

    def _show_progress(self, text: Text | None) -> None:
        bar = self.query_one("#book-progress", Static)
        bar.set_class(text is not None, "-shown")
        if text is not None:
            bar.update(text)

    def on_book_started(self, message: BookStarted) -> None:
        self._book_now = message
        if message.path not in self.book_paths:
            self.book_paths.append(message.path)
        self._scan_runs()  # the new run's row, read off the UI thread
        self._progress(0, message.epochs)

    def on_engine_batch_progress(self, message: m.EngineBatchProgress) -> None:
        event = message.event
        self._progress(event.epoch - 1 + event.batch / max(event.batches, 1), None, event.perplexity)

    def on_engine_epoch_end(self, message: m.EngineEpochEnd) -> None:
        event = message.event
        self._progress(event.epoch, event.epochs, event.perplexity, event.val_perplexity)

    def _progress(
        self, epoch: float, epochs: int | None, perplexity: float | None = None, val_perplexity: float | None = None
    ) -> None:
        """The progress line; after a stop request the "stopping" line stays (the worker's
        progress lags behind, and "b stops" would be wrong)."""
        now = self._book_now
        if not self.book_active or now is None or self._book.stop_asked.is_set():
            return
        epochs = epochs or now.epochs
        text = Text()
        text.append("Run the book ", style="bold")
        text.append(f"{now.index + 1}/{now.total} {now.preset}")
        text.append(f" · epoch {epoch:.1f}/{epochs}" if epoch % 1 else f" · epoch {epoch:.0f}/{epochs}")
        if perplexity is not None:
            text.append(f" · ppl {perplexity:.2f}")
        if val_perplexity is not None:
            text.append(f" · val {val_perplexity:.2f}")
        text.append(" · b stops", style="dim")
        self._show_progress(text)
        self.host.show_status_message(
            f"the book trains: {now.index + 1}/{now.total} {now.preset}, epoch {epoch:.0f}/{epochs} (F2)"
        )

    def on_book_done(self, message: BookDone) -> None:
        self.book_active = False
        self.book_result = message
        self.refresh_bindings()
        self._show_progress(None)
        self.host.show_status_message("")
        self.reload()
        for problem in message.problems:
            self.notify(problem, title="Book run problem", severity="error", timeout=8, markup=False)
        if not message.paths:
            return
        self.notify(book_outcome(message), title="Run the book", markup=False)
        if self.is_current:
            self._open_compare(message.paths, "The book's experiments")
        else:
            self._pending_compare = list(message.paths)
