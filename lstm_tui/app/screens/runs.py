"""The runs screen: every run in the runs folder, sortable, with delete / rename / export,
a comparison of marked runs, and "Run the book" (the chapter's four experiments in a row).

The screen is *installed* on the app (see :func:`open_runs_screen`), so a book run keeps
training -- and this screen keeps its marks and sort -- while the user is back on the main
screen. The book trains in a thread worker of this screen that posts :class:`BookProgress` /
:class:`BookDone` messages; it never touches widgets.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from lstm_tui.core.compare import RunRow, format_cell, rename_run, delete_run, run_rows, sort_rows
from lstm_tui.core.config import ConfigError, RunConfig
from lstm_tui.core.presets import PRESETS
from lstm_tui.core.runs import RunError, default_runs_dir

from ..training import short_gil_switches
from .compare import CompareScreen
from .confirm import Confirm
from .prompt import Prompt

RUNS_SCREEN = "runs"
#: The chapter's experiments, trained in this order by "Run the book".
BOOK_PRESETS: tuple[str, ...] = ("scratch", "concise", "deep", "bidirectional")
#: Fields of the main form that the book's runs share (the same data, device and seed).
BOOK_SHARED_FIELDS: tuple[str, ...] = ("device", "data_dir", "corpus", "seed")
PROGRESS_INTERVAL_S = 0.25

#: (column key, header, RunRow field it sorts by); the first column is the mark. What tells
#: the runs apart comes first -- status, preset, train and validation perplexity, epochs --
#: so it is visible at 80 columns; the details follow.
TABLE_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("mark", " ", None),
    ("name", "name", "name"),
    ("status", "status", "status"),
    ("preset", "preset", "preset"),
    ("train_ppl", "train ppl", "train_ppl"),
    ("val_ppl", "val ppl", "val_ppl"),
    ("epochs", "epochs", "epochs_done"),
    ("created", "date", "created"),
    ("gen_ppl", "gen ppl", "gen_ppl"),
    ("cell", "cell", "cell"),
    ("layers", "layers", "layers"),
    ("hidden", "hidden", "hidden"),
    ("tokens_per_s", "tok/s", "tokens_per_s"),
    ("wall_s", "wall time", "wall_s"),
    ("device", "device", "device"),
)
#: The name column's width: a longer name (up to 60 characters) shows its end after "…".
NAME_WIDTH = 20
#: What ``s`` cycles through: from the default (date, newest first) on to name, preset...
SORT_KEYS: tuple[str, ...] = tuple(f for _, _, f in TABLE_COLUMNS if f and f != "created") + ("created",)
NUMERIC = {"layers", "hidden", "epochs", "train_ppl", "val_ppl", "gen_ppl", "tokens_per_s", "wall_s"}
STATUS_STYLE = {"running": "bold yellow", "interrupted": "yellow", "failed": "bold red", "stopped": "dim", "unknown": "dim"}


def open_runs_screen(app: App) -> "RunsScreen":
    """Show the runs screen (installed once per app, so a book run survives leaving it)."""
    if not app.is_screen_installed(RUNS_SCREEN):
        app.install_screen(RunsScreen(getattr(app, "runs_dir", None)), RUNS_SCREEN)
    screen = app.get_screen(RUNS_SCREEN)
    if app.screen is not screen:
        app.push_screen(screen)
    return screen  # type: ignore[return-value]


def book_running(app: App) -> bool:
    """Whether "Run the book" is training (the main screen's Start refuses meanwhile)."""
    if not app.is_screen_installed(RUNS_SCREEN):
        return False
    screen = app.get_screen(RUNS_SCREEN)
    return isinstance(screen, RunsScreen) and screen.book_active


def book_configs(shared: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None) -> list[RunConfig]:
    """The book's four experiments: each preset with ``shared`` (from the main form: device,
    data, seed) and then ``overrides`` (tests: tiny runs) applied. Raises ConfigError."""
    changes = {**(shared or {}), **(overrides or {})}
    changes.pop("preset", None)
    return [PRESETS[name].config.replace(**changes) for name in BOOK_PRESETS]


def short_name(name: str, width: int = NAME_WIDTH) -> str:
    """``name`` cut to ``width`` keeping its end, which tells runs apart (the start of a
    default name is its date stamp, shown in the date column); the dialogs show it whole."""
    return name if len(name) <= width else "…" + name[-(width - 1):]


def same_run(path: str | os.PathLike | None, other: str | os.PathLike) -> bool:
    """Whether two paths name the same run folder (the app's may be relative, or a link)."""
    return path is not None and Path(path).resolve() == Path(other).resolve()


def read_rows(root: Path) -> tuple[list[RunRow], str]:
    """``(rows, "")`` for the runs under ``root``, or ``([], the reason)`` when it cannot be read."""
    try:
        return run_rows(root), ""
    except (RunError, OSError) as exc:
        return [], str(exc)


class BookProgress(Message):
    """Where the book run is: experiment ``index`` of ``total``, at ``epoch`` (fractional) of ``epochs``."""

    def __init__(self, index: int, total: int, preset: str, epoch: float, epochs: int,
                 perplexity: float | None = None, val_perplexity: float | None = None, path: str = "") -> None:
        super().__init__()
        self.index, self.total, self.preset = index, total, preset
        self.epoch, self.epochs = epoch, epochs
        self.perplexity, self.val_perplexity, self.path = perplexity, val_perplexity, path


class BookDone(Message):
    """The book run ended: the run folders it made, whether it was stopped, what went wrong,
    how many experiments trained all their epochs (``trained``), and the one a stop cut short
    (``stopped_in``: index, preset, epochs done, epochs planned, whether its checkpoint was
    written -- ``Finished.checkpoint_saved``)."""

    def __init__(self, paths: list[str], stopped: bool, problems: list[str], trained: int = 0,
                 stopped_in: tuple[int, str, int, int, bool] | None = None) -> None:
        super().__init__()
        self.paths, self.stopped, self.problems = paths, stopped, problems
        self.trained, self.stopped_in = trained, stopped_in


def book_outcome(message: BookDone) -> str:
    """What the book run did, honestly: an experiment a stop cut short is not "trained"."""
    total = len(BOOK_PRESETS)
    trained = f"{message.trained} of {total} trained all their epochs"
    if message.stopped_in is not None:
        index, preset, epoch, epochs, saved = message.stopped_in
        return (f"Stopped during {index + 1}/{total} ({preset}, epoch {epoch} of {epochs})"
                f"{'; its checkpoint is saved' if saved else ''}. {trained}.")
    if message.stopped:
        return f"Stopped between experiments: {trained}."
    return f"The book's runs are done: {trained}."


class RunsScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    RunsScreen { background: $background; }
    #runs-title { height: 1; padding: 0 1; background: $panel; }
    #runs-table { height: 1fr; border: round $primary 60%; scrollbar-size: 1 1; }
    #runs-table:focus { border: round $primary; }
    #runs-empty { display: none; height: auto; padding: 1 2; color: $text-muted; }
    RunsScreen.-empty #runs-empty { display: block; }
    #book-progress { display: none; height: 1; padding: 0 1; background: $boost; color: $warning; }
    #book-progress.-shown { display: block; }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="runs.back", tooltip="Back to the main screen"),
        Binding("space", "mark", "Mark", id="runs.mark", tooltip="Mark or unmark the run (for compare / export)"),
        Binding("c", "compare", "Compare", id="runs.compare",
                tooltip="Overlay the perplexity curves of the marked runs (or the highlighted one)"),
        Binding("s", "sort", "Sort", id="runs.sort", tooltip="Sort by the next column"),
        Binding("r", "reverse", "Reverse", id="runs.reverse", tooltip="Reverse the sort order"),
        Binding("n", "rename", "Rename", id="runs.rename", tooltip="Rename the highlighted run"),
        Binding("d", "delete", "Delete", id="runs.delete", tooltip="Delete the highlighted run (asks first)"),
        Binding("x", "export", "Export", id="runs.export",
                tooltip="Write metrics CSV/JSON and a markdown report of the marked (or highlighted) runs"),
        Binding("b", "book", "Book", id="runs.book",
                tooltip="Train scratch, concise, deep and bidirectional in a row, then compare them"),
        Binding("b", "stop_book", "Stop book", id="runs.stop_book", tooltip="Stop the book run"),
    ]

    def __init__(self, runs_dir: str | os.PathLike | None = None,
                 book_overrides: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.root = Path(runs_dir).expanduser() if runs_dir is not None else default_runs_dir()
        self.book_overrides = book_overrides
        self.rows: list[RunRow] = []
        self.marked: set[str] = set()
        self.sort_key = "created"
        self.sort_reverse = True
        self.problem = ""
        # book run state (the worker thread reads _book_stop and _book_trainer only)
        self.book_active = False
        self.book_paths: list[str] = []
        self.book_result: BookDone | None = None
        self._book_stop = threading.Event()
        self._book_trainer: Any = None
        self._book_path: str | None = None  # the folder of the book's run that is training
        self._book_lock = threading.Lock()
        self._pending_compare: list[str] | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static("", id="runs-title")
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="runs-table")
        table.border_title = "Runs"
        yield table
        yield Static("", id="runs-empty")
        yield Static("", id="book-progress")
        yield Footer(compact=True)

    @property
    def table(self) -> DataTable:
        return self.query_one("#runs-table", DataTable)

    @property
    def exports_dir(self) -> Path:
        return self.root.parent / "exports"

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(2.0, self._auto_reload)

    def on_screen_resume(self) -> None:
        self.reload()
        self.table.focus()
        if self._pending_compare:
            paths, self._pending_compare = self._pending_compare, None
            self._open_compare(paths, "The book's experiments")

    def on_unmount(self) -> None:
        self.stop_book()  # the app is closing: never leave a trainer running

    def _auto_reload(self) -> None:
        """Keep numbers fresh while something trains (the main screen's run or the book)."""
        if self.is_current and (self.book_active or getattr(self.app, "run_active", False)):
            self._scan_runs()

    @work(thread=True, exclusive=True, group="runs-scan", exit_on_error=False)
    def _scan_runs(self) -> None:
        """The periodic re-read, on a thread: a folder of many long runs never stalls a key press."""
        rows, problem = read_rows(self.root)
        self.app.call_from_thread(self._show_rows, rows, problem)

    # ------------------------------------------------------------------ table
    def reload(self, select: str | None = None) -> None:
        """Read the runs folder again and redraw the table (keeps the cursor on the same run)."""
        self._show_rows(*read_rows(self.root), select=select)

    def _show_rows(self, rows: list[RunRow], problem: str, select: str | None = None) -> None:
        if not self.is_mounted:  # (a scan that finished after the screen closed)
            return
        self.problem = problem
        self.rows = sort_rows(rows, self.sort_key, self.sort_reverse)
        self.marked &= {str(row.path) for row in self.rows}
        self._fill(select)

    def _fill(self, select: str | None = None) -> None:
        table = self.table
        current = select or self.cursor_key()
        table.clear()
        if not table.columns:
            for key, header, _ in TABLE_COLUMNS:
                table.add_column(Text(header), key=key)
        for (key, header, field), column in zip(TABLE_COLUMNS, table.columns.values()):
            label = header + ((" ▼" if self.sort_reverse else " ▲") if field == self.sort_key else "")
            column.label = Text(label, justify="right" if key in NUMERIC else "left")
        for row in self.rows:
            table.add_row(*self._cells(row), key=str(row.path))
        if current is not None and self.rows:
            try:
                table.move_cursor(row=table.get_row_index(current), animate=False, scroll=True)
            except Exception:  # noqa: BLE001 - the run is gone
                pass
        empty = not self.rows
        self.set_class(empty, "-empty")
        if empty:
            self.query_one("#runs-empty", Static).update(Text(
                self.problem or f"No runs yet in {self.root}.\n\nTrain one on the main screen (F5), "
                "or press b to run the book's four experiments."))
        self._update_title()

    def _cells(self, row: RunRow) -> list[Text]:
        cells = []
        for key, _, _ in TABLE_COLUMNS:
            if key == "mark":
                cells.append(Text("●" if str(row.path) in self.marked else " ", style="bold green"))
            elif key == "name":
                cells.append(Text(short_name(row.name), no_wrap=True))
            elif key == "epochs":
                cells.append(Text(f"{row.epochs_done}/{format_cell(row, 'epochs')}", justify="right"))
            elif key == "status":
                cells.append(Text(row.status, style=STATUS_STYLE.get(row.status, "")))
            else:
                text = format_cell(row, key)
                style = "dim" if text == "n/a" else ("yellow" if key == "val_ppl" else "")
                cells.append(Text(text, style=style, justify="right" if key in NUMERIC else "left"))
        return cells

    def _update_title(self) -> None:
        header = next(h for _, h, f in TABLE_COLUMNS if f == self.sort_key)
        count = len(self.rows)
        text = Text()
        text.append(f"{count} run{'s' if count != 1 else ''}", style="bold")
        text.append(f" in {self.root}", style="dim")
        text.append(f" · sorted by {header} {'▼' if self.sort_reverse else '▲'}")
        if self.marked:
            text.append(f" · {len(self.marked)} marked", style="bold green")
        self.query_one("#runs-title", Static).update(text)

    def cursor_key(self) -> str | None:
        table = self.table
        if not table.row_count:
            return None
        try:
            return table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        except Exception:  # noqa: BLE001
            return None

    def cursor_row(self) -> RunRow | None:
        key = self.cursor_key()
        return next((row for row in self.rows if str(row.path) == key), None)

    def chosen(self) -> list[RunRow]:
        """The marked runs in table order, else the highlighted one."""
        marked = [row for row in self.rows if str(row.path) in self.marked]
        if marked:
            return marked
        row = self.cursor_row()
        return [row] if row is not None else []

    # ------------------------------------------------------------------ bindings
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "book":
            return not self.book_active
        if action == "stop_book":
            return self.book_active
        return True

    def action_back(self) -> None:
        self.dismiss(None)

    def action_mark(self) -> None:
        key = self.cursor_key()
        if key is None:
            return
        self.marked.symmetric_difference_update({key})
        row_index = self.table.cursor_row
        self.table.update_cell(key, "mark", Text("●" if key in self.marked else " ", style="bold green"))
        self.table.move_cursor(row=min(row_index + 1, self.table.row_count - 1))
        self._update_title()

    def action_sort(self) -> None:
        index = SORT_KEYS.index(self.sort_key) if self.sort_key in SORT_KEYS else -1
        self.sort_key = SORT_KEYS[(index + 1) % len(SORT_KEYS)]
        self.sort_reverse = False
        self.rows = sort_rows(self.rows, self.sort_key, self.sort_reverse)
        self._fill()

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.rows = sort_rows(self.rows, self.sort_key, self.sort_reverse)
        self._fill()

    def sort_by(self, key: str, reverse: bool = False) -> None:
        self.sort_key, self.sort_reverse = key, reverse
        self.rows = sort_rows(self.rows, key, reverse)
        self._fill()

    # ------------------------------------------------------------------ compare
    def action_compare(self) -> None:
        runs = self.chosen()
        if not runs:
            self.notify("No runs to compare yet.", severity="warning")
            return
        if len(runs) == 1 and not self.marked:
            self.notify("Showing one run: space marks several to compare them.", timeout=3)
        self._open_compare([str(row.path) for row in runs])

    def _open_compare(self, paths: list[str], title: str = "") -> None:
        self.app.push_screen(CompareScreen(paths, self.exports_dir, title=title))

    # ------------------------------------------------------------------ delete / rename
    def training_here(self, row: RunRow) -> bool:
        """Whether this app trains ``row``: the main screen's run, or the book's.

        While the main screen's run starts its folder is not known yet, so any "running"
        run counts. Another "running" run was left so by a process that may be gone.
        """
        app = self.app
        if getattr(app, "run_active", False):
            path = getattr(app, "run_path", None)
            if path is None or same_run(path, row.path):
                return True
        with self._book_lock:
            book_path = self._book_path
        return self.book_active and (str(row.path) in self.book_paths or same_run(book_path, row.path))

    def _unless_training(self, row: RunRow, action: str, proceed: Callable[[bool], None],
                         detail: str = "") -> None:
        """``proceed(force)`` for ``row``: at once unless it says it is training; refused when
        this app trains it, else after a question (its process may have been killed)."""
        if row.status != "running":
            proceed(False)
            return
        if self.training_here(row):
            self.notify(f"Cannot {action} {row.name}: it is training. Stop it first (F7 on the main screen"
                        f"{', b here for the book' if self.book_active else ''}).",
                        title=f"Not {action}d", severity="error", markup=False)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                proceed(True)

        self.app.push_screen(Confirm(
            f"{action.capitalize()} {row.name} anyway?",
            f"{row.name} says it is still training, but not in this app. If no other lstm-tui process is "
            f"training it (it may have been killed), {action} it anyway?{detail}",
            yes=action.capitalize(), no="Keep" if action == "delete" else "Cancel", width=72), answer)

    def action_delete(self) -> None:
        row = self.cursor_row()
        if row is None:
            self.notify("No run to delete.", severity="warning")
            return
        removed = f"Its folder, metrics and checkpoint are removed for good:\n{row.path}"

        def proceed(force: bool) -> None:
            if force:  # the question about its training was asked (and said this)
                self.delete(row, force=True)
            else:
                self._ask_delete(row, removed)

        self._unless_training(row, "delete", proceed, detail="\n\n" + removed)

    def _ask_delete(self, row: RunRow, removed: str) -> None:
        def answer(yes: bool | None) -> None:
            if yes:
                self.delete(row)

        self.app.push_screen(Confirm(f"Delete the run {row.name}?", removed, yes="Delete", no="Keep", width=72),
                             answer)

    def delete(self, row: RunRow, force: bool = False) -> None:
        try:
            delete_run(self.root, row.path, force=force)
        except RunError as exc:
            self.notify(str(exc), title="Not deleted", severity="error", markup=False)
        else:
            self.marked.discard(str(row.path))
            self.notify(f"deleted {row.name}", markup=False)
        self.reload()

    def action_rename(self) -> None:
        row = self.cursor_row()
        if row is None:
            self.notify("No run to rename.", severity="warning")
            return
        self._unless_training(row, "rename", lambda force: self._ask_rename(row, force))

    def _ask_rename(self, row: RunRow, force: bool) -> None:
        def submit(text: str) -> str | None:
            try:
                renamed = rename_run(self.root, row.path, text, force=force)
            except RunError as exc:
                return str(exc)
            old = str(row.path)
            if old in self.marked:
                self.marked.discard(old)
                self.marked.add(str(renamed.path))
            self.reload(select=str(renamed.path))
            if renamed.name != text:
                self.notify(f"renamed to {renamed.name} (folder names keep letters, digits, . _ -)", markup=False)
            return None

        self.app.push_screen(Prompt(f"Rename {row.name}", row.name, submit=submit,
                                    label="New name (letters, digits, . _ -; anything else becomes -):"))

    # ------------------------------------------------------------------ export
    def action_export(self) -> None:
        runs = self.chosen()
        if not runs:
            self.notify("No runs to export yet.", severity="warning")
            return
        count = len(runs)
        what = runs[0].name if count == 1 else f"{count} runs"

        def submit(text: str) -> str | None:
            if not text:
                return "type a folder"
            try:
                paths = self.export(runs, Path(text).expanduser())
            except (RunError, OSError) as exc:
                return str(exc)
            self.notify("wrote " + ", ".join(str(p) for p in paths), title=f"Exported {what}", timeout=8,
                        markup=False)
            return None

        self.app.push_screen(Prompt(f"Export {what}", str(self.exports_dir), submit=submit,
                                    label="Folder for the metrics (CSV + JSON per run) and a markdown report:"))

    def export(self, runs: list[RunRow], folder: Path) -> list[Path]:
        from lstm_tui.core.export import comparison_report, export_run

        written: list[Path] = []
        for row in runs:
            written += export_run(row.path, folder)
        stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
        written.append(comparison_report([row.path for row in runs], folder / f"report-{stamp}.md"))
        return written

    # ------------------------------------------------------------------ run the book
    def _shared_fields(self) -> dict[str, Any]:
        """Device, data and seed from the main form (falling back to the app's config)."""
        app = self.app
        values: dict[str, Any] = {}
        try:
            values = dict(app.form.values)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - not the lstm-tui app (or no form)
            pass
        base = getattr(app, "initial_config", None)
        shared = {}
        for name in BOOK_SHARED_FIELDS:
            if name in values:
                shared[name] = values[name]
            elif base is not None:
                shared[name] = getattr(base, name)
        return shared

    def action_book(self) -> None:
        if self.book_active:
            return
        if getattr(self.app, "run_active", False):
            self.notify("A run is training on the main screen: stop it (F7) before running the book.",
                        title="Not started", severity="warning")
            return
        overrides = self.book_overrides if self.book_overrides is not None else getattr(self.app, "book_overrides", None)
        try:
            configs = book_configs(self._shared_fields(), overrides)
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
        message = (f"Trains {', '.join(BOOK_PRESETS)} one after another: {first.epochs} epochs each, "
                   f"hidden {first.hidden}, on {first.device}, seed {first.seed}, data: {data}.\n"
                   f"Each run gets its own folder in {self.root}. b stops; the comparison opens at the end.")

        def answer(yes: bool | None) -> None:
            if yes:
                self.start_book(configs)

        self.app.push_screen(Confirm("Run the book's four experiments?", message, yes="Train", no="Cancel",
                                     danger=False, width=72), answer)

    def start_book(self, configs: list[RunConfig]) -> None:
        self.book_active = True
        self.book_paths = []
        self.book_result = None
        self._book_stop.clear()
        self._show_progress(Text(f"Run the book: preparing {configs[0].preset}…"))
        self.refresh_bindings()
        self._run_book(configs, self.root)

    def action_stop_book(self) -> None:
        if self.book_active:
            self.stop_book()
            self._show_progress(Text("Run the book: stopping at the next batch (a checkpoint is saved)…"))

    def stop_book(self) -> None:
        self._book_stop.set()
        with self._book_lock:
            trainer = self._book_trainer
        if trainer is not None:
            trainer.stop()

    def _show_progress(self, text: Text | None) -> None:
        bar = self.query_one("#book-progress", Static)
        bar.set_class(text is not None, "-shown")
        if text is not None:
            bar.update(text)

    @work(thread=True, exclusive=True, group="book", exit_on_error=False)
    def _run_book(self, configs: list[RunConfig], root: Path) -> None:
        from lstm_tui.core import events as ev

        paths: list[str] = []
        problems: list[str] = []
        stopped = False
        trained = 0
        stopped_in: tuple[int, str, int, int, bool] | None = None
        try:
            from lstm_tui.core.data import load_corpus
            from lstm_tui.core.engine import Trainer
            from lstm_tui.core.runs import RunDir

            try:
                data = load_corpus(configs[0])  # once: the four runs see exactly the same data
            except Exception as exc:  # noqa: BLE001 - reported, nothing trained
                self.post_message(BookDone([], False, [f"cannot read the corpus: {exc}"]))
                return
            total = len(configs)
            for index, config in enumerate(configs):
                if self._book_stop.is_set():
                    stopped = True
                    break
                run_dir = RunDir.create(root, config)
                path = str(run_dir.path)
                paths.append(path)
                self.post_message(BookProgress(index, total, config.preset, 0, config.epochs, path=path))
                last = 0.0

                def on_event(event: Any, index: int = index, config: RunConfig = config, path: str = path) -> None:
                    # The line shows only the latest numbers: post at most every PROGRESS_INTERVAL_S
                    # (every message wakes the UI thread, which shares the GIL with training), and
                    # always the last epoch.
                    nonlocal last
                    if not isinstance(event, (ev.EpochEnd, ev.BatchProgress)):
                        return
                    now = time.monotonic()
                    if now - last < PROGRESS_INTERVAL_S and not (isinstance(event, ev.EpochEnd)
                                                                 and event.epoch == event.epochs):
                        return
                    last = now
                    if isinstance(event, ev.EpochEnd):
                        self.post_message(BookProgress(index, total, config.preset, event.epoch, event.epochs,
                                                       event.perplexity, event.val_perplexity, path))
                    else:
                        done = event.epoch - 1 + event.batch / max(event.batches, 1)
                        self.post_message(BookProgress(index, total, config.preset, done, config.epochs,
                                                       event.perplexity, None, path))

                trainer = Trainer(config, on_event=on_event, run_dir=run_dir.path, data=data)
                with self._book_lock:
                    self._book_trainer, self._book_path = trainer, path
                if self._book_stop.is_set():
                    trainer.stop()
                with short_gil_switches():
                    result = trainer.run()
                with self._book_lock:
                    self._book_trainer, self._book_path = None, None
                if isinstance(result, ev.Failed):
                    problems.append(f"{config.preset}: {result.reason}")
                elif result.stopped:
                    stopped, stopped_in = True, (index, config.preset, result.epoch, config.epochs,
                                                  result.checkpoint_saved)
                    break
                else:
                    trained += 1
        except BaseException as exc:  # noqa: BLE001 - nothing may take the app down
            problems.append(f"{type(exc).__name__}: {exc}")
        self.post_message(BookDone(paths, stopped, problems, trained, stopped_in))

    def on_book_progress(self, message: BookProgress) -> None:
        """The progress line; after a stop request the "stopping" line stays (the worker's
        progress lags behind, and "b stops" would be wrong)."""
        if not self.book_active:
            return
        if message.path and message.path not in self.book_paths:
            self.book_paths.append(message.path)
            self._scan_runs()  # the new run's row, read off the UI thread
        if self._book_stop.is_set():
            return
        text = Text()
        text.append("Run the book ", style="bold")
        text.append(f"{message.index + 1}/{message.total} {message.preset}")
        text.append(f" · epoch {message.epoch:.1f}/{message.epochs}" if message.epoch % 1 else
                    f" · epoch {message.epoch:.0f}/{message.epochs}")
        if message.perplexity is not None:
            text.append(f" · ppl {message.perplexity:.2f}")
        if message.val_perplexity is not None:
            text.append(f" · val {message.val_perplexity:.2f}")
        text.append(" · b stops", style="dim")
        self._show_progress(text)
        self._tell_main(f"the book trains: {message.index + 1}/{message.total} {message.preset}, "
                        f"epoch {message.epoch:.0f}/{message.epochs} (F2)")

    def _tell_main(self, text: str) -> None:
        """The main screen's status line says what the book does (else it would read just "idle")."""
        if not getattr(self.app, "run_active", True) and hasattr(self.app, "status_bar"):
            self.app.status_bar.update_status(message=text)

    def on_book_done(self, message: BookDone) -> None:
        self.book_active = False
        self.book_result = message
        self.refresh_bindings()
        self._show_progress(None)
        self._tell_main("")
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
