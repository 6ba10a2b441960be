"""Helpers shared by the app tests (imported by module name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import time

DONE = ("finished", "stopped", "failed")


async def wait_for(pilot, predicate, timeout: float = 30.0, what: str = "condition") -> None:
    """Let the app run until ``predicate()`` holds (polling, no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await pilot.pause(0.02)
    await pilot.pause()


async def train_then_stop(pilot, app, epochs: int) -> None:
    """F5, wait until the status line shows ``epochs`` done, F7, wait until the run has ended."""
    await pilot.press("f5")
    await wait_for(pilot, lambda: app.status_bar.status.epoch >= epochs, 60, f"{epochs} epoch(s)")
    await pilot.press("f7")
    await wait_for(pilot, lambda: app.state in DONE, 30, "the stop")
