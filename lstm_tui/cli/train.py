"""``lstm-tui train``: the Trainer in the main thread, events printed as lines or JSON.

Text mode prints one line per reported epoch, the samples, and d2l's summary at the end::

    epoch  10/500  perplexity 10.83  val 11.20  tokens/s 92,314  elapsed 4.1s
      time traveller the the the the ...
    perplexity 1.3, 92314.2 tokens/sec on cpu
    time traveller ...
    traveller ...

``--json`` prints every event as one JSON object a line (``event.to_dict()``) and nothing else
on stdout. SIGINT / SIGTERM / SIGHUP ask the trainer to stop at the next batch (a checkpoint is
saved, exit 0); a second signal exits at once (130 for Ctrl+C).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, TextIO

from ..core.config import ConfigError, RunConfig, absolute_paths
from ..core.events import (
    CHECKPOINT_NOT_SAVED,
    BatchProgress,
    Checkpointed,
    DownloadProgress,
    EpochEnd,
    Event,
    Failed,
    Finished,
    Sample,
    Started,
    Status,
)
from . import DEBUG_ENV, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from .options import CliError, build_config, flag_name, flag_values


# Settings a resumed run cannot change: they define the model's weights or the vocabulary.
MODEL_SHAPE_FIELDS = frozenset({"cell", "impl", "layers", "hidden", "bidirectional", "token", "raw"})


# ----------------------------------------------------------------------------- formatting
def epoch_line(event: EpochEnd) -> str:
    width = len(str(event.epochs))
    parts = [f"epoch {event.epoch:>{width + 1}}/{event.epochs}", f"perplexity {_num(event.perplexity)}"]
    if event.val_perplexity is not None:
        parts.append(f"val {_num(event.val_perplexity)}")
    if event.generation_perplexity is not None:
        parts.append(f"generation {_num(event.generation_perplexity)}")
    parts.append(f"tokens/s {event.tokens_per_s:,.0f}" if math.isfinite(event.tokens_per_s) else "tokens/s -")
    parts.append(f"elapsed {_duration(event.elapsed_s)}")
    return "  ".join(parts)


def summary_line(event: Finished) -> str:
    """d2l's ``perplexity 1.1, 26987.7 tokens/sec on cuda:0``."""
    ppl = f"{event.perplexity:.1f}" if math.isfinite(event.perplexity) else str(event.perplexity)
    return f"perplexity {ppl}, {event.tokens_per_s:.1f} tokens/sec on {event.device}"


def _num(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else str(value)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s"


def _json_safe(value: Any) -> Any:
    """NaN/inf become null so every line is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def event_json(event: Event) -> str:
    return json.dumps(_json_safe(event.to_dict()), ensure_ascii=False, default=str)


# ----------------------------------------------------------------------------- the printer
class Printer:
    """Turns engine events into output. Called on the training thread (the main thread here)."""

    def __init__(
        self, config: RunConfig, *, json_mode: bool, every: int, quiet: bool,
        out: TextIO | None = None, err: TextIO | None = None,
    ):
        self.config = config
        self.json_mode = json_mode
        self.every = every
        self.quiet = quiet
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.start_epoch = 1
        self.printed_epochs: set[int] = set()
        self.final_samples: list[Sample] = []
        self.checkpoint_problem: str | None = None  # why the last checkpoint write failed, if it did
        self._live = False  # a \r progress line is showing on stderr
        self._tty = _isatty(self.err)
        self._lock = threading.Lock()
        self.on_broken_pipe = None  # set to trainer.stop

    # -- plumbing
    def say(self, text: str) -> None:
        """A status line: stdout in text mode, stderr in JSON mode."""
        if self.json_mode:
            self._write(self.err, text)
        elif not self.quiet:
            self._write(self.out, text)

    def notice(self, text: str) -> None:
        """Where things are (run folder, checkpoint): always shown, on stderr when stdout is JSON or --quiet."""
        self._write(self.err if self.json_mode or self.quiet else self.out, text)

    def error(self, text: str) -> None:
        """What went wrong: always on stderr, whatever --quiet or --json say."""
        self._write(self.err, text)

    def _write(self, stream: TextIO, text: str) -> None:
        self._clear_live()
        stream.write(text + "\n")
        stream.flush()

    def _live_line(self, text: str) -> None:
        if not self._tty or self.quiet:
            return
        width = shutil.get_terminal_size((100, 20)).columns - 1
        self.err.write("\r" + text[:width].ljust(width))
        self.err.flush()
        self._live = True

    def _clear_live(self) -> None:
        if self._live:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.err.write("\r" + " " * width + "\r")
            self.err.flush()
            self._live = False

    # -- events
    def __call__(self, event: Event) -> None:
        try:
            self._handle(event)
        except BrokenPipeError:
            # `lstm-tui train | head`: the reader is gone. Stop the run (it saves a checkpoint)
            # instead of failing it, and write nothing more to the pipe.
            self.out = open(os.devnull, "w")
            if self.on_broken_pipe is not None:
                self.on_broken_pipe()

    def _handle(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, Checkpointed):
                self.checkpoint_problem = None
            if isinstance(event, Status) and event.message.startswith(CHECKPOINT_NOT_SAVED):
                self.checkpoint_problem = event.message[len(CHECKPOINT_NOT_SAVED):]
            if isinstance(event, Started):
                self.start_epoch = event.start_epoch
            if self.json_mode:
                self.out.write(event_json(event) + "\n")
                self.out.flush()
                return
            self._text(event)

    def _text(self, event: Event) -> None:
        if isinstance(event, Status):
            self.say(event.message)
        elif isinstance(event, DownloadProgress):
            total = f"/{event.total_bytes / 1e6:.1f}" if event.total_bytes else ""
            self._live_line(f"downloading corpus {event.done_bytes / 1e6:.1f}{total} MB")
        elif isinstance(event, Started):
            resumed = f", resuming at epoch {event.start_epoch}" if event.start_epoch > 1 else ""
            self.say(
                f"training on {event.device}: {event.parameters:,} parameters, vocab {event.vocab_size}, "
                f"{event.corpus_tokens:,} tokens, {event.batches_per_epoch:,} batches/epoch, "
                f"{event.epochs:,} epochs{resumed}"
            )
        elif isinstance(event, BatchProgress):
            self._live_line(
                f"epoch {event.epoch} batch {event.batch}/{event.batches}  perplexity {_num(event.perplexity)}  "
                f"tokens/s {event.tokens_per_s:,.0f}"
            )
        elif isinstance(event, EpochEnd):
            if self._reports(event.epoch, event.epochs):
                self.printed_epochs.add(event.epoch)
                if not self.quiet:
                    self._write(self.out, epoch_line(event))
        elif isinstance(event, Sample):
            if event.final:
                self.final_samples.append(event)  # printed under d2l's summary line
            elif event.epoch in self.printed_epochs and not self.quiet:
                self._sample(event)
        elif isinstance(event, Failed):
            self._clear_live()

    def _reports(self, epoch: int, epochs: int) -> bool:
        return epoch % self.every == 0 or epoch == self.start_epoch or epoch == epochs

    def _sample(self, sample: Sample) -> None:
        self._write(self.out, f"  {sample.text}")

    def print_summary(self, result: Finished) -> None:
        """d2l's ending: the perplexity line, then the predictions made after training."""
        if result.stopped:
            self._write(self.out, f"stopped after {result.epoch} of {self.config.epochs} epochs")
        self._write(self.out, summary_line(result))
        if not self.quiet:
            if result.val_perplexity is not None:
                self._write(self.out, f"validation perplexity {_num(result.val_perplexity)}")
            if result.generation_perplexity is not None:
                self._write(self.out, f"generation perplexity {_num(result.generation_perplexity)}")
        for sample in self.final_samples:
            self._write(self.out, sample.text)
        if not self.config.can_generate:
            from ..core.presets import BIDIRECTIONAL_NOTE

            self._write(self.out, f"(no predictions) {BIDIRECTIONAL_NOTE}")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# ----------------------------------------------------------------------------- signals
class StopOnSignal:
    """SIGINT/SIGTERM/SIGHUP call ``trainer.stop()``; a second one exits at once."""

    SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

    def __init__(self, trainer, printer: Printer):
        self.trainer = trainer
        self.printer = printer
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopOnSignal":
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
            sys.stderr.write(f"\n{key}: stopping after this batch and saving a checkpoint ({key} again to quit at once)\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        self.trainer.stop()


# ----------------------------------------------------------------------------- the command
def cmd_train(ns: argparse.Namespace) -> int:
    changes = _resume_changes(ns) if ns.resume else {}
    config = None if ns.resume else build_config(ns)  # bad input fails before torch is imported
    save_target = _save_target(ns.save) if ns.save else None

    from ..core.runs import default_runs_dir

    runs_root = Path(ns.runs_dir).expanduser() if ns.runs_dir else default_runs_dir()
    temp = TempRoot() if ns.no_run_dir else None
    try:
        if ns.resume:
            run, trainer, printer = _resumed(ns, changes, runs_root)
        else:
            run, trainer, printer = _new_run(ns, config, temp.path if temp else runs_root)
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
    """The config changes a ``--resume`` asks for; refuses those a resume cannot make."""
    if ns.name or ns.no_run_dir:
        raise CliError("--resume continues the run in its own folder; it cannot be combined with --name or --no-run-dir")
    if getattr(ns, "preset", None) or getattr(ns, "config", None):
        raise CliError("--resume continues a run with its own config; --preset and --config do not apply "
                       "(flags such as --epochs or --lr may change it)")
    changes = absolute_paths(flag_values(ns))
    shaped = [flag_name(n) for n in changes if n in MODEL_SHAPE_FIELDS]
    if shaped:
        raise CliError(f"--resume: {', '.join(shaped)} would change the model or its vocabulary; "
                       "start a new run instead")
    return changes


def _new_run(ns: argparse.Namespace, config: RunConfig, root: Path):
    """``(run folder, trainer, printer)`` of a new run; bad input is refused before the folder exists."""
    from ..core.runs import RunDir, RunError

    _check_device(config)
    printer = _printer(ns, config)
    data = _prepare_data(config, printer)
    try:
        run = RunDir.create(root, config, name=ns.name)
    except RunError as exc:
        raise CliError(f"--runs-dir: {exc}") from None
    if not ns.no_run_dir:
        printer.notice(f"run folder: {run.path}")
    from ..core.engine import Trainer

    return run, Trainer(config, on_event=printer, run_dir=run, data=data), printer


def _resumed(ns: argparse.Namespace, changes: dict[str, Any], runs_root: Path):
    """``(run folder, trainer, printer)`` that continue ``--resume``'s run, checked like a new
    run's (device, corpus: exit 2); nothing is written to the folder before ``trainer.run()``."""
    from ..core.checkpoint import CheckpointError
    from ..core.engine import Trainer
    from ..core.runs import RunDir, RunError

    try:
        run = RunDir.open(ns.resume, runs_root)
        config = run.read_config()
    except RunError as exc:
        raise CliError(f"--resume: {exc}") from None
    if not run.has_checkpoint():
        raise CliError(f"--resume: run {run.name} has no checkpoint to continue from ({run.checkpoint_path})")
    try:
        config = config.replace(**changes)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    _check_device(config)
    printer = _printer(ns, config)
    data = _prepare_data(config, printer)
    try:
        trainer = Trainer.resume_from(run, on_event=printer, data=data, **changes)
    except (CheckpointError, RunError, ConfigError) as exc:
        raise CliError(f"--resume: {exc}") from None
    _check_epochs_left(trainer, run.name, "epochs" in changes)
    printer.notice(f"resuming run folder: {run.path}")
    return run, trainer, printer


def _check_epochs_left(trainer, name: str, epochs_given: bool) -> None:
    """A resume that would train nothing is refused: it would only rewrite the run's files."""
    done, total = trainer.epoch, trainer.config.epochs
    if done < total:
        return
    if epochs_given:
        raise CliError(f"--epochs {total} is not more than the {done} epochs {name} has trained; "
                       "pass a larger --epochs")
    raise CliError(f"{name} has finished its {done} epochs; pass --epochs N (more than {done}) to train on")


def _printer(ns: argparse.Namespace, config: RunConfig) -> Printer:
    every = ns.every or config.predict_every or 10
    return Printer(config, json_mode=ns.json, every=every, quiet=ns.quiet)


def _check_device(config: RunConfig) -> None:
    from ..core.device import DeviceError, resolve_device

    try:
        resolve_device(config.device)
    except DeviceError as exc:
        raise CliError(f"device: {exc}") from None


def _prepare_data(config: RunConfig, printer: Printer):
    """The corpus, and the prefixes checked against it: both bad input (exit 2) before training."""
    data = _load_data(config, printer)
    _check_prefixes(config, data)
    return data


def _load_data(config: RunConfig, printer: Printer):
    """Read the corpus up front so a missing or unusable corpus is exit 2 (bad input), not a failed run."""
    from ..core.data import CorpusError, load_corpus

    def progress(done: int, total: int | None) -> None:
        printer(DownloadProgress(done, total))

    try:
        return load_corpus(config, progress=progress)
    except CorpusError as exc:
        field = "corpus" if config.corpus else "corpus (The Time Machine)"
        raise CliError(f"{field}: {exc}") from None
    finally:
        printer._clear_live()


def _check_prefixes(config: RunConfig, data) -> None:
    """Prefixes the vocabulary cannot read would fail at the first sample: say so before training."""
    if not config.can_generate:
        return
    from ..core.generate import GenerationError, prefix_tokens

    for prefix in config.prefix:
        try:
            prefix_tokens(data.vocab, prefix)
        except GenerationError as exc:
            raise CliError(f"prefix: {prefix!r}: {exc.explain()}") from None  # a config prefix has no --unk


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
            printer.notice("stopped (no run folder kept" + ("; the checkpoint is in --save's file)" if ns.save else ")"))
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
        target = target / "checkpoint.pt"
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
        raise CliError(f"--save: cannot write {target}: {exc.strerror or exc}; the checkpoint is kept in {source}",
                       EXIT_FAILED) from None
    printer.notice(f"checkpoint saved to {target}")


def _copy_atomically(source: Path, target: Path) -> None:
    """A temporary file in the target's folder, then a rename: never half a checkpoint at ``target``."""
    from ..core.atomic import atomic_write_bytes

    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, source.read_bytes())


__all__ = ["cmd_train", "Printer", "epoch_line", "summary_line", "event_json", "flag_values"]
