"""``lstm-tui sweep``: many ``train`` processes over value lists, a results table at the end.

``lstm-tui sweep --preset concise --lr 0.5,1,2 --hidden 128,256`` trains the 6 combinations
(``--zip`` pairs lists instead); ``--book`` trains the four presets, ``--exercise NAME`` one of
the book's exercise cards. Ctrl+C / SIGTERM stop every run at its next batch with a checkpoint
(exit 130 / 143); ``--resume NAME`` continues the unfinished runs; ``--results NAME`` prints the
table again. The core does the work (:mod:`lstm_tui.core.sweep`); this module parses and prints.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from ..core.config import FIELD_NAMES, ConfigError, field_info, parse_field
from ..core.presets import PRESETS
from .exitcodes import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from .options import CliError, build_config, flag_name, runs_root

#: The config fields as sweep flags: every one but the preset label.
SWEEP_FIELDS: tuple[str, ...] = tuple(n for n in FIELD_NAMES if n != "preset")


def add_sweep_parser(sub: Any, formatter: Any, add_runs_dir: Any) -> None:
    parser = sub.add_parser(
        "sweep",
        help="train a grid of runs over value lists (e.g. --lr 0.5,1,2 --hidden 128,256), then a results table",
        description="Train one run per combination of the comma-separated values given for any field, as separate "
        "'lstm-tui train' processes. Each run is an ordinary run folder tagged with the sweep's name. Ctrl+C stops "
        "every run at its next batch with a checkpoint (exit 130); --resume NAME continues the unfinished ones.",
        formatter_class=formatter,
        allow_abbrev=False,
    )
    what = parser.add_argument_group("sweep")
    what.add_argument(
        "--zip", action="store_true", help="pair the value lists position by position (equal lengths) instead of a grid"
    )
    what.add_argument(
        "--parallel",
        type=_positive,
        metavar="N",
        help="runs trained at the same time (default: 1; a resumed sweep: its own)",
    )
    what.add_argument("--devices", metavar="LIST", help="devices given to the runs in turn, e.g. cpu,cuda:0,cuda:1")
    what.add_argument("--name", metavar="NAME", help="the sweep's name (default: date, time and 'sweep')")
    what.add_argument(
        "--book",
        action="store_true",
        help="the book's four presets (scratch, concise, deep, bidirectional) on the same data and seed",
    )
    what.add_argument("--exercise", metavar="NAME", help="run one of the book's exercise cards (see --list-exercises)")
    what.add_argument("--list-exercises", action="store_true", help="list the exercise cards and exit")
    what.add_argument("--resume", metavar="NAME", help="continue a sweep's unfinished runs")
    what.add_argument("--results", metavar="NAME", help="print a sweep's results table and exit")
    what.add_argument("--json", action="store_true", help="print the results as JSON instead of a markdown table")
    add_runs_dir(what)
    fields = parser.add_argument_group(
        "run settings",
        "Any field of the run config; a comma-separated list is a swept field, one value is shared by every run.",
    )
    fields.add_argument("--preset", choices=list(PRESETS), default=argparse.SUPPRESS, help="the base preset")
    fields.add_argument(
        "--config", metavar="RUN.TOML", default=argparse.SUPPRESS, help="base settings from a TOML file"
    )
    for name in SWEEP_FIELDS:
        info = field_info(name)
        flag = flag_name(name)
        if name == "prefix":
            fields.add_argument(
                flag,
                dest=name,
                action="append",
                default=argparse.SUPPRESS,
                metavar="TEXT",
                help="prefix to predict from (repeat the flag; shared by every run)",
            )
        elif info["type"] is bool:
            fields.add_argument(
                flag,
                dest=name,
                nargs="?",
                const="true",
                default=argparse.SUPPRESS,
                metavar="BOOLS",
                help=info["help"].replace("%", "%%") + " (true/false, or a list: true,false)",
            )
            fields.add_argument(
                "--no-" + flag[2:],
                dest=name,
                action="store_const",
                const="false",
                default=argparse.SUPPRESS,
                help=argparse.SUPPRESS,
            )
        else:
            fields.add_argument(
                flag, dest=name, default=argparse.SUPPRESS, metavar="VALUES", help=info["help"].replace("%", "%%")
            )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid; expected an integer of 1 or more") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is out of range; expected an integer of 1 or more")
    return value


# ----------------------------------------------------------------------------- building the sweep
def _given(ns: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(ns, name) for name in SWEEP_FIELDS if hasattr(ns, name)}


def _split(ns: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    """(shared values, parsed; swept fields -> their value lists as text)."""
    shared: dict[str, Any] = {}
    axes: dict[str, str] = {}
    for name, value in _given(ns).items():
        if name == "prefix":
            shared[name] = tuple(value)
        elif "," in value:
            axes[name] = value
        else:
            shared[name] = _parse(name, value)
    return shared, axes


def _parse(name: str, value: Any) -> Any:
    try:
        return parse_field(name, value)
    except ConfigError as exc:
        raise CliError(f"{flag_name(name)}: {exc.message}") from None


def _config_error(exc: ConfigError) -> CliError:
    label = flag_name(exc.field) if exc.field in FIELD_NAMES or exc.field in ("parallel",) else exc.field
    return CliError(f"{label}: {exc.message}")


def build_spec(ns: argparse.Namespace) -> Any:
    """The sweep the flags describe (nothing started); bad input is a CliError (exit 2)."""
    from ..core.exercises import get_card
    from ..core.sweep import book_sweep, grid, place, zipped

    shared, axes = _split(ns)
    try:
        if ns.book or ns.exercise:
            if axes:
                raise CliError(f"{flag_name(next(iter(axes)))}: --book and --exercise take one value per field")
            if getattr(ns, "config", None):
                from .options import load_toml

                shared = {**{k: v for k, v in load_toml(ns.config).items() if k != "preset"}, **shared}
            spec = get_card(ns.exercise).spec(shared) if ns.exercise else book_sweep(shared)
        else:
            base = build_config(
                argparse.Namespace(**{k: v for k, v in vars(ns).items() if k in ("preset", "config")}, **shared)
            )
            spec = (zipped if ns.zip else grid)(base, axes)
        devices = [d.strip() for d in ns.devices.split(",")] if ns.devices else []
        return place(spec, devices=devices, parallel=ns.parallel or 1)
    except ConfigError as exc:
        if exc.field == "device" and ns.devices:
            raise CliError(f"--devices: {exc.message}") from None
        raise _config_error(exc) from None


# ----------------------------------------------------------------------------- the command
def cmd_sweep(ns: argparse.Namespace) -> int:
    from ..core.runs import RunError

    if ns.list_exercises:
        return _list_exercises()
    root = runs_root(ns)
    try:
        if ns.results:
            return _print_results(root, _load(root, ns.results), ns.json)
        if ns.resume:
            if _given(ns) or ns.book or ns.exercise or ns.devices:
                raise CliError(
                    "--resume continues a sweep with its own settings; field flags, --book, --exercise "
                    "and --devices do not apply"
                )
            record = _load(root, ns.resume)
        else:
            record = _new_record(ns, root)
        return _run(record, root, ns)
    except RunError as exc:
        raise CliError(str(exc)) from None


def _load(root: Any, name: str) -> Any:
    from ..core.sweep import load_record

    return load_record(root, name)


def _new_record(ns: argparse.Namespace, root: Any) -> Any:
    from ..core.sweep import default_sweep_name, new_record

    spec = build_spec(ns)
    name = ns.name or default_sweep_name(spec, root)
    return new_record(root, name, spec, ns.parallel or 1)


def _run(record: Any, root: Any, ns: argparse.Namespace) -> int:
    from ..core.sweep import SweepRunner

    runner = SweepRunner(record, root, parallel=ns.parallel, on_note=lambda note: _err(note.text))
    todo = runner.todo()
    _err(
        f"sweep {record.name}: {len(todo)} of {len(record.runs)} runs to train, {runner.parallel} at a time "
        f"(record: {root / '.sweeps' / (record.name + '.json')})"
    )
    with _StopOnSignal(runner) as stopper:
        outcome = runner.run()
    code = _print_results(root, record, ns.json)
    if stopper.received is not None:
        _err(
            f"stopped; continue with: lstm-tui sweep --resume {record.name}"
            + (f" --runs-dir {ns.runs_dir}" if ns.runs_dir else "")
        )
        return EXIT_INTERRUPTED if stopper.received == signal.SIGINT else 128 + stopper.received
    if outcome.not_started:
        _err("error: " + ", ".join(r.name for r in outcome.not_started) + " did not start (see their logs)")
        return EXIT_FAILED
    return code


class _StopOnSignal:
    """SIGINT/SIGTERM/SIGHUP stop the sweep (each run checkpoints); a second one stops the runs at once."""

    SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: Any) -> None:
        first = self.received is None
        self.received = signum if first else self.received
        key = "Ctrl+C" if signum == signal.SIGINT else signal.Signals(signum).name
        _err(
            f"\n{key}: stopping every run at its next batch with a checkpoint ({key} again to stop them at once)"
            if first
            else f"\n{key}: stopping every run at once (their last checkpoints stay)"
        )
        self.runner.stop()


def _print_results(root: Any, record: Any, as_json: bool) -> int:
    from ..core.sweep import results_json, results_markdown, sweep_results

    results = sweep_results(root, record)
    if as_json:
        data = results_json(record, results)
        verdict = _verdict(record, results)
        if verdict:
            data["verdict"] = verdict
        print(json.dumps(data, indent=1))
    else:
        print(results_markdown(record, results))
        verdict = _verdict(record, results)
        if verdict:
            print(f"\nverdict: {verdict}")
    sys.stdout.flush()
    return EXIT_OK


def _verdict(record: Any, results: Any) -> str | None:
    from ..core.exercises import CARDS

    card = CARDS.get(str(record.meta.get("exercise", "")))
    return card.verdict(results) if card is not None else None


def _list_exercises() -> int:
    from ..core.exercises import CARDS

    for card in CARDS.values():
        values = ", ".join(str(v) for v in (card.baseline, *card.variants))
        print(f"{card.name:10} {card.title} ({card.field}: {values})\n{'':10} {card.question}")
    return EXIT_OK


def _err(message: str) -> None:
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


__all__ = ["add_sweep_parser", "build_spec", "cmd_sweep"]
