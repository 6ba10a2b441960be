"""The exercises screen (e in F2): a tiny card run as a sweep of real train processes, its verdict
equal to Card.verdict on those runs' results; a card run before shows its verdict on selection;
its keys in help and the palette; pictures at 80x24 and 120x40."""

from __future__ import annotations

from pathlib import Path

from app_helpers import wait_for

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens.confirm import Confirm
from lstm_tui.app.screens.exercises import ExercisesScreen, card_records
from lstm_tui.app.screens.runs import RunsScreen
from lstm_tui.core.exercises import CARDS
from lstm_tui.core.presets import PRESETS
from lstm_tui.core.runs import RunDir
from lstm_tui.core.sweep import new_record, read_tag, sweep_results
from lstm_tui.core.sweep.record import save_record, write_tag

SIZE = (120, 40)
TINY_CARD = dict(
    hidden=16, epochs=2, max_tokens=2000, batch_size=8, num_steps=10, predict_every=0, checkpoint_every=0, threads=1
)


def tiny_cards(monkeypatch) -> None:
    import lstm_tui.app.screens.exercises as exercises

    def spec(card, shared):
        return card.spec({**{k: v for k, v in shared.items() if k != card.field}, **TINY_CARD})

    monkeypatch.setattr(exercises, "card_spec", spec)


async def open_exercises(pilot) -> ExercisesScreen:
    await pilot.press("f2")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunsScreen), 15, "the runs screen")
    await pilot.press("e")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ExercisesScreen), 15, "the exercises")
    return pilot.app.screen


async def highlight(pilot, screen: ExercisesScreen, name: str) -> None:
    screen.cards.highlighted = list(CARDS).index(name)
    await wait_for(pilot, lambda: screen.view is not None and screen.view.card.name == name, 5, f"card {name}")


async def test_a_card_runs_as_a_sweep_and_its_verdict_is_computed_from_the_runs(tiny_config, runs_dir, monkeypatch):
    tiny_cards(monkeypatch)
    card = CARDS["layers"]
    app = LstmTuiApp(tiny_config, runs_dir=runs_dir, detect_devices=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_exercises(pilot)
        await highlight(pilot, screen, "layers")
        assert "not run yet" in screen.verdict_text and "layers" in str(screen.query_one("#ex-card").render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), 10, "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: screen.running == "layers" and app.sweep_active, 10, "the card's sweep")
        assert "training" in screen.verdict_text and screen.check_action("stop", ())
        await wait_for(pilot, lambda: screen.running is None, 180, "the card's runs")
        await wait_for(pilot, lambda: screen.view.verdict is not None, 10, "the verdict")
        record = card_records(runs_dir)["layers"]
        results = sweep_results(runs_dir, record)
        assert [r.values for r in results] == [{"layers": 1}, {"layers": 2}]
        assert all(r.status == "finished" and r.val_ppl is not None for r in results)
        expected = card.verdict(results)
        assert screen.view.verdict == expected and expected in screen.verdict_text.replace("\n", "")
        assert expected.startswith("against layers 1: layers 2: ")
        assert len(screen.chart.curves) == 2 and all(len(c.xs) == 2 for c in screen.chart.curves)
        for result in results:  # each an ordinary run folder tagged with the card's sweep
            assert read_tag(result.folder)["sweep"] == record.name
            assert RunDir(result.folder).read_config().corpus == tiny_config.corpus
        assert record.meta == {"exercise": "layers"}
    app = LstmTuiApp(tiny_config, runs_dir=runs_dir, detect_devices=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_exercises(pilot)
        await highlight(pilot, screen, "layers")
        await wait_for(pilot, lambda: screen.view.verdict is not None, 10, "the old verdict")
        assert screen.view.verdict == expected and not app.sweep_active
        assert len(screen.chart.curves) == 2 and "✓" in str(screen.cards.get_option_at_index(3).prompt)
        assert len(list((runs_dir / ".sweeps").glob("*.json"))) == 1  # nothing trained again


async def test_running_a_card_is_refused_while_a_run_trains(tiny_config, runs_dir, monkeypatch):
    monkeypatch.setattr(LstmTuiApp, "run_active", property(lambda self: True))
    app = LstmTuiApp(tiny_config, runs_dir=runs_dir, detect_devices=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_exercises(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen is screen and not app.sweep_active
        assert any("Something trains already" in n.message for n in app._notifications)
        await pilot.press("s")
        await pilot.pause()
        assert screen.check_action("stop", ()) is None  # dimmed: no card trains


def test_the_exercise_keys_are_in_help_and_the_palette():
    from rich.console import Console

    from lstm_tui.app.screens.help import key_table, other_screens
    from lstm_tui.app.screens.screen_commands import ScreenCommands

    console = Console(width=200, record=True)
    console.print(key_table(RunsScreen.BINDINGS))
    for title, bindings in other_screens():
        console.print(title)
        console.print(key_table(bindings))
    text = console.export_text()
    assert "Exercises (e in Runs)" in text and "runnable cards" in text and "Run the highlighted card" in text
    ids = {b.id for b in ExercisesScreen.BINDINGS} | {b.id for b in RunsScreen.BINDINGS}
    assert {"exercises.back", "exercises.run", "exercises.stop", "runs.exercises"} <= ids
    assert ScreenCommands in ExercisesScreen.COMMANDS


def palette_entries(app) -> list[str]:
    from textual.widgets import OptionList

    return [
        str(options.get_option_at_index(i).prompt)
        for options in app.screen.query(OptionList)
        for i in range(options.option_count)
    ]


async def test_the_palette_on_the_exercises_screen_runs_its_actions(tiny_config, runs_dir):
    from textual.command import CommandPalette

    app = LstmTuiApp(tiny_config, runs_dir=runs_dir, detect_devices=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_exercises(pilot)
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette), 10, "the palette")
        await pilot.press(*"Run card")
        await wait_for(pilot, lambda: any("Run card (enter)" in e for e in palette_entries(app)), 10, "the entry")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), 10, "the card's question")
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen, 10, "back")


# ----------------------------------------------------------------------------- pictures
def fake_card_sweep(root: Path) -> None:
    """A finished "clipping" card: two run folders with made-up metrics (the picture stays the same)."""
    card = CARDS["clipping"]
    record = new_record(root, "clipping-1126-1830", card.spec({"device": "cpu", "seed": 0}), 1)
    curves = {
        0: [(9.8, 9.1), (6.2, 6.4), (4.1, 5.0), (3.2, 4.6)],
        1: [(9.9, 9.3), (8.7, 9.0), (14.5, 15.2), (25.1, 27.0)],
    }
    for run in record.runs:
        folder = RunDir(root / f"20261126-18300{run.index}-{run.name}")
        folder.path.mkdir(parents=True)
        folder.write_config(run.config)
        for epoch, (ppl, val) in enumerate(curves[run.index], start=1):
            folder.append_metric({"epoch": epoch, "perplexity": ppl, "val_perplexity": val, "elapsed_s": 10.0 * epoch})
        last = curves[run.index][-1]
        folder.write_summary(
            {"status": "finished", "epoch": 4, "epochs": 4, "perplexity": last[0], "val_perplexity": last[1]}
        )
        run.folder = folder.path.name
        write_tag(folder.path, record, run)
    save_record(root, record)


def _snap_app(tmp_path, monkeypatch) -> LstmTuiApp:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    fake_card_sweep(tmp_path / "runs")
    config = PRESETS["scratch"].config.replace(device="cpu", seed=0)
    return LstmTuiApp(config, runs_dir="runs", detect_devices=False)


async def _open(pilot) -> None:
    screen = await open_exercises(pilot)
    await wait_for(pilot, lambda: screen.view is not None and screen.view.verdict is not None, 10, "the verdict")
    await pilot.pause()


def test_exercises_screen_80x24(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(_snap_app(tmp_path, monkeypatch), terminal_size=(80, 24), run_before=_open)


def test_exercises_screen_120x40(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(_snap_app(tmp_path, monkeypatch), terminal_size=(120, 40), run_before=_open)
