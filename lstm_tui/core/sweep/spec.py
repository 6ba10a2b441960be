"""What a sweep trains: a base config and the values some fields take (no torch, no processes).

:func:`grid` crosses value lists (the last field varies fastest), :func:`zipped` pairs lists of
equal length, :func:`book_sweep` is the chapter's four presets on the same data and seed.
Every value goes through the config's own rules (:func:`~lstm_tui.core.config.parse_field`),
and every point's whole config is built before anything starts, so a bad value is a
:class:`~lstm_tui.core.config.ConfigError` naming the field and its allowed range.
:func:`place` then gives each run its device (round-robin over ``devices``) and its CPU threads
(the usable cores shared among the parallel runs).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..config import FIELD_NAMES, ConfigError, RunConfig, parse_field
from ..presets import PRESETS

#: Fields a sweep cannot vary: ``prefix`` holds texts that may contain commas (and only
#: changes what is printed); ``preset`` is a label (the book sweep varies it through whole presets).
UNSWEEPABLE = ("prefix", "preset")
#: The chapter's experiments, in the order the book trains them.
BOOK_PRESETS: tuple[str, ...] = ("scratch", "concise", "deep", "bidirectional")
#: The fields of a base that the book's runs share (the same data, device and seed).
BOOK_SHARED_FIELDS: tuple[str, ...] = ("device", "data_dir", "corpus", "seed", "threads")


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep: the varying fields' values (the table's columns) and its whole config."""

    values: Mapping[str, Any]
    config: RunConfig


@dataclass(frozen=True)
class SweepSpec:
    """The runs of a sweep, in order, and the fields that differ between them."""

    points: tuple[SweepPoint, ...]
    varying: tuple[str, ...]
    title: str = ""
    #: A suggested sweep name ("" : the front end picks one, e.g. a date stamp).
    name: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.points)


def parse_values(name: str, values: str | Sequence[Any]) -> tuple[Any, ...]:
    """A field's values for a sweep: ``"0.5,1,2"`` or a sequence, each checked by the field's rules."""
    if name not in FIELD_NAMES:
        raise ConfigError(name, "unknown setting; known settings are: " + ", ".join(FIELD_NAMES))
    if name in UNSWEEPABLE:
        raise ConfigError(name, "cannot be swept (give one value)")
    items = [part.strip() for part in values.split(",")] if isinstance(values, str) else list(values)
    if not items or any(isinstance(item, str) and not item for item in items):
        raise ConfigError(name, f"{values!r} has an empty value; give comma-separated values, e.g. 0.5,1,2")
    return tuple(parse_field(name, item) for item in items)


def grid(base: RunConfig, axes: Mapping[str, Sequence[Any] | str], *, title: str = "", name: str = "") -> SweepSpec:
    """Every combination of the axes' values on top of ``base`` (the last axis varies fastest)."""
    parsed = {field_name: parse_values(field_name, values) for field_name, values in axes.items()}
    combos = itertools.product(*parsed.values()) if parsed else iter([()])
    return _spec(base, tuple(parsed), [dict(zip(parsed, combo)) for combo in combos], title, name)


def zipped(base: RunConfig, axes: Mapping[str, Sequence[Any] | str], *, title: str = "", name: str = "") -> SweepSpec:
    """The axes' values paired position by position; lists of different lengths are refused."""
    parsed = {field_name: parse_values(field_name, values) for field_name, values in axes.items()}
    lengths = {field_name: len(values) for field_name, values in parsed.items()}
    if len(set(lengths.values())) > 1:
        first = next(iter(lengths))
        odd = next(f for f, n in lengths.items() if n != lengths[first])
        raise ConfigError(
            odd, f"--zip pairs lists of equal length: {odd} has {lengths[odd]} values, {first} has {lengths[first]}"
        )
    count = next(iter(lengths.values()), 1)
    rows = [{f: values[i] for f, values in parsed.items()} for i in range(count)]
    return _spec(base, tuple(parsed), rows, title, name)


def _spec(base: RunConfig, varying: tuple[str, ...], rows: list[dict[str, Any]], title: str, name: str) -> SweepSpec:
    points = tuple(SweepPoint(values=row, config=base.replace(**row)) for row in rows)
    return SweepSpec(points=points, varying=varying, title=title, name=name)


def book_sweep(
    base_shared_fields: Mapping[str, Any] | None = None, overrides: Mapping[str, Any] | None = None
) -> SweepSpec:
    """ "Run the book": the four presets with the same data, device and seed.

    ``base_shared_fields`` are fields every run shares (typically :data:`BOOK_SHARED_FIELDS` from
    a form or flags; any field is accepted); ``overrides`` are applied last (tests: tiny runs).
    Raises ConfigError naming a bad field."""
    changes = {**(base_shared_fields or {}), **(overrides or {})}
    changes.pop("preset", None)
    points = tuple(
        SweepPoint(values={"preset": name}, config=PRESETS[name].config.replace(**changes)) for name in BOOK_PRESETS
    )
    return SweepSpec(points=points, varying=("preset",), title="The book's four experiments", name="book")


def default_threads(parallel: int, cores: int | None = None) -> int:
    """CPU threads per run so that ``parallel`` runs share the usable cores (at least 1)."""
    if cores is None:
        from ..device import usable_cores  # (imports torch: only when a sweep is really placed)

        cores = usable_cores()
    return max(1, cores // max(1, parallel))


def place(spec: SweepSpec, *, devices: Sequence[str] = (), parallel: int = 1, cores: int | None = None) -> SweepSpec:
    """Each run's device (round-robin over ``devices``, unless ``device`` is a varying field) and
    CPU threads (a config's ``threads`` 0 becomes :func:`default_threads`; a varying or given
    ``threads`` is kept). Raises ConfigError for a bad device or ``parallel``."""
    if parallel < 1:
        raise ConfigError("parallel", f"{parallel} is out of range; expected an integer of 1 or more")
    placed = tuple(parse_field("device", d) for d in devices)
    threads = default_threads(parallel, cores)
    points = []
    for index, point in enumerate(spec.points):
        changes: dict[str, Any] = {}
        if placed and "device" not in spec.varying:
            changes["device"] = placed[index % len(placed)]
        if point.config.threads == 0 and "threads" not in spec.varying:
            changes["threads"] = threads
        points.append(SweepPoint(values=point.values, config=point.config.replace(**changes)))
    return replace(spec, points=tuple(points))


__all__ = [
    "BOOK_PRESETS",
    "BOOK_SHARED_FIELDS",
    "UNSWEEPABLE",
    "SweepPoint",
    "SweepSpec",
    "book_sweep",
    "default_threads",
    "grid",
    "parse_values",
    "place",
    "zipped",
]
