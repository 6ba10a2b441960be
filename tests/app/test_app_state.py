"""The app's state: loading a saved run is not a run, and the keys follow the state and the size."""

from __future__ import annotations

import threading

from app_helpers import wait_for
from textual.widgets._footer import FooterKey

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens import ConfirmQuit
from lstm_tui.app.state import AppState


def make_app(config, runs_dir) -> LstmTuiApp:
    return LstmTuiApp(config, runs_dir=runs_dir, detect_devices=False)


def footer_actions(app: LstmTuiApp) -> set[str]:
    return {key.action for key in app.screen.query(FooterKey)}


async def test_loading_a_saved_run_is_not_a_run_f7_and_quit_know_it(tiny_config, runs_dir, monkeypatch, tmp_path):
    """While ctrl+o reads a checkpoint, F7 does not claim to stop a run, and quit leaves at
    once instead of asking "A run is training" and waiting for the 30 s fallback."""
    import lstm_tui.core.checkpoint as checkpoint

    release = threading.Event()

    def slow_load(path, device="cpu"):
        release.wait(20)
        raise FileNotFoundError("never mind")

    monkeypatch.setattr(checkpoint, "load_model", slow_load)
    app = make_app(tiny_config, runs_dir)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            app._load_chosen(str(tmp_path / "some.pt"))
            await pilot.pause()
            assert app.state is AppState.LOADING and not app.run_active and app.form.disabled
            await pilot.press("f7")
            await pilot.pause()
            assert "stopping" not in app.log_view.plain
            await pilot.press("f5")
            await pilot.pause()
            assert app.state is AppState.LOADING  # no run starts under the load
            await pilot.press("ctrl+q")
            await pilot.pause()
            assert not isinstance(app.screen, ConfirmQuit)
            assert app.return_code == 0  # it left at once
    finally:
        release.set()


async def test_the_footer_shows_every_key_again_after_the_too_small_notice(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        assert "start" not in footer_actions(app) and "quit" in footer_actions(app)
        await pilot.resize_terminal(120, 40)
        await wait_for(pilot, lambda: not app.screen.has_class("-too-small"), 5, "the resize")
        await pilot.pause()
        assert {"start", "pause", "runs", "help"} <= footer_actions(app)
