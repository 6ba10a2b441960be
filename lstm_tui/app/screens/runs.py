"""The runs screen: every run in the runs folder, sortable, with delete / rename / export
(:mod:`.run_files`), a comparison of marked runs, and "Run the book" (:mod:`.book`).

The screen is *installed* on the app (see :func:`open_runs_screen`), so a book run keeps
training -- and this screen keeps its marks and sort -- while the user is back on the main
screen. It talks to the app through :class:`~lstm_tui.app.session.SessionHost` only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from lstm_tui.core.compare import RunRow, format_cell, run_rows, sort_rows
from lstm_tui.core.runs import RunError, default_runs_dir

from ..session import SessionHost
from ..widgets.footer import KeyFooter
from .book import BOOK_PRESETS, BookMixin, BookRun
from .compare import CompareScreen
from .fork import ForkMixin, fork_note
from .run_files import RunFilesMixin
from .sweep_groups import SWEEP_BINDINGS, SweepGroupsMixin, group_of, header_cells

__all__ = ["BOOK_PRESETS", "RUNS_SCREEN", "RunsScreen", "open_runs_screen"]

RUNS_SCREEN = "runs"

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
#: Seconds between re-reads of the runs folder while something in it trains.
REFRESH_S = 1.0
STATUS_STYLE = {
    "running": "bold yellow",
    "interrupted": "yellow",
    "failed": "bold red",
    "stopped": "dim",
    "unknown": "dim",
}


def open_runs_screen(app: App, make: Callable[[], RunsScreen]) -> RunsScreen:
    """Show the runs screen (``make()`` once per app, installed, so a book run survives leaving it)."""
    if not app.is_screen_installed(RUNS_SCREEN):
        app.install_screen(make(), RUNS_SCREEN)
    screen = app.get_screen(RUNS_SCREEN)
    if app.screen is not screen:
        app.push_screen(screen)
    return screen  # type: ignore[return-value]


def short_name(name: str, width: int = NAME_WIDTH) -> str:
    """``name`` cut to ``width`` keeping its end, which tells runs apart (the start of a
    default name is its date stamp, shown in the date column); the dialogs show it whole."""
    return name if len(name) <= width else "…" + name[-(width - 1) :]


def read_rows(root: Path) -> tuple[list[RunRow], str]:
    """``(rows, "")`` for the runs under ``root``, or ``([], the reason)`` when it cannot be read."""
    try:
        return run_rows(root), ""
    except (RunError, OSError) as exc:
        return [], str(exc)


class RunsScreen(SweepGroupsMixin, ForkMixin, RunFilesMixin, BookMixin, ModalScreen[None]):
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
        Binding(
            "c",
            "compare",
            "Compare",
            id="runs.compare",
            tooltip="Overlay the perplexity curves of the marked runs (or the highlighted one)",
        ),
        Binding("s", "sort", "Sort", id="runs.sort", tooltip="Sort by the next column"),
        Binding("r", "reverse", "Reverse", id="runs.reverse", tooltip="Reverse the sort order"),
        Binding("n", "rename", "Rename", id="runs.rename", tooltip="Rename the highlighted run"),
        Binding("d", "delete", "Delete", id="runs.delete", tooltip="Delete the highlighted run (asks first)"),
        Binding(
            "x",
            "export",
            "Export",
            id="runs.export",
            tooltip="Write metrics CSV/JSON and a markdown report of the marked (or highlighted) runs",
        ),
        Binding(
            "k",
            "fork",
            "Fork",
            id="runs.fork",
            tooltip="Fork the highlighted run from its checkpoint with changed settings, and train the fork",
        ),
        Binding(
            "f",
            "follow",
            "Follow",
            id="runs.follow",
            tooltip="Follow the marked (or highlighted) runs live on the main screen: chart, log, status",
        ),
        Binding("u", "unfollow", "Unfollow", id="runs.unfollow", tooltip="Stop following runs"),
        *SWEEP_BINDINGS,  # v, w (sweep_groups.py)
        Binding(
            "b",
            "book",
            "Book",
            id="runs.book",
            tooltip="Train scratch, concise, deep and bidirectional in a row (each its own process), then compare them",
        ),
        Binding("b", "stop_book", "Stop book", id="runs.stop_book", tooltip="Stop the book run"),
        Binding(
            "e",
            "exercises",
            "Exercises",
            id="runs.exercises",
            tooltip="The book's exercises as runnable cards: baseline vs variant, curves and a verdict",
        ),
    ]

    def __init__(self, host: SessionHost) -> None:
        super().__init__()
        self.host = host
        self.root = Path(host.runs_dir).expanduser() if host.runs_dir is not None else default_runs_dir()
        self.rows: list[RunRow] = []
        self.marked: set[str] = set()
        self.sort_key = "created"
        self.sort_reverse = True
        self.problem = ""
        self.book_active = False
        self.book_paths: list[str] = []
        self.book_result = None
        self._book = BookRun()
        self._pending_compare: list[str] | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static("", id="runs-title")
        table: DataTable = DataTable(cursor_type="row", zebra_stripes=True, id="runs-table")
        table.border_title = "Runs"
        yield table
        yield Static("", id="runs-empty")
        yield Static("", id="book-progress")
        yield KeyFooter(compact=True)

    @property
    def table(self) -> DataTable:
        return self.query_one("#runs-table", DataTable)

    @property
    def exports_dir(self) -> Path:
        return self.root.parent / "exports"

    def on_mount(self) -> None:
        self.reload()
        self.set_interval(REFRESH_S, self._auto_reload)

    def on_screen_resume(self) -> None:
        self.reload()
        self.table.focus()
        if self._pending_compare:
            paths, self._pending_compare = self._pending_compare, None
            self._open_compare(paths, "The book's experiments")

    def on_unmount(self) -> None:
        self.stop_book()  # the app is closing: never leave a trainer running

    def _auto_reload(self) -> None:
        """Keep numbers fresh while something trains (the main screen's run, the book, or a run
        another process trains: a row that says running)."""
        running = any(row.status == "running" for row in self.rows)
        if self.is_current and (self.book_active or self.host.run_active or running):
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
        self.rows = self.group_rows(sort_rows(rows, self.sort_key, self.sort_reverse))
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
        for key, row, runs in self.table_entries():  # (a sweep's runs under a row with its name)
            cells = (
                self._cells(row)
                if row
                else header_cells(group_of(key), runs, (c for c, _, _ in TABLE_COLUMNS), NAME_WIDTH)
            )
            table.add_row(*cells, key=key)
        if current is not None and self.rows:
            try:
                table.move_cursor(row=table.get_row_index(current), animate=False, scroll=True)
            except Exception:  # noqa: BLE001 - the run is gone
                pass
        empty = not self.rows
        self.set_class(empty, "-empty")
        if empty:
            self.query_one("#runs-empty", Static).update(
                Text(
                    self.problem
                    or f"No runs yet in {self.root}.\n\nTrain one on the main screen (F5), "
                    "or press b to run the book's four experiments."
                )
            )
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
            elif key == "status":  # "*": its checkpoint is older than its last epoch (see the table's subtitle)
                mark = "*" if row.checkpoint_note else ""
                cells.append(
                    Text(f"{row.status}{mark}", style="bold red" if mark else STATUS_STYLE.get(row.status, ""))
                )
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

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted run's checkpoint note (the '*' in its status) under the table."""
        row = self.cursor_row()
        note = row.checkpoint_note if row is not None else None
        fork = fork_note(row) if row is not None else None
        sweep = self.sweep_note()
        notes = ([f"* {note}"] if note else []) + ([fork] if fork else []) + ([sweep] if sweep else [])
        self.table.border_subtitle = " · ".join(notes)

    def cursor_row(self) -> RunRow | None:
        key = self.cursor_key()
        return next((row for row in self.rows if str(row.path) == key), None)

    def chosen(self) -> list[RunRow]:
        """The marked runs in table order, else the highlighted one."""
        marked = [row for row in self.rows if str(row.path) in self.marked]
        if marked:
            return marked
        row = self.cursor_row()
        return [row] if row is not None else self.group_runs(self.cursor_key())

    # ------------------------------------------------------------------ bindings
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "book":
            return not self.book_active
        if action == "stop_book":
            return self.book_active
        return True

    def action_back(self) -> None:
        self.dismiss(None)

    def action_exercises(self) -> None:
        from .exercises import ExercisesScreen

        self.app.push_screen(ExercisesScreen(self.host, self.root))

    def action_follow(self) -> None:
        runs = self.chosen()
        if not runs:
            self.notify("No runs to follow yet.", severity="warning")
            return
        self.host.follow_runs([row.path for row in runs])
        self.dismiss(None)

    def action_unfollow(self) -> None:
        if not self.host.following:
            self.notify("No run is followed.", severity="warning")
            return
        self.host.unfollow()
        self.notify("No longer following.", timeout=3)

    def action_mark(self) -> None:
        key = self.cursor_key()
        if key is None:
            return
        if group_of(key) is not None:
            self.mark_group(key)
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
        self.rows = self.group_rows(sort_rows(self.rows, self.sort_key, self.sort_reverse))
        self._fill()

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.rows = self.group_rows(sort_rows(self.rows, self.sort_key, self.sort_reverse))
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
