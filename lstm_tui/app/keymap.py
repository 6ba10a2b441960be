"""The keymap of the settings file (:mod:`lstm_tui.core.settings`), applied at app start.

Every binding of the app and its screens has an id ("start", "runs.fork" ...); the settings
file's ``[keys]`` table remaps any of them (``start = "f12"``). Unknown ids and a broken file
are notifications, never a crash. Mixed into :class:`~lstm_tui.app.main.LstmTuiApp`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from textual.binding import Binding
from textual.screen import Screen
from textual.widget import Widget


def _subclasses(cls: type) -> Iterable[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def binding_ids(app_bindings: Iterable[object]) -> list[str]:
    """The ids of ``app_bindings`` and of every screen's and widget's bindings in lstm_tui.app."""
    from . import screens, widgets

    for package in (screens, widgets):
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{info.name}")
    owners = [
        cls for base in (Screen, Widget) for cls in _subclasses(base) if cls.__module__.startswith("lstm_tui.app")
    ]
    ids: list[str] = []
    for bindings in [list(app_bindings)] + [list(vars(cls).get("BINDINGS", [])) for cls in owners]:
        ids += [b.id for b in bindings if isinstance(b, Binding) and b.id and b.id not in ids]
    return ids


class KeymapMixin:
    """``_load_keymap()`` on mount: the settings file's keymap, its warnings as notifications."""

    def _load_keymap(self) -> None:
        from lstm_tui.core.settings import SettingsError, load_settings

        ids = binding_ids(self.BINDINGS)
        try:
            settings = load_settings(known_bindings=ids)
        except SettingsError as exc:
            self.notify(
                f"{exc} (the default keys apply)", title="Settings file", severity="error", timeout=10, markup=False
            )
            return
        except OSError as exc:
            self.notify(
                f"cannot read the settings file: {exc}", title="Settings file", severity="warning", markup=False
            )
            return
        for warning in settings.warnings:
            self.notify(warning, title="Settings file", severity="warning", timeout=8, markup=False)
        keymap = settings.keymap(ids)
        if keymap:
            self.set_keymap(keymap)
