"""The ``lstm-tui`` command line: the app (no subcommand), ``train``, ``generate``, ``runs``, ``serve``.

Importing this package is cheap (no torch, no Textual): the commands import the engine and
the app inside their functions, so ``lstm-tui --help`` answers at once.

Exit codes: 0 success (a user stop too), 1 the run failed (or its final checkpoint could not be
written), 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..core.config import allowed_text, field_info
from ..core.limits import GENERATE_MAX_LENGTH
from ..core.settings import ON_HANGUP_CHOICES
from .exitcodes import DEBUG_ENV, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from .options import CliError, add_config_flags

MAX_PORT = 65_535

_EPILOG = """\
examples:
  lstm-tui                                   open the app with the scratch preset
  lstm-tui --preset concise --autostart      open the app and start training at once
  lstm-tui train --epochs 50 --hidden 128    train in the terminal, one line per 10 epochs
  lstm-tui train --json > log.jsonl          machine-readable events, one JSON object a line
  lstm-tui generate --checkpoint RUN --prefix "time traveller" --length 100
  lstm-tui runs                              list saved runs
  lstm-tui watch RUN                         follow a run another process trains (chart, log, F6/F7)
  lstm-tui watch --sweep NAME                follow every run of a sweep live (overlaid curves)
  lstm-tui sweep --preset concise --lr 0.5,1,2 --hidden 128,256   6 runs, then a results table

exit status: 0 success (also a stopped run), 1 the run failed or its final checkpoint could not be
written, 2 bad input, 130 interrupted.
set LSTM_TUI_DEBUG=1 to see tracebacks of unexpected errors.
"""


class _Parser(argparse.ArgumentParser):
    """argparse with errors raised as CliError (so ``main`` returns instead of exiting)."""

    def error(self, message: str):  # type: ignore[override]
        raise CliError(f"{self.prog}: {message}\n(see '{self.prog} --help')")


def _add_runs_dir(parser: argparse.ArgumentParser, default=argparse.SUPPRESS) -> None:
    """``--runs-dir`` for the top-level parser (default None) and each subcommand.

    A subcommand's default is SUPPRESS: argparse copies every value of the subparser's namespace
    over the top-level one, so a None default there would erase ``lstm-tui --runs-dir DIR train``.
    """
    parser.add_argument(
        "--runs-dir",
        metavar="DIR",
        default=default,
        help="folder of saved runs (default: $LSTM_TUI_RUNS_DIR or the user data dir)",
    )


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="lstm-tui",
        description="Train, watch and question character-level LSTMs (d2l's LSTM chapter) in the terminal. "
        "Without a subcommand, opens the Textual app.",
        epilog=_EPILOG,
        formatter_class=fmt,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"lstm-tui {__version__}")
    parser.add_argument("--autostart", action="store_true", help="start training as soon as the app opens")
    _add_on_hangup(parser, default=None)  # (None: the settings file's on_hangup, else "stop")
    _add_runs_dir(parser, default=None)
    add_config_flags(parser)

    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    train = sub.add_parser(
        "train",
        help="train in the terminal (no UI): epoch lines, samples and d2l's summary",
        description="Train a model without the UI. A run folder (config, metrics, samples, checkpoint) is "
        "created under the runs dir so no work is lost. Ctrl+C stops at the next batch and saves a "
        "checkpoint (exit 0); a second Ctrl+C exits at once (130).",
        formatter_class=fmt,
        allow_abbrev=False,
    )
    out = train.add_argument_group("output and run folder")
    out.add_argument(
        "--json", action="store_true", help="print every event as one JSON object a line (nothing else on stdout)"
    )
    out.add_argument(
        "--every",
        type=_positive_int("--every"),
        metavar="N",
        help="print an epoch line every N epochs (default: predict_every, or 10 when that is 0)",
    )
    out.add_argument("--quiet", "-q", action="store_true", help="print only the final summary and predictions")
    out.add_argument(
        "--save",
        metavar="PATH",
        help="also write the final checkpoint to PATH (a folder gets checkpoint.pt); checked before training",
    )
    _add_runs_dir(out)
    out.add_argument("--name", metavar="NAME", help="name of the run folder (default: date, time and preset)")
    out.add_argument(
        "--no-run-dir", action="store_true", help="do not keep a run folder (use --save to keep the model)"
    )
    out.add_argument(
        "--resume",
        metavar="RUN",
        help="continue a stopped run (a run name or folder) to its configured epochs; with --epochs N, train any run on to N epochs",
    )
    out.add_argument(
        "--allow-corpus-change",
        action="store_true",
        help="with --resume: train on even if the corpus is not the text the run recorded (its SHA-1 differs)",
    )
    add_config_flags(train)

    gen = sub.add_parser(
        "generate",
        help="write text with a trained model",
        description="Load a checkpoint (a file, a run folder or a run name) and write text after a prefix; "
        "the text streams as it is generated.",
        formatter_class=fmt,
        allow_abbrev=False,
    )
    gen.add_argument(
        "--checkpoint", "-c", required=True, metavar="PATH_OR_RUN", help="checkpoint file, run folder or run name"
    )
    gen.add_argument("--prefix", "-p", metavar="TEXT", help="text to continue (default: the run's first prefix)")
    gen.add_argument(
        "--length",
        "-n",
        type=_int_range("--length", 1, GENERATE_MAX_LENGTH),
        metavar="N",
        help=f"tokens to generate, 1 to {GENERATE_MAX_LENGTH:,} (default: the run's predict_length)",
    )
    gen.add_argument(
        "--temperature",
        "-t",
        type=_non_negative_float("--temperature"),
        default=0.0,
        metavar="T",
        help="0 is greedy like d2l (default); higher is more random",
    )
    gen.add_argument(
        "--top-k",
        "-k",
        type=_non_negative_int("--top-k"),
        default=0,
        metavar="K",
        help="sample only from the K likeliest tokens (0: all)",
    )
    gen.add_argument(
        "--top-p",
        type=_top_p("--top-p"),
        default=1.0,
        metavar="P",
        help="nucleus sampling: only the likeliest tokens whose probability reaches P, above 0 to 1 (1: all)",
    )
    gen.add_argument(
        "--best", action="store_true", help="use the run's best.pt (kept by early stopping) instead of its checkpoint"
    )
    gen.add_argument(
        "--seed", type=_seed("--seed"), metavar="S", help=f"random seed for sampling ({allowed_text('seed')})"
    )
    gen.add_argument(
        "--unk", action="store_true", help="map characters the model does not know to <unk> instead of failing"
    )
    gen.add_argument("--device", default="cpu", metavar="DEVICE", help="device to run the model on (default: cpu)")
    gen.add_argument(
        "--epoch",
        type=_positive_int("--epoch"),
        metavar="N",
        help="use the run's time-lapse snapshot of epoch N (in the run folder's snapshots/)",
    )
    _add_runs_dir(gen)
    from .score import add_score_parser

    add_score_parser(sub, _Parser, _add_runs_dir)

    fork = sub.add_parser(
        "fork",
        help="start a sibling run from a run's last checkpoint with changed settings",
        description="Copy a run's last checkpoint (weights, optimizer, RNG state; the run may be training) into a "
        "new run folder with the config flags given applied (settings that change the model's shape are refused), "
        "then train it with `lstm-tui train --resume FORK` (or --train now).",
        formatter_class=fmt,
        allow_abbrev=False,
    )
    fork.add_argument("run", metavar="RUN", help="the run to fork (a run name or folder)")
    fork.add_argument(
        "--name", metavar="NAME", help="name of the fork's folder (default: date, time and '<preset>-fork')"
    )
    fork.add_argument("--train", action="store_true", help="train the fork at once (like train --resume FORK)")
    _add_runs_dir(fork)
    add_config_flags(fork)

    runs = sub.add_parser(
        "runs", help="list saved runs", description="List the runs in the runs dir.", allow_abbrev=False
    )
    _add_runs_dir(runs)

    serve = sub.add_parser(
        "serve",
        help="serve the app in a web browser (textual-serve); bind to localhost and use an SSH tunnel",
        description="Serve the app over HTTP with textual-serve; config flags are passed to each session.",
        allow_abbrev=False,
    )
    serve.add_argument("--host", default="localhost", help="address to listen on (default: localhost)")
    serve.add_argument(
        "--port", type=_int_range("--port", 1, MAX_PORT), default=8000, help=f"port, 1 to {MAX_PORT:,} (default: 8000)"
    )
    _add_runs_dir(serve)
    _add_on_hangup(serve)
    add_config_flags(serve)

    watch = sub.add_parser(
        "watch",
        help="open the app following runs that other processes train (live chart, log, control keys)",
        description="Open the app following RUN (a run name in the runs dir or a run folder; several overlay "
        "on the chart). Without RUN, F2 then f picks runs to follow. F6/F7/ctrl+s control a followed run.",
        allow_abbrev=False,
    )
    watch.add_argument("runs", nargs="*", metavar="RUN", help="run name or run folder to follow")
    watch.add_argument(
        "--sweep",
        metavar="NAME",
        help="follow every run of sweep NAME (from `lstm-tui sweep`), and those it starts later",
    )
    _add_runs_dir(watch)
    _add_on_hangup(watch)

    from .sweep import add_sweep_parser

    add_sweep_parser(sub, fmt, _add_runs_dir)
    return parser


def _add_on_hangup(parser: argparse.ArgumentParser, default=argparse.SUPPRESS) -> None:
    """``--on-hangup {stop,detach}``: what the app does with its run when its terminal (or page) goes."""
    parser.add_argument(
        "--on-hangup",
        choices=ON_HANGUP_CHOICES,
        default=default,
        help="what a hangup (terminal closed, SSH dropped, page closed, SIGTERM) does to a run the app trains: "
        "stop it with a checkpoint (default), or detach it to a background `lstm-tui train --resume` "
        "(default: the settings file's on_hangup, else stop)",
    )


def _number(flag: str, kind, lo, noun: str, hi=math.inf):
    """An argparse ``type``: ``kind`` from ``lo`` to ``hi``, finite (nan and inf are refused)."""

    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not valid; expected {noun}") from None
        if (isinstance(value, float) and not math.isfinite(value)) or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range; expected {noun}")
        return value

    convert.__name__ = flag
    return convert


def _positive_int(flag: str):
    return _number(flag, int, 1, "an integer of 1 or more")


def _non_negative_int(flag: str):
    return _number(flag, int, 0, "an integer of 0 or more")


def _int_range(flag: str, lo: int, hi: int):
    return _number(flag, int, lo, f"an integer from {lo:,} to {hi:,}", hi)


def _seed(flag: str):
    """The range of the config's ``seed`` (torch's generators refuse larger seeds)."""
    info = field_info("seed")
    return _number(flag, int, info["lo"], allowed_text("seed"), info["hi"])


def _top_p(flag: str):
    def convert(text: str) -> float:
        value = _number(flag, float, 0.0, "a number above 0 and at most 1", 1.0)(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range; expected a number above 0 and at most 1")
        return value

    convert.__name__ = flag
    return convert


def _non_negative_float(flag: str):
    return _number(flag, float, 0.0, "a finite number of 0 or more")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lstm-tui`` script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            ns = build_parser().parse_args(argv)
        except SystemExit as exc:  # --help, --version
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        command = ns.command or "app"
        if command == "score":
            from .score import cmd_score

            return cmd_score(ns)
        from . import commands
        from .options import apply_settings

        apply_settings(ns)
        ns.reparse = build_parser().parse_args  # (fork --train trains the fork as `train --resume` would)

        return getattr(commands, f"cmd_{command}")(ns)
    except CliError as exc:
        _err(f"error: {exc.message}" if not exc.message.startswith("lstm-tui") else exc.message)
        return exc.code
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `lstm-tui train | head`: the reader left; don't complain on exit either.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the one place unexpected errors become a line
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        _err(f"lstm-tui: unexpected error: {type(exc).__name__}: {exc}")
        _err(f"run with {DEBUG_ENV}=1 for the traceback")
        return EXIT_FAILED


def _err(message: str) -> None:
    try:
        print(message, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


__all__ = [
    "main",
    "build_parser",
    "CliError",
    "DEBUG_ENV",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "GENERATE_MAX_LENGTH",
]
