"""Pictures of the live-knobs dialog (ctrl+k) at 80x24 and 120x40, with a bad value marked;
update with --snapshot-update."""

from __future__ import annotations

from textual.widgets import Input

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens.knobs import KnobsDialog
from lstm_tui.core.presets import PRESETS


def _app() -> LstmTuiApp:
    config = PRESETS["scratch"].config.replace(device="cpu", seed=0)
    return LstmTuiApp(config, runs_dir="/nonexistent-runs-dir-for-snapshots", detect_devices=False)


async def _open(pilot) -> None:
    app = pilot.app
    await pilot.pause()
    app.push_screen(KnobsDialog(app.initial_config, "this run", lambda changes: ("lr", "must be above 0")))
    await pilot.pause()
    for widget in app.screen.query(Input):
        widget.cursor_blink = False
    app.screen.query_one("#knob-lr", Input).value = "-1"
    await pilot.press("enter")
    await pilot.pause()


def test_knobs_dialog_80x24(snap_compare):
    assert snap_compare(_app(), terminal_size=(80, 24), run_before=_open)


def test_knobs_dialog_120x40(snap_compare):
    assert snap_compare(_app(), terminal_size=(120, 40), run_before=_open)
