"""The settings file's keymap at app start: a remapped key works and F1 help shows it; unknown
ids and a broken file are notifications, never a crash."""

from __future__ import annotations

import io
from pathlib import Path

from app_helpers import DONE, wait_for
from rich.console import Console
from textual.widgets import Static

from lstm_tui.app.keymap import binding_ids
from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens import HelpScreen


def make_app(config, runs_dir) -> LstmTuiApp:
    return LstmTuiApp(config, runs_dir=runs_dir, detect_devices=False)


def settings(tmp_path: Path, monkeypatch, text: str) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "settings.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("LSTM_TUI_CONFIG_DIR", str(folder))


def test_binding_ids_cover_the_app_and_its_screens():
    ids = binding_ids(LstmTuiApp.BINDINGS)
    for expected in ("start", "knobs", "runs", "runs.fork", "runs.book", "knobs.cancel", "help.close"):
        assert expected in ids
    assert len(ids) == len(set(ids))


async def test_a_remapped_key_starts_a_run_and_help_shows_it(tiny_config, runs_dir, tmp_path, monkeypatch):
    settings(tmp_path, monkeypatch, '[keys]\nstart = "f12"\n"no.such" = "f11"\n')
    app = make_app(tiny_config.replace(epochs=1), runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert any("no.such" in n.message for n in app._notifications)  # a warning, not a crash
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "the help")
        console = Console(width=100, record=True, file=io.StringIO())
        for static in app.screen.query(Static):
            console.print(static.content)
        shown = console.export_text()
        start_row = next(line for line in shown.splitlines() if "Start a run with the settings" in line)
        assert "F12" in start_row and "F5" not in start_row
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("f12")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the run f12 started")
        assert app.state == "finished"


async def test_a_broken_settings_file_is_a_notification(tiny_config, runs_dir, tmp_path, monkeypatch):
    settings(tmp_path, monkeypatch, "[keys\nstart = \n")
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert any(n.severity == "error" and "settings.toml" in n.message for n in app._notifications)
        await pilot.press("f5")  # the default keys apply
        await wait_for(pilot, lambda: app.state != "idle", 10, "the start")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the run")
