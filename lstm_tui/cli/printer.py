"""What ``lstm-tui train`` prints: engine events as lines (text mode) or JSON objects.

Text mode prints one line per reported epoch, the samples, and d2l's summary at the end::

    epoch  10/500  perplexity 10.83  val 11.20  tokens/s 92,314  elapsed 4.1s
      time traveller the the the the ...
    perplexity 1.3, 92314.2 tokens/sec on cpu
    time traveller ...
    traveller ...

``--json`` prints every event as one JSON object a line (``event.to_dict()``) and nothing else
on stdout.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import threading
from typing import Any, TextIO

from ..core.config import RunConfig
from ..core.events import (
    BatchProgress,
    Checkpointed,
    CheckpointFailed,
    DownloadProgress,
    EpochEnd,
    Event,
    Failed,
    Finished,
    KnobChanged,
    LoadProgress,
    Sample,
    Started,
    Status,
)
from ..core.numbers import format_perplexity


# ----------------------------------------------------------------------------- formatting
def epoch_line(event: EpochEnd) -> str:
    width = len(str(event.epochs))
    parts = [f"epoch {event.epoch:>{width + 1}}/{event.epochs}", f"perplexity {_num(event.perplexity)}"]
    if event.val_perplexity is not None:
        parts.append(f"val {_num(event.val_perplexity)}")
    if event.generation_perplexity is not None:
        parts.append(f"generation {_num(event.generation_perplexity)}")
    if event.grad_norm is not None:
        clipped = f" ({event.clipped_share:.0%} clipped)" if event.clipped_share is not None else ""
        parts.append(f"grad {_num(event.grad_norm)}{clipped}")
    parts.append(f"tokens/s {event.tokens_per_s:,.0f}" if math.isfinite(event.tokens_per_s) else "tokens/s -")
    parts.append(f"elapsed {_duration(event.elapsed_s)}")
    return "  ".join(parts)


def summary_line(event: Finished) -> str:
    """d2l's ``perplexity 1.1, 26987.7 tokens/sec on cuda:0``."""
    ppl = f"{event.perplexity:.1f}" if math.isfinite(event.perplexity) else str(event.perplexity)
    return f"perplexity {ppl}, {event.tokens_per_s:.1f} tokens/sec on {event.device}"


def load_line(event: LoadProgress) -> str:
    """'loading corpus: counting 41.9/100.0 MB (42%)' (see ``LoadProgress.describe``)."""
    return event.describe()


def _num(value: float) -> str:
    return format_perplexity(value)


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
        self,
        config: RunConfig,
        *,
        json_mode: bool,
        every: int,
        quiet: bool,
        out: TextIO | None = None,
        err: TextIO | None = None,
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
            self.out = open(os.devnull, "w")  # noqa: SIM115 - kept open for the rest of the run
            if self.on_broken_pipe is not None:
                self.on_broken_pipe()

    def _handle(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, Checkpointed):
                self.checkpoint_problem = None
            if isinstance(event, CheckpointFailed):
                self.checkpoint_problem = event.reason
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
        elif isinstance(event, CheckpointFailed):
            self.say(f"checkpoint not saved: {event.reason}")
        elif isinstance(event, KnobChanged):
            self.say(
                f"{event.name} {event.previous:g} -> {event.value:g} from epoch {event.epoch}, batch {event.batch + 1}"
            )
        elif isinstance(event, DownloadProgress):
            total = f"/{event.total_bytes / 1e6:.1f}" if event.total_bytes else ""
            self._live_line(f"downloading corpus {event.done_bytes / 1e6:.1f}{total} MB")
        elif isinstance(event, LoadProgress):
            self._live_line(load_line(event))
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
        self._write(self.out, f"  {sample.text}" + (f"  [warning: {sample.warning}]" if sample.warning else ""))

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
        if result.test_perplexity is not None:
            self._write(self.out, f"test perplexity {_num(result.test_perplexity)}")
        for sample in self.final_samples:
            self._write(self.out, sample.text)
        if self.config.generation_warning:
            from ..core.presets import BIDIRECTIONAL_NOTE

            self._write(self.out, f"(warning: {self.config.generation_warning}) {BIDIRECTIONAL_NOTE}")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


__all__ = ["Printer", "epoch_line", "event_json", "load_line", "summary_line"]
