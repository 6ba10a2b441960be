"""The runs screen (F2): listing, sorting, delete, rename, compare, export, "Run the book"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from app_helpers import wait_for
from textual.widgets import Input

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens.compare import CompareScreen
from lstm_tui.app.screens.confirm import Confirm
from lstm_tui.app.screens.prompt import Prompt
from lstm_tui.app.screens.runs import RunsScreen
from lstm_tui.core.compare import format_cell, run_rows, sort_rows
from lstm_tui.core.events import Finished
from lstm_tui.core.runs import LOCK_FILE

SIZE = (120, 40)


@pytest.fixture
def runs_copy(trained_runs_root: Path, tmp_path: Path) -> Path:
    root = tmp_path / "runs"
    shutil.copytree(trained_runs_root, root)
    return root


def make_app(config, runs_dir) -> LstmTuiApp:
    return LstmTuiApp(config, runs_dir=runs_dir, detect_devices=False)


async def open_runs(pilot) -> RunsScreen:
    await pilot.press("f2")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunsScreen), 15, "the runs screen")
    return pilot.app.screen


def table_names(screen: RunsScreen) -> list[str]:
    """The run names in table order (from the row keys: the name cell may be shortened)."""
    table = screen.table
    return [Path(table.coordinate_to_cell_key((i, 0)).row_key.value).name for i in range(table.row_count)]


def row_named(screen: RunsScreen, suffix: str):
    return next(row for row in screen.rows if row.name.endswith(suffix))


async def move_to(pilot, screen: RunsScreen, suffix: str) -> None:
    index = next(i for i, row in enumerate(screen.rows) if row.name.endswith(suffix))
    screen.table.move_cursor(row=index)
    await pilot.pause()


async def test_table_lists_runs_with_numbers_sorts_and_escape_returns(tiny_config, runs_copy):
    app = make_app(tiny_config, runs_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        names = table_names(screen)
        assert (
            len(names) == 2 and any(n.endswith("small") for n in names) and any(n.endswith("held-out") for n in names)
        )
        held = row_named(screen, "held-out")
        index = screen.rows.index(held)
        cells = [str(c) for c in screen.table.get_row_at(index)]
        assert held.train_ppl is not None and held.val_ppl is not None and held.gen_ppl is not None
        for column in ("train_ppl", "val_ppl", "gen_ppl", "tokens_per_s", "device", "preset", "cell"):
            assert format_cell(held, column) in cells, column
        assert "3/3" in cells  # epochs done/planned
        small = row_named(screen, "small")
        assert "n/a" in [str(c) for c in screen.table.get_row_at(screen.rows.index(small))]  # no val split
        # sorting
        assert (screen.sort_key, screen.sort_reverse) == ("created", True)
        await pilot.press("s")
        assert screen.sort_key == "name" and not screen.sort_reverse
        by_name = [row.name for row in sort_rows(run_rows(runs_copy), "name")]
        assert table_names(screen) == by_name
        assert "sorted by name ▲" in str(screen.query_one("#runs-title").render())
        await pilot.press("r")
        assert table_names(screen) == by_name[::-1]
        await pilot.press("r")
        assert table_names(screen) == by_name
        for _ in range(4):  # name -> status -> preset -> train ppl -> val ppl
            await pilot.press("s")
        assert screen.sort_key == "val_ppl"
        assert table_names(screen)[-1].endswith("small")  # no val: always last
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RunsScreen)
        # honest evaluation on the main screen too: the log's end-of-run lines give the
        # generation perplexity beside train and validation perplexity
        app._finished(
            Finished(
                epoch=3,
                perplexity=9.5,
                tokens_per_s=1000.0,
                elapsed_s=2.0,
                device="cpu",
                val_perplexity=11.25,
                generation_perplexity=12.345,
            )
        )
        await pilot.pause()
        log = app.log_view.plain
        assert "perplexity 9.50, val 11.25" in log and "generation perplexity 12.35" in log


async def test_delete_asks_cancel_keeps_and_deletes(tiny_config, runs_copy):
    app = make_app(tiny_config, runs_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        await move_to(pilot, screen, "small")
        target = row_named(screen, "small").path
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), 15, "the question")
        assert target.name in str(app.screen.query_one("#dialog-title").render())
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen and target.is_dir() and len(screen.rows) == 2
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), 15, "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: not target.exists(), 15, "the deletion")
        assert [row.name for row in screen.rows] == [p.name for p in runs_copy.iterdir()]
        assert len(screen.rows) == 1 and screen.table.row_count == 1


async def test_rename_changes_folder_and_table_errors_in_place(tiny_config, runs_copy):
    app = make_app(tiny_config, runs_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        await move_to(pilot, screen, "small")
        old = row_named(screen, "small").path
        taken = row_named(screen, "held-out").name
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, Prompt), 15, "the rename dialog")
        prompt = app.screen
        box = prompt.query_one(Input)
        assert box.value == old.name
        box.value = taken
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is prompt and "taken" in (prompt.error or "")
        assert prompt.query_one("#prompt-error").display
        box.value = ""
        await pilot.press(*"my first run")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, 15, "the dialog to close")
        assert not old.exists() and (runs_copy / "my-first-run").is_dir()
        assert "my-first-run" in table_names(screen)
        assert screen.cursor_row().name == "my-first-run"


async def test_compare_marked_runs_time_toggle_and_svg(tiny_config, runs_copy):
    app = make_app(tiny_config, runs_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        screen.table.move_cursor(row=0)
        await pilot.press("space", "space")
        assert len(screen.marked) == 2
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), 15, "the comparison")
        compare = app.screen
        chart = compare.chart
        assert len(chart.curves) == 2
        train = [s for s in chart.series if not s[0].endswith("(val)")]
        val = [s for s in chart.series if s[0].endswith("(val)")]
        assert len(train) == 2 and len(val) == 1 and val[0][0].endswith("held-out (val)")
        epochs_xs = {name: xs for name, xs, _ in train}
        assert sorted(len(xs) for xs in epochs_xs.values()) == [2, 3]
        assert all(xs == [float(i + 1) for i in range(len(xs))] for xs in epochs_xs.values())
        legend = str(compare.query_one("#compare-legend").render())
        assert "val" in legend and "train" in legend and "gen" in legend
        await pilot.press("t")
        assert chart.x_axis == "time"
        time_xs = {name: xs for name, xs, _ in chart.series if not name.endswith("(val)")}
        assert time_xs.keys() == epochs_xs.keys() and time_xs != epochs_xs
        assert all(len(time_xs[n]) == len(epochs_xs[n]) for n in time_xs)
        await pilot.press("v")
        assert not any(s[0].endswith("(val)") for s in chart.series)
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert len(compare.saved) == 1 and Path(compare.saved[0]).is_file()
        assert Path(compare.saved[0]).parent == runs_copy.parent / "exports"
        assert app.state == "idle"  # the app's ctrl+s (save) did not fire
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen


async def test_export_writes_metrics_and_report(tiny_config, runs_copy, tmp_path):
    app = make_app(tiny_config, runs_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        screen.table.move_cursor(row=0)
        await pilot.press("space", "space", "x")
        await wait_for(pilot, lambda: isinstance(app.screen, Prompt), 15, "the export dialog")
        box = app.screen.query_one(Input)
        assert box.value == str(runs_copy.parent / "exports")
        box.value = str(tmp_path / "out")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, 15, "the export")
        out = tmp_path / "out"
        for row in screen.rows:
            assert (out / f"{row.name}-metrics.csv").read_text().startswith("epoch,perplexity,val_perplexity")
            assert json.loads((out / f"{row.name}-metrics.json").read_text())
        reports = list(out.glob("report-*.md"))
        assert len(reports) == 1
        text = reports[0].read_text()
        assert all(row.name in text for row in screen.rows) and "val ppl" in text


async def test_while_a_run_trains_the_table_refreshes_from_a_thread(tiny_config, runs_copy, monkeypatch):
    """The periodic re-read runs off the UI thread, and a run that appears shows up in the table."""
    import threading

    import lstm_tui.app.screens.runs as runs_module

    readers: list[str] = []
    real_run_rows = runs_module.run_rows

    def recording_run_rows(root):
        readers.append(threading.current_thread().name)
        return real_run_rows(root)

    monkeypatch.setattr(runs_module, "run_rows", recording_run_rows)
    monkeypatch.setattr(LstmTuiApp, "run_active", property(lambda self: True))  # as if the main screen trained
    app = make_app(tiny_config, runs_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        before = screen.table.row_count
        main_thread = threading.current_thread().name
        # opening the screen reads at once, on the UI thread (the periodic re-read may already have
        # come too, off it, on a loaded machine)
        assert readers and readers[0] == main_thread
        source = next(p for p in runs_copy.iterdir() if p.is_dir())
        shutil.copytree(source, runs_copy / (source.name + "-copy"))
        await wait_for(pilot, lambda: screen.table.row_count == before + 1, 10, "the periodic re-read")
        assert any(name != main_thread for name in readers)
        assert any(name.endswith("-copy") for name in table_names(screen))


def mark_running(run: Path) -> None:
    """Make ``run`` say it is training elsewhere: "running", and a lock held on another machine
    (which this one cannot check: the process may be gone, or not)."""
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, "status": "running"}))
    (run / LOCK_FILE).write_text(json.dumps({"pid": 4242, "host": "another-machine"}))


def notified(app, text: str) -> bool:
    return any(text in n.message for n in app._notifications)


async def two_running_runs(pilot):
    """The runs screen with "small" and "held-out" marked "running" on another machine and the
    cursor on "small"; returns (screen, small's path, held-out's path)."""
    screen = await open_runs(pilot)
    small, held = row_named(screen, "small").path, row_named(screen, "held-out").path
    mark_running(small)
    mark_running(held)
    screen.reload()
    await move_to(pilot, screen, "small")
    return screen, small, held


async def test_a_stale_running_run_is_deleted_and_renamed_after_a_question(tiny_config, runs_copy):
    """A "running" run that this app does not train (another machine's lock: maybe gone) is not claimed to be
    training here: the screen asks, with No focused, and on yes deletes or renames it anyway."""
    app = make_app(tiny_config, runs_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen, small, held = await two_running_runs(pilot)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), 15, "the question")
        message = str(app.screen.query_one("#dialog-message").render())
        assert "says it is still training, but not in this app" in message and "removed for good" in message
        assert app.screen.focused.id == "no"
        await pilot.press("enter")  # No has the focus
        await wait_for(pilot, lambda: app.screen is screen, 15, "the question to close")
        assert small.is_dir() and not notified(app, "it is training")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), 15, "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: not small.exists(), 15, "the deletion")
        assert app.screen is screen and table_names(screen) == [held.name]
        # rename: the same question, then the name
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), 15, "the question")
        assert "not in this app" in str(app.screen.query_one("#dialog-message").render())
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, Prompt), 15, "the rename dialog")
        app.screen.query_one(Input).value = "was-killed"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, 15, "the rename")
        assert not held.exists() and (runs_copy / "was-killed").is_dir()
        # (the folder is renamed first; the table reloads after it, a frame or more later)
        await wait_for(pilot, lambda: table_names(screen) == ["was-killed"], 15, "the table to show the new name")


async def test_the_run_this_app_trains_is_still_refused(tiny_config, runs_copy, monkeypatch):
    """The main screen's run (or, while it starts, any "running" run) and the book's current run
    are refused with no question; another "running" run still gets the question."""
    monkeypatch.setattr(LstmTuiApp, "run_active", property(lambda self: True))
    app = make_app(tiny_config, runs_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen, small, held = await two_running_runs(pilot)
        for key in ("d", "n"):  # the app's run is starting: its folder is not known yet
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is screen and small.is_dir()
        assert notified(app, "Cannot delete") and notified(app, "Cannot rename")
        app.session.run_path = str(small)
        app._notifications.clear()
        for key in ("d", "n"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is screen and not isinstance(app.screen, (Confirm, Prompt))
        assert notified(app, "it is training. Stop it first (F7")
        await move_to(pilot, screen, "held-out")
        await pilot.press("d")  # not the app's run: asked
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), 15, "the question")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen, 15, "the question to close")
        # the book's run in progress
        monkeypatch.setattr(LstmTuiApp, "run_active", property(lambda self: False))
        screen.book_active = True
        screen._book.path = str(held)
        app._notifications.clear()
        await pilot.press("d")
        await pilot.pause()
        assert app.screen is screen and held.is_dir() and notified(app, "b here for the book")
        screen.book_active = False
        screen._book.path = None


async def test_a_rename_keeps_the_runs_date(tiny_config, runs_copy):
    """The date is the run's creation time, not the config file's (rewritten by a resume)."""
    import os
    import time

    app = make_app(tiny_config, runs_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        await move_to(pilot, screen, "small")
        row = row_named(screen, "small")
        later = time.time() + 3 * 86400  # as if a resume rewrote the config three days on
        os.utime(row.path / "config.toml", (later, later))
        date = format_cell(row, "created")
        assert str(screen.table.get_cell(str(row.path), "created")) == date
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, Prompt), 15, "the rename dialog")
        app.screen.query_one(Input).value = "renamed"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is screen, 15, "the rename")
        renamed = row_named(screen, "renamed")
        assert renamed.created == row.created
        assert str(screen.table.get_cell(str(renamed.path), "created")) == date


async def test_status_and_epochs_are_visible_at_80_columns(tiny_config, runs_copy):
    """The columns that tell runs apart come first, and a long name does not push them away."""
    source = next(p for p in runs_copy.iterdir() if p.name.endswith("small"))
    shutil.copytree(source, runs_copy / ("a-very-long-run-name-" * 3).strip("-"))
    app = make_app(tiny_config, runs_copy)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_runs(pilot)
        table = screen.table
        keys = [column.key.value for column in table.columns.values()]
        assert keys[:7] == ["mark", "name", "status", "preset", "train_ppl", "val_ppl", "epochs"]
        header = table.render_line(0).text
        for label in ("name", "status", "preset", "train ppl", "val ppl", "epochs"):
            assert label in header, (label, header)
        assert max(len(str(table.get_cell_at((i, 1)))) for i in range(table.row_count)) <= 20
        assert "finished" in table.render_line(1).text


async def test_a_run_whose_checkpoint_is_older_than_its_last_epoch_is_marked(runs_copy, tiny_config):
    """After a full disk the run still lists as finished, but its checkpoint holds an older epoch:
    the status says so with '*' and the table's subtitle names the epoch it holds."""
    run = next(p for p in runs_copy.iterdir() if p.name.endswith("small"))
    summary = json.loads((run / "summary.json").read_text())
    summary.update(checkpoint_saved=False, checkpoint_epoch=1)
    (run / "summary.json").write_text(json.dumps(summary))
    app = make_app(tiny_config, runs_copy)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        await wait_for(pilot, lambda: screen.table.row_count == 2, 15, "the rows")
        index = table_names(screen).index(run.name)
        status_col = [key for key, _, _ in screen_columns()].index("status")
        assert str(screen.table.get_cell_at((index, status_col))) == "finished*"
        screen.table.move_cursor(row=index)
        await pilot.pause()
        assert screen.table.border_subtitle == f"* checkpoint holds epoch 1 of {summary['epoch']}"
        other = 1 - index
        assert not str(screen.table.get_cell_at((other, status_col))).endswith("*")
        screen.table.move_cursor(row=other)
        await pilot.pause()
        assert not screen.table.border_subtitle


def screen_columns():
    from lstm_tui.app.screens.runs import TABLE_COLUMNS

    return TABLE_COLUMNS
