"""The key footer, recomposed once per burst of binding changes.

Textual's Footer recomposes (removes and mounts all its keys, then the screen is laid out
again: ~50-100 ms of UI thread on a busy 2-core machine) once for every ``bindings_changed``
signal, and a burst of them (the app's start-up, Tab held through the form, a run starting)
queues that many. This one keeps at most one recompose pending: it runs after the next
refresh and draws the bindings as they are by then.
"""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


class KeyFooter(Footer):
    _recompose_pending = False

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True  # (as Footer.bindings_changed)
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._recompose_pending:
            self._recompose_pending = True
            self.call_after_refresh(self._recompose_once)

    async def _recompose_once(self) -> None:
        self._recompose_pending = False
        await self.recompose()
