"""The user's settings file: a keymap and defaults, ``<config dir>/settings.toml``.

The folder is ``$LSTM_TUI_CONFIG_DIR``, else ``platformdirs.user_config_dir("lstm-tui")``::

    [keys]              # binding id -> keys (Textual's names, comma-separated)
    start = "f5,ctrl+r"
    "runs.book" = "b"

    [defaults]          # used when neither a flag nor a run's TOML says otherwise
    device = "cpu"
    threads = 2
    runs_dir = "~/lstm-runs"
    on_hangup = "stop"  # or "detach": what a hangup does to a run the app trains

Precedence (the CLI): a flag beats a ``--config`` TOML, which beats this file, which beats the
built-in default (the preset's); ``$LSTM_TUI_RUNS_DIR`` beats ``runs_dir`` here. A missing file is
no settings. A bad file is a :class:`SettingsError` naming the file, the line and the key; a
binding id the front end does not know is a warning (:meth:`Settings.unknown_bindings`).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import platformdirs

from .config import ConfigError, parse_field

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

SETTINGS_ENV = "LSTM_TUI_CONFIG_DIR"
SETTINGS_FILE = "settings.toml"
#: The ``[defaults]`` a settings file may hold (device and threads are RunConfig fields).
DEFAULT_KEYS: tuple[str, ...] = ("device", "threads", "runs_dir", "on_hangup")
#: What a hangup may do to a run the app trains (``--on-hangup``, ``on_hangup``); the first is the default.
ON_HANGUP_CHOICES: tuple[str, ...] = ("stop", "detach")
CONFIG_DEFAULTS: tuple[str, ...] = ("device", "threads")
TABLES: tuple[str, ...] = ("keys", "defaults")
_KEY_NAME = re.compile(r"^[A-Za-z0-9_+\-]+$")


class SettingsError(ValueError):
    """A settings file that cannot be used; ``str()`` is ``"<file>: line N: key 'k': message"``."""

    def __init__(self, path: Path, message: str, *, line: int | None = None, key: str | None = None) -> None:
        where = f"{path}" + (f": line {line}" if line else "") + (f": key {key!r}" if key else "")
        super().__init__(f"{where}: {message}")
        self.path, self.line, self.key, self.message = path, line, key, message


@dataclass(frozen=True)
class Settings:
    path: Path
    #: Binding id -> keys, as Textual's ``App.set_keymap`` takes it.
    keys: dict[str, str] = field(default_factory=dict)
    device: str | None = None
    threads: int | None = None
    runs_dir: Path | None = None
    on_hangup: str | None = None
    warnings: tuple[str, ...] = ()

    def config_defaults(self) -> dict[str, Any]:
        """The RunConfig fields this file sets (``device``, ``threads``), for the config chain."""
        values = {"device": self.device, "threads": self.threads}
        return {name: value for name, value in values.items() if value is not None}

    def unknown_bindings(self, known: Iterable[str]) -> list[str]:
        """A warning per ``[keys]`` id that is not among ``known`` (the front end's binding ids)."""
        names = set(known)
        return [
            f"{self.path}: [keys]: {key!r} is not a binding id this version knows; ignored"
            for key in self.keys
            if key not in names
        ]

    def keymap(self, known: Iterable[str] | None = None) -> dict[str, str]:
        """The keymap, with ids outside ``known`` (when given) left out."""
        if known is None:
            return dict(self.keys)
        names = set(known)
        return {key: value for key, value in self.keys.items() if key in names}


def settings_dir() -> Path:
    env = os.environ.get(SETTINGS_ENV, "").strip()
    return Path(env).expanduser() if env else Path(platformdirs.user_config_dir("lstm-tui"))


def settings_path() -> Path:
    return settings_dir() / SETTINGS_FILE


def load_settings(
    path: str | os.PathLike[str] | None = None, *, known_bindings: Iterable[str] | None = None
) -> Settings:
    """The settings in ``path`` (default :func:`settings_path`); no file is empty settings.

    ``known_bindings`` (the app's binding ids) adds a warning for each id it lacks."""
    file = Path(path) if path is not None else settings_path()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings(path=file)
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(file, f"cannot read the settings file ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(file, f"not valid TOML: {exc}", line=_decode_line(exc)) from None
    warnings = [
        f"{file}: unknown table or key {name!r} (known: [keys], [defaults]); ignored"
        for name in data
        if name not in TABLES
    ]
    keys = _keys(file, text, data.get("keys", {}))
    defaults = _defaults(file, text, data.get("defaults", {}))
    settings = Settings(path=file, keys=keys, warnings=tuple(warnings), **defaults)
    if known_bindings is not None:
        settings = replace(settings, warnings=settings.warnings + tuple(settings.unknown_bindings(known_bindings)))
    return settings


def _table(file: Path, text: str, name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingsError(file, f"{name!r} must be a table ([{name}])", line=_line_of(text, None, name), key=name)
    return value


def _keys(file: Path, text: str, table: Any) -> dict[str, str]:
    out = {}
    for key, value in _table(file, text, "keys", table).items():
        items = [part.strip() for part in value.split(",")] if isinstance(value, str) else []
        if not items or not all(_KEY_NAME.match(item) for item in items):
            raise SettingsError(
                file,
                f'{value!r} is not a list of keys; expected key names separated by commas, e.g. "f5,ctrl+r"',
                line=_line_of(text, "keys", key),
                key=key,
            )
        out[key] = ",".join(items)
    return out


def _defaults(file: Path, text: str, table: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in _table(file, text, "defaults", table).items():
        line = _line_of(text, "defaults", key)
        if key not in DEFAULT_KEYS:
            raise SettingsError(
                file, f"unknown default; known defaults are: {', '.join(DEFAULT_KEYS)}", line=line, key=key
            )
        if key == "runs_dir":
            if not isinstance(value, str) or not value.strip():
                raise SettingsError(file, "expected a folder path (a text)", line=line, key=key)
            out[key] = Path(value.strip()).expanduser()
            continue
        if key == "on_hangup":
            if value not in ON_HANGUP_CHOICES:
                allowed = " or ".join(repr(choice) for choice in ON_HANGUP_CHOICES)
                raise SettingsError(file, f"{value!r} is not a hangup action; expected {allowed}", line=line, key=key)
            out[key] = value
            continue
        try:
            out[key] = parse_field(key, value)
        except ConfigError as exc:
            raise SettingsError(file, exc.message, line=line, key=key) from None
    return out


def _decode_line(exc: Exception) -> int | None:
    line = getattr(exc, "lineno", None)
    if isinstance(line, int):
        return line
    match = re.search(r"line (\d+)", str(exc))
    return int(match.group(1)) if match else None


def _line_of(text: str, table: str | None, key: str) -> int | None:
    """The line that sets ``key`` in ``[table]`` (top level when None), for messages."""
    current: str | None = None
    pattern = re.compile(r'^\s*(?:"' + re.escape(key) + r'"|\'' + re.escape(key) + r"'|" + re.escape(key) + r")\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[\s*([^\]]+?)\s*\]", line)
        if header:
            current = header.group(1).strip("\"'")
            if table is None and current == key:
                return number
            continue
        if current == table and pattern.match(line):
            return number
    return None


__all__ = [
    "CONFIG_DEFAULTS",
    "DEFAULT_KEYS",
    "SETTINGS_ENV",
    "SETTINGS_FILE",
    "Settings",
    "SettingsError",
    "load_settings",
    "settings_dir",
    "settings_path",
]
