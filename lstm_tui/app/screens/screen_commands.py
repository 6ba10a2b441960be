"""The command palette (ctrl+p) on a screen: its own keys' actions by name, run as the key would.

A screen lists it in ``COMMANDS`` (``COMMANDS = {ScreenCommands}``); the palette then offers
every described binding of the screen the palette was opened from (one entry per action, with
its keys and tooltip, as :func:`~lstm_tui.app.keys.action_commands` does for the main screen).
"""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ..keys import binding_groups, group_keys, group_text, remapped


class ScreenCommands(Provider):
    """The calling screen's bindings (remapped by the app's keymap) as palette commands."""

    def _commands(self) -> list[tuple[str, str, partial]]:
        screen = self.screen
        keymap = getattr(self.app, "_keymap", {}) or {}
        out = []
        for group in binding_groups(remapped(type(screen).BINDINGS, keymap)):
            action = group[0].action
            title = f"{group[0].description} ({group_keys(group)})"
            out.append((title, group_text(group), partial(screen.run_action, action)))
        return out

    async def discover(self) -> Hits:
        for title, help_text, run in self._commands():
            yield DiscoveryHit(title, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, run in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, help=help_text)


__all__ = ["ScreenCommands"]
