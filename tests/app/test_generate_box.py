"""The generate box stays responsive however much is typed into it."""

from __future__ import annotations

import time

from textual import events
from textual.widgets import Input

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.widgets.generate_box import PREFIX_MAX_LENGTH


async def test_typing_ten_thousand_keys_into_the_prefix_does_not_freeze_the_ui(tiny_config, runs_dir):
    """Keys, not a bracketed paste: each one used to redo work over the whole text (O(n²), 10-30 s).

    The keys go in as a terminal sends them, through the driver, all at once (pilot.press waits
    for the app to go idle after every key, which alone takes minutes for 10,000)."""
    app = LstmTuiApp(tiny_config, runs_dir=runs_dir, detect_devices=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        prefix = app.query_one("#gen-prefix", Input)
        prefix.focus()
        prefix.value = ""
        await pilot.pause()
        began = time.monotonic()
        for _ in range(10_000):
            key = events.Key("a", "a")
            key.set_sender(app)
            app._driver.send_message(key)
        await pilot.press("b")  # (after the 10,000, in order)
        spent = time.monotonic() - began
        assert prefix.value == "a" * PREFIX_MAX_LENGTH  # the rest are refused, cheaply
        assert spent < 15, f"10,000 keys took {spent:.1f} s"
