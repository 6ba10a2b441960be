"""The subcommands other than ``train``: the app (no subcommand), ``generate``, ``runs``, ``serve``.

Heavy modules (torch, Textual, the engine) are imported inside the functions.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..core.numbers import format_perplexity
from .exitcodes import EXIT_OK
from .loading import load_for_cli
from .options import CliError, build_config, flag_name, flag_values
from .sweep import cmd_sweep
from .train import cmd_train

__all__ = [
    "cmd_app",
    "cmd_generate",
    "cmd_runs",
    "cmd_serve",
    "cmd_sweep",
    "cmd_train",
    "cmd_watch",
    "watch_paths",
    "watch_sweep",
]

UNK_HINT = "pass --unk to map them to <unk>"  # generate's way past unknown prefix tokens


# ----------------------------------------------------------------------------- app
def cmd_app(ns: argparse.Namespace) -> int:
    config = build_config(ns)
    try:
        from ..app import run_app
    except ImportError as exc:
        raise CliError(f"the app cannot start: {exc} (is lstm-tui installed with its dependencies?)", 1) from None
    code = run_app(config, autostart=ns.autostart, runs_dir=ns.runs_dir, on_hangup=ns.on_hangup)
    return int(code or 0)


def watch_paths(names: list[str], runs_dir: str | None) -> list[Path]:
    """The run folders ``lstm-tui watch`` follows (a name in the runs dir or a folder); CliError naming a bad one."""
    from ..core.runs import RunDir, RunError

    paths = []
    for name in names:
        try:
            paths.append(RunDir.open(name, runs_dir).path)
        except RunError as exc:
            raise CliError(f"watch: {exc} (give a run name from `lstm-tui runs` or a run folder)") from None
    return paths


def watch_sweep(name: str | None, runs: list[str], runs_dir: str | None) -> str | None:
    """The sweep ``watch --sweep NAME`` follows, checked: CliError (exit 2) naming the known sweeps."""
    if name is None:
        return None
    if runs:
        raise CliError("watch: give RUN names or --sweep NAME, not both")
    from ..core.runs import RunError
    from ..core.sweep import load_record

    try:
        load_record(runs_dir, name)
    except RunError as exc:
        raise CliError(f"watch --sweep: {exc}") from None
    return name


def cmd_watch(ns: argparse.Namespace) -> int:
    sweep = watch_sweep(getattr(ns, "sweep", None), ns.runs, ns.runs_dir)
    paths = watch_paths(ns.runs, ns.runs_dir)
    try:
        from ..app import run_app
    except ImportError as exc:
        raise CliError(f"the app cannot start: {exc} (is lstm-tui installed with its dependencies?)", 1) from None
    return int(run_app(None, runs_dir=ns.runs_dir, follow=paths, follow_sweep=sweep, on_hangup=ns.on_hangup) or 0)


# ----------------------------------------------------------------------------- checkpoints
# ----------------------------------------------------------------------------- generate
def cmd_generate(ns: argparse.Namespace) -> int:
    model, vocab, config, device = load_for_cli(
        ns.checkpoint, ns.runs_dir, ns.device, getattr(ns, "epoch", None), best=ns.best
    )
    from ..core.generate import GenerationError, stream, token_separator

    if config.generation_warning:
        from ..core.presets import BIDIRECTIONAL_NOTE

        print(f"warning: {config.generation_warning}. {BIDIRECTIONAL_NOTE}", file=sys.stderr, flush=True)
    prefix = ns.prefix if ns.prefix is not None else config.prefix[0]
    length = ns.length if ns.length is not None else config.predict_length
    generator = None
    if ns.seed is not None:
        import torch

        generator = torch.Generator().manual_seed(ns.seed)
    try:
        pieces = stream(
            model,
            vocab,
            prefix,
            length,
            temperature=ns.temperature,
            top_k=ns.top_k,
            top_p=ns.top_p,
            unknown="unk" if ns.unk else "error",
            generator=generator,
            device=device,
        )
    except GenerationError as exc:
        # The parser range-checked --length, --temperature and --top-k (and a run's predict_length
        # is within generate's limit), so what is left to refuse here is the prefix.
        raise CliError(f"--prefix: {exc.explain(UNK_HINT)}") from None
    out = _replacing(sys.stdout)
    out.write(prefix.rstrip() if token_separator(vocab) else prefix)
    out.flush()
    try:
        for piece in pieces:
            out.write(piece)
            out.flush()
    except GenerationError as exc:
        out.write("\n")
        raise CliError(str(exc), 1) from None
    out.write("\n")
    out.flush()
    return EXIT_OK


def _replacing(stream):
    """``stream`` writing characters its encoding lacks as ``?`` (PYTHONIOENCODING=ascii and a
    prefix with a character outside ASCII) instead of failing."""
    reconfigure = getattr(stream, "reconfigure", None)
    if callable(reconfigure):
        try:
            reconfigure(errors="replace")
        except (ValueError, OSError):  # pragma: no cover - a stream that cannot change
            pass
    return stream


# ----------------------------------------------------------------------------- fork
def cmd_fork(ns: argparse.Namespace) -> int:
    """A sibling run from RUN's last checkpoint with the config flags applied (core/fork.py)."""
    if getattr(ns, "preset", None) or getattr(ns, "config", None):
        raise CliError(
            "a fork starts from its parent's config; --preset and --config do not apply "
            "(flags such as --lr or --epochs change it)"
        )
    changes = flag_values(ns)
    from ..core.checkpoint import CheckpointError
    from ..core.config import ConfigError
    from ..core.fork import fork_run
    from ..core.runs import RunError

    try:
        fork = fork_run(ns.run, changes, runs_dir=ns.runs_dir, name=ns.name)
    except ConfigError as exc:
        raise CliError(f"{exc.field}: {exc.message}") from None
    except (RunError, CheckpointError) as exc:
        raise CliError(f"run: {exc}") from None
    print(f"forked {ns.run} into {fork.path}", flush=True)
    if not ns.train:
        print(f"train it with: lstm-tui train --resume {fork.path}", flush=True)
        return EXIT_OK
    return cmd_train(ns.reparse(["train", "--resume", str(fork.path)]))  # (main() hands over its parser)


# ----------------------------------------------------------------------------- runs
def cmd_runs(ns: argparse.Namespace) -> int:
    from ..core.compare import run_rows
    from ..core.runs import RunError, default_runs_dir

    root = Path(ns.runs_dir) if ns.runs_dir else default_runs_dir()
    try:
        rows = run_rows(root)
    except RunError as exc:
        raise CliError(str(exc)) from None
    if not rows:
        print(f"no runs in {root}")
        return EXIT_OK
    table = [("NAME", "PRESET", "EPOCHS", "PERPLEXITY", "STATUS")]
    for row in rows:
        status = str(row.status) + (f" ({row.checkpoint_note})" if row.checkpoint_note else "")
        table.append((row.name, row.preset or "?", _epochs_text(row), _ppl_text(row), status))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    print(f"\n{len(rows)} run{'s' if len(rows) != 1 else ''} in {root}")
    return EXIT_OK


def _epochs_text(row) -> str:
    total = "" if row.epochs is None else f"/{row.epochs}"
    return f"{row.epochs_done}{total}"


def _ppl_text(row) -> str:
    if row.train_ppl is None:
        return "-"
    text = format_perplexity(row.train_ppl)
    if row.val_ppl is not None:
        text += f" (val {format_perplexity(row.val_ppl)})"
    return text


# ----------------------------------------------------------------------------- serve
SERVE_INSTALL_HINT = "serve needs textual-serve: pip install textual-serve (or pip install 'lstm-tui[serve]')"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (localhost, 127.x.x.x, ::1)."""
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name in ("localhost", "localhost.localdomain", "ip6-localhost") or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def serve_warning(host: str, port: int) -> str:
    """What to tell the user when the server listens beyond this machine."""
    return (
        f"warning: serving on {host}:{port}, which is not only this machine: anyone who can reach this port can "
        "use the app (start and stop runs, read and write files in the runs and data folders). "
        f"The safe way to use it from another computer is an SSH tunnel to the default localhost binding: "
        f"run 'lstm-tui serve --port {port}' here and 'ssh -L {port}:localhost:{port} THIS_HOST' there, "
        f"then open http://localhost:{port}/"
    )


def check_address(host: str, port: int) -> None:
    """Fail with a sentence (not a traceback from inside aiohttp) when ``host:port`` cannot be listened on."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CliError(f"--host: cannot use {host!r}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp does
        try:
            probe.bind(address)
        except OSError as exc:
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (choose another --port)") from None


def app_command(ns: argparse.Namespace) -> list[str]:
    """The command each browser session runs: this Python, the app, the same settings."""
    args = [sys.executable, "-m", "lstm_tui"]
    if getattr(ns, "preset", None):
        args += ["--preset", ns.preset]
    if getattr(ns, "config", None):
        args += ["--config", os.path.abspath(ns.config)]
    if ns.runs_dir:
        args += ["--runs-dir", os.path.abspath(ns.runs_dir)]
    if getattr(ns, "on_hangup", None) not in (None, "stop"):  # (None: not resolved from the settings yet)
        args += ["--on-hangup", ns.on_hangup]
    for name, value in flag_values(ns).items():
        if name in ("preset", "config"):
            continue
        flag = flag_name(name)
        if isinstance(value, bool):
            args.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, tuple):
            for item in value:
                args += [flag, item]
        else:
            args += [flag, str(value)]
    return args


def cmd_serve(ns: argparse.Namespace) -> int:
    build_config(ns)  # bad flags fail here, not in every browser session
    try:
        from textual_serve.server import Server  # noqa: F401 - only: is it installed?
    except ImportError:
        raise CliError(SERVE_INSTALL_HINT) from None

    host, port = ns.host, ns.port
    if not is_loopback(host):
        print(serve_warning(host, port), file=sys.stderr, flush=True)
    check_address(host, port)

    from .serve import serve  # its process handling: apps end with their checkpoints, none left behind

    try:
        serve(app_command(ns), host=host, port=port, title="lstm-tui")
    except OSError as exc:
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return EXIT_OK
