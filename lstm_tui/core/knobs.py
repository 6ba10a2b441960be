"""Live knobs: the settings a run takes at its next batch (``Trainer.set_knobs``, the control
file's ``set`` command). No torch here: front ends validate with it before they send."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import ConfigError, RunConfig, allowed_text, parse_field
from .runs.files import KNOB_KEY

__all__ = ["KNOB_KEY", "LIVE_KNOBS", "check_knobs", "knob_help", "parse_knobs"]

#: The config fields a running trainer applies at its next batch boundary.
LIVE_KNOBS = ("lr", "clip", "momentum", "weight_decay")


def parse_knobs(changes: Mapping[str, Any]) -> dict[str, float]:
    """``changes`` converted and range-checked with the config's field rules.

    Raises :class:`ConfigError` naming the field: one that is not a live knob, or a bad value."""
    if not changes:
        raise ConfigError("knob", f"nothing to set; live knobs are {', '.join(LIVE_KNOBS)}")
    out: dict[str, float] = {}
    for name, value in changes.items():
        if name not in LIVE_KNOBS:
            raise ConfigError(name, f"not a live knob; live knobs are {', '.join(LIVE_KNOBS)}")
        out[name] = float(parse_field(name, value))
    return out


def check_knobs(config: RunConfig, changes: Mapping[str, Any]) -> dict[str, float]:
    """:func:`parse_knobs`, then the cross-field rules on ``config`` with them applied."""
    parsed = parse_knobs(changes)
    config.replace(**parsed)
    return parsed


def knob_help() -> str:
    """One line per knob: its name and what it accepts (Adam ignores momentum)."""
    return "\n".join(f"{name}: {allowed_text(name)}" for name in LIVE_KNOBS)
