"""Config flags generated from the RunConfig field table, TOML files and their precedence.

Light on purpose: this module imports only the standard library and ``lstm_tui.core.config``
/ ``presets`` (no torch, no Textual), so ``lstm-tui --help`` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core.config import FIELD_NAMES, ConfigError, RunConfig, allowed_text, field_info, parse_field
from ..core.presets import DEFAULT_PRESET, PRESETS, get_preset


class CliError(Exception):
    """A user error: printed as one line on stderr, exit status ``code`` (2: bad input)."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.message = message
        self.code = code


# Fields that are not flags: ``preset`` is chosen by ``--preset`` (it is only a label in the config).
FLAG_FIELDS: tuple[str, ...] = tuple(name for name in FIELD_NAMES if name != "preset")

CUSTOM = "custom"

_METAVARS = {
    "corpus": "PATH|DIR|GLOB|URL|-",
    "data_dir": "DIR",
    "device": "DEVICE",
    "prefix": "TEXT",
    "encoding": "ENCODING",
}


def flag_name(field: str) -> str:
    return "--" + field.replace("_", "-")


def _metavar(name: str, info: dict) -> str:
    if name in _METAVARS:
        return _METAVARS[name]
    if info["choices"]:
        return "{" + ",".join(info["choices"]) + "}"
    return {int: "N", float: "X"}.get(info["type"], "TEXT")


def _default_text(name: str, info: dict) -> str:
    default = info["default"]
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, tuple):
        return ", ".join(repr(s) for s in default)
    if default == "":
        return "empty"
    return f"{default:,}" if isinstance(default, int) and abs(default) >= 10_000 else str(default)


def _allowed(name: str, info: dict) -> str:
    """What the field takes, for help texts ('' when the choices or help already say it)."""
    kind = info["type"]
    if kind is bool or info["choices"] or info["kind"] == "device" or kind is str:
        return ""
    return allowed_text(name)


def _help(name: str, info: dict) -> str:
    parts = [info["help"]]
    if name != "prefix" and _allowed(name, info):
        parts.append(_allowed(name, info))
    text = "; ".join(parts)
    if info["default"] != "":
        text += f" (default: {_default_text(name, info)})"
    return text.replace("%", "%%")


def _field_type(name: str):
    """An argparse ``type`` that validates through :func:`parse_field` (the error names the range)."""

    def convert(text: str) -> Any:
        try:
            value = parse_field(name, text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        # ``prefix`` is appended one string at a time; parse_field made it a 1-tuple.
        return value[0] if isinstance(value, tuple) else value

    convert.__name__ = name  # argparse uses it in "invalid <name> value" messages
    return convert


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """``--preset``, ``--config`` and one flag per RunConfig field (defaults suppressed: absent = not given)."""
    group = parser.add_argument_group(
        "run settings", "Any field of the run config; flags override --config, which overrides --preset."
    )
    group.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=argparse.SUPPRESS,
        help="start from one of the book's experiments: "
        + "; ".join(f"{p.name}: {p.summary}" for p in PRESETS.values()).replace("%", "%%")
        + f" (default: the --config file's preset, else {DEFAULT_PRESET})",
    )
    group.add_argument(
        "--config",
        metavar="RUN.TOML",
        default=argparse.SUPPRESS,
        help="read settings from a TOML file (keys are the field names below, e.g. hidden = 128)",
    )
    for name in FLAG_FIELDS:
        info = field_info(name)
        flag = flag_name(name)
        common = {"dest": name, "default": argparse.SUPPRESS, "help": _help(name, info)}
        if info["type"] is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, **common)
        elif info["kind"] == "strings":
            common["help"] = common["help"].split(" (several:")[0] + " (repeat the flag; replaces the default list)"
            group.add_argument(flag, action="append", type=_field_type(name), metavar=_metavar(name, info), **common)
        else:
            group.add_argument(flag, type=_field_type(name), metavar=_metavar(name, info), **common)


def flag_values(ns: argparse.Namespace) -> dict[str, Any]:
    """The config fields given as flags (only those actually on the command line)."""
    values = {name: getattr(ns, name) for name in FLAG_FIELDS if hasattr(ns, name)}
    if "prefix" in values:
        values["prefix"] = tuple(values["prefix"])
    return values


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a run TOML: flat ``field = value`` pairs (a ``[config]`` or ``[run]`` table also works)."""
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CliError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a folder, not a config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: cannot read the config file ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"{path}: not valid TOML: {exc}") from None
    for table in ("config", "run"):
        if isinstance(data.get(table), dict) and not set(data) & set(FIELD_NAMES):
            data = data[table]
            break
    known = set(FIELD_NAMES)
    for key, value in data.items():
        if key not in known:
            hint = ""
            if key.replace("-", "_") in known:
                hint = f" (did you mean {key.replace('-', '_')!r}?)"
            raise CliError(f"{path}: unknown key {key!r}{hint}; known keys are: {', '.join(FIELD_NAMES)}")
        if key == "preset":
            if not isinstance(value, str):
                raise CliError(f"{path}: key 'preset': expected a preset name, one of {', '.join(PRESETS)}")
            continue
        try:
            data[key] = parse_field(key, value)
        except ConfigError as exc:
            raise CliError(f"{path}: key {key!r}: {exc.message}") from None
    return data


def build_config(ns: argparse.Namespace) -> RunConfig:
    """preset (flag, else the TOML's ``preset``, else scratch) < TOML values < flags."""
    toml_path = getattr(ns, "config", None)
    toml_values = load_toml(toml_path) if toml_path else {}
    toml_preset = toml_values.pop("preset", None)
    preset_name = getattr(ns, "preset", None) or toml_preset or DEFAULT_PRESET
    try:
        # "custom" is the label of a config that came from no preset (e.g. a run's config.toml).
        base = RunConfig() if preset_name == CUSTOM else get_preset(preset_name).config
    except ConfigError as exc:
        where = f"{toml_path}: key 'preset'" if toml_preset == preset_name and toml_path else "--preset"
        raise CliError(f"{where}: {exc.message}") from None
    merged = {**cli_settings().config_defaults(), **toml_values, **flag_values(ns)}
    try:
        return RunConfig.from_mapping(merged, base=base)
    except ConfigError as exc:
        if exc.field in toml_values and exc.field not in flag_values(ns):
            raise CliError(f"{toml_path}: key {exc.field!r}: {exc.message}") from None
        raise CliError(str(exc)) from None


# ----------------------------------------------------------------------------- the settings file
_SETTINGS: dict[tuple[Path, int], Any] = {}  # read once per file version (warnings printed once)


def cli_settings() -> Any:
    """The user's settings file (core/settings.py); a bad file is bad input (exit 2), its
    warnings go to stderr once."""
    import sys

    from ..core.settings import SettingsError, load_settings, settings_path

    path = settings_path()
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = -1
    if (path, stamp) not in _SETTINGS:
        try:
            settings = load_settings(path)
        except SettingsError as exc:
            raise CliError(str(exc)) from None
        for warning in settings.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        _SETTINGS[(path, stamp)] = settings
    return _SETTINGS[(path, stamp)]


def apply_settings(ns: argparse.Namespace) -> None:
    """``--runs-dir`` from the settings file when neither the flag nor ``$LSTM_TUI_RUNS_DIR`` gives it;
    ``--on-hangup`` from its ``on_hangup`` when the flag is not given (else ``stop``)."""
    import os

    from ..core.runs.files import RUNS_ENV
    from ..core.settings import ON_HANGUP_CHOICES

    settings = cli_settings()  # a bad file is reported by every command
    if hasattr(ns, "on_hangup") and ns.on_hangup is None:
        ns.on_hangup = settings.on_hangup or ON_HANGUP_CHOICES[0]
    if getattr(ns, "runs_dir", None) is None and not os.environ.get(RUNS_ENV, "").strip():
        folder = settings.runs_dir
        if folder is not None:
            ns.runs_dir = str(folder)


def runs_root(ns: argparse.Namespace) -> Path:
    """The runs folder a command uses: ``--runs-dir`` (or the settings file's, see
    :func:`apply_settings`), else ``$LSTM_TUI_RUNS_DIR``, else the platform's."""
    from ..core.runs import default_runs_dir

    return Path(ns.runs_dir).expanduser() if getattr(ns, "runs_dir", None) else default_runs_dir()
