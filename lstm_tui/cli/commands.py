"""The subcommands other than ``train``: the app (no subcommand), ``generate``, ``runs``, ``serve``.

Heavy modules (torch, Textual, the engine) are imported inside the functions.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .options import CliError, build_config, flag_name, flag_values
from .train import cmd_train

__all__ = ["cmd_app", "cmd_generate", "cmd_runs", "cmd_serve", "cmd_train", "resolve_checkpoint"]

EXIT_OK = 0
UNK_HINT = "pass --unk to map them to <unk>"  # generate's way past unknown prefix tokens


# ----------------------------------------------------------------------------- app
def cmd_app(ns: argparse.Namespace) -> int:
    config = build_config(ns)
    try:
        from ..app import run_app
    except ImportError as exc:
        raise CliError(f"the app cannot start: {exc} (is lstm-tui installed with its dependencies?)", 1) from None
    code = run_app(config, autostart=ns.autostart, runs_dir=ns.runs_dir)
    return int(code or 0)


# ----------------------------------------------------------------------------- checkpoints
def resolve_checkpoint(text: str, runs_dir: str | None) -> Path:
    """A checkpoint file, a run folder (its checkpoint.pt) or a run name in the runs dir."""
    from ..core.runs import RunDir, RunError, default_runs_dir

    given = Path(text).expanduser()
    if given.is_file():
        return given
    if given.is_dir():
        candidate = given / "checkpoint.pt"
        if not candidate.is_file():
            raise CliError(f"checkpoint: {given} has no checkpoint.pt (the run saved none yet)")
        return candidate
    try:
        run = RunDir.open(text, runs_dir)
    except RunError:
        root = Path(runs_dir) if runs_dir else default_runs_dir()
        raise CliError(
            f"checkpoint: no checkpoint file, run folder or run named {text!r} (runs are looked up in {root}; "
            "see 'lstm-tui runs')"
        ) from None
    if not run.has_checkpoint():
        raise CliError(f"checkpoint: run {run.name} has no checkpoint yet ({run.checkpoint_path})")
    return run.checkpoint_path


# ----------------------------------------------------------------------------- generate
def cmd_generate(ns: argparse.Namespace) -> int:
    path = resolve_checkpoint(ns.checkpoint, ns.runs_dir)
    device = _device(ns.device)
    from ..core.checkpoint import CheckpointError, load_model
    from ..core.generate import GenerationError, stream, token_separator

    try:
        model, vocab, config, _ = load_model(path, device=device)
    except CheckpointError as exc:
        raise CliError(f"checkpoint: {exc}") from None
    if not config.can_generate:
        from ..core.presets import BIDIRECTIONAL_NOTE

        raise CliError(f"checkpoint: {path} holds a bidirectional model, which cannot generate text. {BIDIRECTIONAL_NOTE}")
    prefix = ns.prefix if ns.prefix is not None else config.prefix[0]
    length = ns.length if ns.length is not None else config.predict_length
    generator = None
    if ns.seed is not None:
        import torch

        generator = torch.Generator().manual_seed(ns.seed)
    try:
        pieces = stream(
            model, vocab, prefix, length, temperature=ns.temperature, top_k=ns.top_k,
            unknown="unk" if ns.unk else "error", generator=generator, device=device,
        )
    except GenerationError as exc:
        # The parser range-checked --length, --temperature and --top-k (and a run's predict_length
        # is within generate's limit), so what is left to refuse here is the prefix.
        raise CliError(f"--prefix: {exc.explain(UNK_HINT)}") from None
    out = sys.stdout
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


def _device(name: str):
    from ..core.config import ConfigError, parse_field
    from ..core.device import DeviceError, resolve_device

    try:
        return resolve_device(parse_field("device", name))
    except (ConfigError, DeviceError) as exc:
        raise CliError(f"device: {getattr(exc, 'message', exc)}" if isinstance(exc, ConfigError) else f"device: {exc}") from None


# ----------------------------------------------------------------------------- runs
def cmd_runs(ns: argparse.Namespace) -> int:
    from ..core.runs import RunError, default_runs_dir, list_runs

    root = Path(ns.runs_dir) if ns.runs_dir else default_runs_dir()
    try:
        runs = list_runs(root)
    except RunError as exc:
        raise CliError(str(exc)) from None
    if not runs:
        print(f"no runs in {root}")
        return EXIT_OK
    rows = [("NAME", "PRESET", "EPOCHS", "PERPLEXITY", "STATUS")]
    for info in runs:
        summary = info.summary or {}
        rows.append((info.name, info.preset or "?", _epochs_text(info, summary), _ppl_text(summary), info.status))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"\n{len(runs)} run{'s' if len(runs) != 1 else ''} in {root}")
    return EXIT_OK


def _epochs_text(info, summary: dict) -> str:
    done = summary.get("epoch")
    total = summary.get("epochs")
    if total is None:
        try:
            total = info.open().read_config().epochs
        except Exception:  # noqa: BLE001 - a listing shows what it can
            total = None
    if done is None:
        return f"-/{total}" if total is not None else "-"
    return f"{done}/{total}" if total is not None else str(done)


def _ppl_text(summary: dict) -> str:
    value = summary.get("perplexity")
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    text = f"{value:.2f}"
    val = summary.get("val_perplexity")
    if isinstance(val, (int, float)) and not isinstance(val, bool):
        text += f" (val {val:.2f})"
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
