"""Sweeps in the app (issue 14 item 4): the runs screen groups a real tiny sweep's runs under the
sweep's name (other runs after them), ``v`` shows the results table ``lstm-tui sweep --results``
prints (same columns, same order) with the curves, ``w`` follows the sweep (a chart line per run,
and a run the sweep starts later is picked up), and ``lstm-tui watch --sweep``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from app_helpers import wait_for

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens.runs import RunsScreen
from lstm_tui.app.screens.sweep_groups import group_key
from lstm_tui.app.screens.sweep_results import SweepResultsScreen
from lstm_tui.cli import main
from lstm_tui.core.presets import PRESETS
from lstm_tui.core.runs import RunDir
from lstm_tui.core.sweep import load_record, results_markdown, sweep_results
from lstm_tui.core.sweep.record import save_record

SWEEP = "lrs"
TINY = ["--preset", "concise", "--hidden", "16", "--max-tokens", "2000", "--batch-size", "8", "--num-steps", "10"]
TINY += ["--device", "cpu", "--predict-every", "0", "--checkpoint-every", "0", "--epochs", "2", "--val-split", "0.1"]


@pytest.fixture(scope="module")
def trained_sweep(tmp_path_factory, shared_data_dir) -> Path:
    """A real sweep of three tiny runs (lr 0.5, 1, 2), trained once for the module."""
    runs = tmp_path_factory.mktemp("sweep") / "runs"
    argv = ["sweep", *TINY, "--lr", "0.5,1,2", "--parallel", "2", "--name", SWEEP]
    assert main([*argv, "--data-dir", str(shared_data_dir), "--runs-dir", str(runs)]) == 0
    return runs


@pytest.fixture
def runs(trained_sweep, tmp_path) -> Path:
    """A copy of the sweep's runs folder with one run of no sweep, newer than the sweep's."""
    root = tmp_path / "runs"
    shutil.copytree(trained_sweep, root)
    loose = RunDir.create(root, PRESETS["scratch"].config, name="alone")
    loose.write_summary({"status": "finished", "epoch": 1, "epochs": 1, "perplexity": 9.0})
    return root


def _app(root: Path) -> LstmTuiApp:
    return LstmTuiApp(PRESETS["scratch"].config.replace(device="cpu"), runs_dir=root, detect_devices=False)


def _keys(table) -> list[str]:
    return [row.key.value for row in table.ordered_rows]


async def test_the_runs_screen_groups_a_sweeps_runs_under_its_name_and_other_runs_after(runs):
    record = load_record(runs, SWEEP)
    app = _app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        keys = _keys(screen.table)
        sweep_runs = {str(runs / run.folder) for run in record.runs}
        assert keys[0] == group_key(SWEEP) and set(keys[1:4]) == sweep_runs
        assert keys[4] == group_key(None) and keys[5].endswith("-alone")  # the newest run, yet after the sweep
        await pilot.press("s")  # any sort keeps the groups
        keys = _keys(screen.table)
        assert keys[0] == group_key(SWEEP) and set(keys[1:4]) == sweep_runs and keys[4] == group_key(None)
        await pilot.press("space")  # space on the sweep's row marks its runs
        assert screen.marked == sweep_runs


async def test_the_sweep_results_view_shows_the_markdown_tables_columns_and_order(runs):
    record = load_record(runs, SWEEP)
    lines = results_markdown(record, sweep_results(runs, record)).splitlines()[2:]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    order = [line.strip("|").split("|")[0].strip() for line in lines[2:]]
    app = _app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2", "down", "v")  # (on a run of the sweep)
        shown = lambda: isinstance(app.screen, SweepResultsScreen) and app.screen.table.row_count  # noqa: E731
        await wait_for(pilot, shown, 10, "the results view")
        screen = app.screen
        assert [str(column.label) for column in screen.table.columns.values()] == header
        assert header[:2] == ["run", "lr"] and {"val ppl", "train ppl", "bpc", "tok/s", "epochs", "status"} <= set(
            header
        )
        assert _keys(screen.table) == order and len(order) == 3
        vals = [r.val_ppl for r in sorted(screen.results, key=lambda r: order.index(r.name))]
        assert vals == sorted(vals)
        assert len(screen.query_one("#sweep-chart").curves) == 3
        await pilot.press("escape")
        assert isinstance(app.screen, RunsScreen)


async def test_following_a_sweep_draws_a_line_per_run_and_picks_up_a_run_started_later(runs):
    record = load_record(runs, SWEEP)
    later = record.runs[2]
    folder, later.folder = later.folder, None  # as if its process had not made its folder yet
    save_record(runs, record)
    app = _app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2", "w")  # (the cursor is on the sweep's row)
        names = {run.folder for run in record.runs[:2]}

        def drawn() -> set[str]:
            return {label for label, points in app.chart.lines.items() if points and not label.endswith(" val")}

        await wait_for(pilot, lambda: drawn() == names, 20, "a line per started run")
        assert app.followed_sweep == SWEEP and not isinstance(app.screen, RunsScreen)
        later.folder = folder  # the sweep found the run's folder (and tagged it)
        save_record(runs, record)
        await wait_for(pilot, lambda: drawn() == names | {folder}, 20, "the later run's line")
        assert len(app.followed) == 3
        await pilot.press("ctrl+n")  # unfollowing ends the sweep's following
        await wait_for(pilot, lambda: app.followed_sweep is None, 5, "the sweep let go")


async def test_an_app_opened_to_follow_a_sweep_follows_its_runs(runs):
    app = _app(runs)
    app.initial_sweep = SWEEP  # (what `watch --sweep` does through run_app)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.followed) == 3, 20, "the sweep's runs followed")


def test_watch_sweep_refuses_an_unknown_name_listing_the_known_ones(runs, capsys):
    assert main(["watch", "--sweep", "nope", "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert "no sweep named 'nope'" in err and f"sweeps there: {SWEEP}" in err


def test_watch_sweep_opens_the_app_following_the_named_sweep(runs, monkeypatch):
    seen = {}

    def fake_run_app(config, **kwargs):
        seen.update(kwargs)
        return 0

    monkeypatch.setattr("lstm_tui.app.run_app", fake_run_app)
    assert main(["watch", "--sweep", SWEEP, "--runs-dir", str(runs)]) == 0
    assert seen["follow_sweep"] == SWEEP and seen["follow"] == []
    assert main(["watch", "some-run", "--sweep", SWEEP, "--runs-dir", str(runs)]) == 2


async def test_the_sweep_keys_are_in_the_help_and_the_command_palette(runs):
    from lstm_tui.app.screens.help import other_screens

    app = _app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Sweep (v)" in titles and "Follow sweep (w)" in titles
        await pilot.press("v")
        await pilot.pause()
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Follow sweep (w)" in titles and "Epochs/time (t)" in titles
    helped = {binding.id for _, bindings in other_screens() for binding in bindings}
    assert {"runs.sweep_results", "runs.follow_sweep", "sweep_results.follow", "sweep_results.toggle_x"} <= helped


async def test_the_results_view_updates_while_the_sweep_goes_on(runs):
    record = load_record(runs, SWEEP)
    later = record.runs[0]
    folder, later.folder = later.folder, None  # not started yet
    save_record(runs, record)
    app = _app(runs)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2", "v")
        await wait_for(pilot, lambda: isinstance(app.screen, SweepResultsScreen) and app.screen.cells, 10, "the view")
        screen = app.screen
        assert screen.cells[-1][-1] == "not started" and len(screen.query_one("#sweep-chart").curves) == 2
        later.folder = folder
        save_record(runs, record)
        await wait_for(pilot, lambda: all(c[-1] == "finished" for c in screen.cells), 10, "the run's numbers")
        assert len(screen.query_one("#sweep-chart").curves) == 3
