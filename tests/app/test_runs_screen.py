"""The runs screen (F2): listing, sorting, delete, rename, compare, export, "Run the book"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from textual.widgets import Input

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens.compare import CompareScreen
from lstm_tui.app.screens.confirm import Confirm
from lstm_tui.app.screens.prompt import Prompt
from lstm_tui.app.screens.runs import BOOK_PRESETS, RunsScreen
from lstm_tui.core.compare import format_cell, run_rows, sort_rows
from lstm_tui.core.events import Finished
from app_helpers import wait_for

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
    table = screen.table
    return [str(table.get_cell_at((i, 1))) for i in range(table.row_count)]


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
        assert len(names) == 2 and any(n.endswith("small") for n in names) and any(n.endswith("held-out") for n in names)
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
        for _ in range(3):  # name -> preset -> train ppl -> val ppl
            await pilot.press("s")
        assert screen.sort_key == "val_ppl"
        assert table_names(screen)[-1].endswith("small")  # no val: always last
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RunsScreen)
        # honest evaluation on the main screen too: the log's end-of-run lines give the
        # generation perplexity beside train and validation perplexity
        app._on_Finished(Finished(epoch=3, perplexity=9.5, tokens_per_s=1000.0, elapsed_s=2.0, device="cpu",
                                  val_perplexity=11.25, generation_perplexity=12.345))
        await pilot.pause()
        log = app.log_view.plain
        assert "perplexity 9.50, val 11.25" in log and "generation perplexity 12.35" in log


async def test_delete_asks_cancel_keeps_and_running_is_refused(tiny_config, runs_copy):
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
        # a run that is training is refused, with a message and no question
        run = screen.rows[0].path
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps({**summary, "status": "running"}))
        screen.reload()
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert app.screen is screen  # no question asked
        assert any("it is training" in n.message for n in app._notifications)
        await pilot.press("n")
        await pilot.pause()
        assert app.screen is screen and run.is_dir()


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


async def test_run_the_book_trains_four_presets_and_compares(tiny_config, runs_dir, monkeypatch):
    import sys

    from lstm_tui.app.training import GIL_SWITCH_INTERVAL_S
    from lstm_tui.core.engine import Trainer

    switch_intervals = []  # seen by each run: the UI must hand the GIL back fast, as for a main-screen run
    real_run = Trainer.run
    monkeypatch.setattr(Trainer, "run", lambda self: switch_intervals.append(sys.getswitchinterval()) or real_run(self))
    app = make_app(tiny_config, runs_dir)
    app.book_overrides = dict(epochs=2, hidden=16, max_tokens=2000, batch_size=8, num_steps=10,
                              predict_every=0, checkpoint_every=0)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_runs(pilot)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), 15, "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen), 120, "the comparison")
        assert screen.book_result is not None and not screen.book_result.problems
        assert switch_intervals == [GIL_SWITCH_INTERVAL_S] * 4 and sys.getswitchinterval() > GIL_SWITCH_INTERVAL_S
        assert not screen.book_active and screen.check_action("book", ()) and not screen.check_action("stop_book", ())
        names = sorted(p.name for p in Path(runs_dir).iterdir())
        assert len(names) == 4
        for preset in BOOK_PRESETS:
            assert sum(name.endswith(f"-{preset}") for name in names) == 1, names
        chart = app.screen.chart
        assert len(chart.curves) == 4 and all(len(c.xs) == 2 for c in chart.curves)
        rows = {row.preset: row for row in run_rows(runs_dir)}
        assert set(rows) == set(BOOK_PRESETS)
        assert {row.hidden for row in rows.values()} == {16}
        assert rows["deep"].layers == 2 and all(row.status == "finished" for row in rows.values())
        assert all(row.device.startswith("cpu") for row in rows.values())


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
        assert readers and set(readers) == {main_thread}  # opening the screen reads at once
        source = next(p for p in runs_copy.iterdir() if p.is_dir())
        shutil.copytree(source, runs_copy / (source.name + "-copy"))
        await wait_for(pilot, lambda: screen.table.row_count == before + 1, 10, "the periodic re-read")
        assert any(name != main_thread for name in readers)
        assert any(name.endswith("-copy") for name in table_names(screen))
