"""Pictures of the main screen (80x24, 120x40) and the help screen; update with --snapshot-update."""

from __future__ import annotations

from textual.widgets import Input

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.core.presets import PRESETS


def _app() -> LstmTuiApp:
    config = PRESETS["scratch"].config.replace(device="cpu", seed=0)
    return LstmTuiApp(config, runs_dir="/nonexistent-runs-dir-for-snapshots", detect_devices=False)


async def _settle(pilot) -> None:
    for widget in pilot.app.query(Input):
        widget.cursor_blink = False
    await pilot.pause()
    await pilot.pause()


def test_main_screen_80x24(snap_compare):
    assert snap_compare(_app(), terminal_size=(80, 24), run_before=_settle)


def test_main_screen_120x40(snap_compare):
    assert snap_compare(_app(), terminal_size=(120, 40), run_before=_settle)


def test_help_screen(snap_compare):
    async def open_help(pilot) -> None:
        await _settle(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=(100, 32), run_before=open_help)


def test_too_small(snap_compare):
    assert snap_compare(_app(), terminal_size=(60, 18), run_before=_settle)
