"""``lstm-tui train``: the Trainer in the main thread, events printed by :mod:`.printer`.

The run is prepared by the core (:func:`~lstm_tui.core.session.prepare_run` /
:func:`~lstm_tui.core.session.prepare_resume`); a refusal is bad input (exit 2). SIGINT /
SIGTERM / SIGHUP ask the trainer to stop at the next batch (a checkpoint is saved, exit 0); a
second signal exits at once (130 for Ctrl+C).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..core.events import Failed, Finished
from ..core.runs.files import CHECKPOINT_FILE
from .exitcodes import DEBUG_ENV, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from .options import CliError, build_config, flag_name, flag_values
from .printer import Printer, epoch_line, event_json, summary_line


# ----------------------------------------------------------------------------- signals
class StopOnSignal:
    """SIGINT/SIGTERM/SIGHUP call ``trainer.stop()``; a second one exits at once."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self, trainer, printer: Printer):
        self.trainer = trainer
        self.printer = printer
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                try:
                    self._previous[sig] = signal.signal(sig, self._handle)
                except (ValueError, OSError):  # pragma: no cover - exotic platforms
                    pass
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):  # pragma: no cover
                pass

    def _handle(self, signum: int, frame) -> None:
        if self.received is not None:
            try:
                sys.stderr.write("\nstopped at once: no checkpoint written for the current batch\n")
                sys.stdout.flush()
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            os._exit(EXIT_INTERRUPTED if signum == getattr(signal, "SIGINT", -1) else 128 + signum)
        self.received = signum
        name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else str(signum)
        key = "Ctrl+C" if name == "SIGINT" else name
        try:
            self.printer._clear_live()
            sys.stderr.write(
                f"\n{key}: stopping after this batch and saving a checkpoint ({key} again to quit at once)\n"
            )
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        self.trainer.stop()


# ----------------------------------------------------------------------------- the command
def cmd_train(ns: argparse.Namespace) -> int:
    if ns.allow_corpus_change and not ns.resume:
        raise CliError("--allow-corpus-change only applies to --resume (a new run records the corpus it trains on)")
    changes = _resume_changes(ns) if ns.resume else {}
    config = None if ns.resume else build_config(ns)  # bad input fails before torch is imported
    save_target = _save_target(ns.save) if ns.save else None

    from ..core.runs import default_runs_dir

    runs_root = Path(ns.runs_dir).expanduser() if ns.runs_dir else default_runs_dir()
    temp = TempRoot() if ns.no_run_dir else None
    try:
        printer = _printer(ns, config)
        prepared = _prepare(ns, config, changes, runs_root, temp, printer)
        run, trainer = prepared.run, prepared.trainer
        printer.config, printer.every = prepared.config, ns.every or prepared.config.predict_every or 10
        if not ns.no_run_dir:
            printer.notice(f"{'resuming run folder' if prepared.resumed else 'run folder'}: {run.path}")
        printer.on_broken_pipe = trainer.stop
        with StopOnSignal(trainer, printer):
            result = trainer.run()
        return _finish(ns, result, printer, run, runs_root, save_target, temp)
    finally:
        if temp is not None:
            temp.cleanup()


class TempRoot:
    """Where a ``--no-run-dir`` run keeps its run folder: deleted at the end, unless it holds
    the only copy of a model (``keep``: the copy to ``--save`` failed or was not made)."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="lstm-tui-"))
        self.keep = False

    def cleanup(self) -> None:
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)


def _resume_changes(ns: argparse.Namespace) -> dict[str, Any]:
    """The config changes a ``--resume`` asks for; refuses flags a resume cannot take."""
    if ns.name or ns.no_run_dir:
        raise CliError(
            "--resume continues the run in its own folder; it cannot be combined with --name or --no-run-dir"
        )
    if getattr(ns, "preset", None) or getattr(ns, "config", None):
        raise CliError(
            "--resume continues a run with its own config; --preset and --config do not apply "
            "(flags such as --epochs or --lr may change it)"
        )
    from ..core.session import shape_refusal

    changes = flag_values(ns)
    refusal = shape_refusal(changes)
    if refusal is not None:
        raise _refused(refusal)
    return changes


def _prepare(ns, config, changes: dict[str, Any], runs_root: Path, temp: TempRoot | None, printer: Printer):
    """The prepared run (core/session.py); a refusal is bad input (exit 2)."""
    from ..core.session import Refusal, prepare_resume, prepare_run

    try:
        if ns.resume:
            prepared = prepare_resume(
                ns.resume, changes, on_event=printer, runs_dir=runs_root, allow_corpus_change=ns.allow_corpus_change
            )
        else:
            prepared = prepare_run(config, temp.path if temp else runs_root, on_event=printer, name=ns.name)
    finally:
        printer._clear_live()  # (a download's progress line)
    if isinstance(prepared, Refusal):
        raise _refused(prepared, config)
    if prepared.run is None:
        raise CliError(f"--runs-dir: {prepared.run_error}")
    return prepared


#: How a refusal's field is named on the command line (others: the field's name).
_LABELS = {None: "--resume", "run": "--resume", "epochs": "--epochs"}


def _refused(refusal, config=None) -> CliError:
    """A core :class:`~lstm_tui.core.session.Refusal` as the CLI's one-line error."""
    from ..core.session import MODEL_SHAPE_FIELDS

    label = _LABELS.get(refusal.field, refusal.field)
    if refusal.field in MODEL_SHAPE_FIELDS:
        label = f"--resume: {flag_name(refusal.field)}"
    elif refusal.field == "corpus" and config is not None and not config.corpus:
        label = "corpus (The Time Machine)"
    hint = f" ({refusal.hint})" if refusal.hint else ""
    return CliError(f"{label}: {refusal.reason}{hint}")


def _printer(ns: argparse.Namespace, config) -> Printer:
    every = ns.every or (config.predict_every if config is not None else 0) or 10
    return Printer(config, json_mode=ns.json, every=every, quiet=ns.quiet)


# ----------------------------------------------------------------------------- the end of a run
def _finish(ns, result, printer: Printer, run, runs_root: Path, save_target: Path | None, temp: TempRoot | None) -> int:
    if isinstance(result, Failed) or result is None:
        return _report_failure(ns, result, printer, run)
    if not ns.json:
        printer.print_summary(result)
    if not result.checkpoint_saved:
        return _report_unsaved(ns, printer, run, temp)
    if save_target is not None:
        _save_final(run.checkpoint_path, save_target, printer, temp)
    _say_where(ns, result, printer, run, runs_root)
    return EXIT_OK


def _report_failure(ns, result: Failed | None, printer: Printer, run) -> int:
    printer.error(f"error: {result.reason if result is not None else 'the run ended without a result'}")
    if result is not None and result.hint:
        printer.error(f"hint: {result.hint}")
    if result is not None and result.detail and os.environ.get(DEBUG_ENV, "") not in ("", "0"):
        printer.error(result.detail.rstrip())  # the traceback, which the library no longer logs to stderr
    if run is not None and not ns.no_run_dir:
        printer.error(f"run folder: {run.path}")
    return EXIT_FAILED


def _report_unsaved(ns, printer: Printer, run, temp: TempRoot | None) -> int:
    """The closing checkpoint could not be written (a full disk...): say so even with --quiet,
    copy nothing to --save (the folder holds an older checkpoint, or none) and exit 1."""
    folder = "the temporary run folder" if temp is not None else "the run folder"
    why = printer.checkpoint_problem or "see the messages above"
    printer.error(f"error: the final checkpoint could not be written ({why}); {folder} holds {_held_checkpoint(run)}")
    if ns.save:
        printer.error(f"--save: nothing written to {ns.save}: only that older checkpoint was there to copy")
    if temp is not None and run.has_checkpoint():
        temp.keep = True  # the older checkpoint is still the only copy of a model
    if temp is None or temp.keep:
        printer.error(f"run folder: {run.path}")
    return EXIT_FAILED


def _held_checkpoint(run) -> str:
    """What the run folder's checkpoint holds, read back (a resumed run's may be from an earlier session)."""
    from ..core.checkpoint import CheckpointError

    if not run.has_checkpoint():
        return "no checkpoint"
    try:
        checkpoint = run.load_checkpoint()
    except CheckpointError:
        return "an unreadable checkpoint"
    batch = f", batch {checkpoint.batch}" if checkpoint.batch else ""
    return f"the checkpoint of epoch {checkpoint.epoch}{batch}"


def _say_where(ns, result: Finished, printer: Printer, run, runs_root: Path) -> None:
    """Where the model is, and for a stopped run how to continue it."""
    if result.stopped:
        if ns.no_run_dir:
            printer.notice(
                "stopped (no run folder kept" + ("; the checkpoint is in --save's file)" if ns.save else ")")
            )
        else:
            printer.notice(f"stopped; checkpoint: {run.checkpoint_path}")
            resume = f"lstm-tui train --resume {run.name}"
            if ns.runs_dir:
                resume += f" --runs-dir {ns.runs_dir}"
            if run.path.parent.resolve() != runs_root.resolve():
                resume = f"lstm-tui train --resume {run.path}"
            printer.notice(f"continue with: {resume}")
    elif not ns.no_run_dir:
        printer.notice(f"run folder: {run.path}")


# ----------------------------------------------------------------------------- --save
def _save_target(text: str) -> Path:
    """Where ``--save`` will write, checked before training so that a bad path costs no training.

    A folder gets ``checkpoint.pt``; missing folders are made at the end, so the nearest one
    that exists must take a new file (tried with a temporary file: permission bits say little
    to root or on a read-only mount).
    """
    target = Path(text).expanduser()
    if target.is_dir():
        target = target / CHECKPOINT_FILE
    if target.is_dir():
        raise CliError(f"--save: {target} is a folder")
    folder = target.parent
    while not folder.exists():
        folder = folder.parent
    if not folder.is_dir():
        raise CliError(f"--save: cannot write {target}: {folder} is not a folder")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise CliError(f"--save: cannot write {target}: {exc.strerror or exc}") from None
    return target


def _save_final(source: Path, target: Path, printer: Printer, temp: TempRoot | None) -> None:
    """Copy the closing checkpoint to ``--save``; when that fails the run's own copy is kept
    (even a ``--no-run-dir`` one) and the error says where it is."""
    if not source.is_file():
        raise CliError(f"--save: the run wrote no checkpoint to copy ({source})", EXIT_FAILED)
    try:
        _copy_atomically(source, target)
    except OSError as exc:
        if temp is not None:
            temp.keep = True
        raise CliError(
            f"--save: cannot write {target}: {exc.strerror or exc}; the checkpoint is kept in {source}", EXIT_FAILED
        ) from None
    printer.notice(f"checkpoint saved to {target}")


def _copy_atomically(source: Path, target: Path) -> None:
    """A temporary file in the target's folder, then a rename: never half a checkpoint at ``target``."""
    from ..core.atomic import atomic_write_bytes

    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, source.read_bytes())


__all__ = ["cmd_train", "Printer", "epoch_line", "summary_line", "event_json", "flag_values"]
