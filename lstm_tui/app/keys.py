"""Bindings grouped by action: one row of the help's key table, one command of the palette."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from functools import partial

from textual.app import SystemCommand
from textual.binding import Binding


def binding_groups(bindings: Iterable[object]) -> list[list[Binding]]:
    """The described bindings grouped by action, in first-seen order; in each group the key
    the footer shows comes first."""
    by_action: dict[str, list[Binding]] = {}
    for binding in bindings:
        if isinstance(binding, Binding) and binding.description:
            by_action.setdefault(binding.action, []).append(binding)
    return [sorted(group, key=lambda b: not b.show) for group in by_action.values()]


def group_keys(group: list[Binding]) -> str:
    """``"f5, ctrl+r"``: the keys of one group, the footer's first."""
    return ", ".join(key for binding in group for key in binding.key.split(","))


def group_text(group: list[Binding]) -> str:
    """What the group's action does: its first tooltip, else its description."""
    return next((b.tooltip for b in group if b.tooltip), group[0].description)


def remapped(bindings: Iterable[object], keymap: Mapping[str, str]) -> list[object]:
    """``bindings`` with the keys ``keymap`` (binding id -> keys, the app's keymap) gives them."""
    return [replace(b, key=keymap[b.id]) if isinstance(b, Binding) and b.id in keymap else b for b in bindings]


def action_commands(bindings: Iterable[object], run_action: Callable[[str], object]) -> Iterator[SystemCommand]:
    """A command-palette entry per action of ``bindings`` (its name, its keys, its tooltip),
    running it as its key would; quit is left out (Textual lists its own)."""
    for group in binding_groups(bindings):
        action = group[0].action
        if action != "quit":
            yield SystemCommand(
                f"{group[0].description} ({group_keys(group)})", group_text(group), partial(run_action, action)
            )
