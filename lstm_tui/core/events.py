"""The small event interface between the training engine and any front end.

The engine calls ``on_event(event)`` from its own thread; a front end turns each event into
a UI update (the Textual app posts a Message) or a line of output (the CLI). Events are frozen
dataclasses of plain values so they can cross threads and be written as JSON lines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.kind, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class Status(Event):
    """Something the user should see that is not a metric: 'downloading corpus', 'resumed'."""

    kind: ClassVar[str] = "status"
    message: str


@dataclass(frozen=True)
class DownloadProgress(Event):
    kind: ClassVar[str] = "download"
    done_bytes: int
    total_bytes: int | None


@dataclass(frozen=True)
class LoadProgress(Event):
    """The corpus is being loaded: ``done`` of ``total`` (None: unknown, e.g. a stream) ``unit``
    in ``stage`` ("reading", "decoding", "cleaning", "counting", "indexing", "checking").
    Throttled; the last report of a stage has ``done == total``."""

    kind: ClassVar[str] = "load"
    stage: str
    done: int
    total: int | None
    unit: str = "bytes"

    @property
    def percent(self) -> float | None:
        return 100.0 * self.done / self.total if self.total else None

    def describe(self) -> str:
        """'loading corpus: counting 41.9/100.0 MB (42%)' (no total for a stream: 'reading 3.1 MB')."""
        scale, unit = (1e6, "MB") if self.unit == "bytes" else (1.0, self.unit)
        done = f"{self.done / scale:,.1f}" if scale != 1.0 else f"{self.done:,}"
        if not self.total:
            return f"loading corpus: {self.stage} {done} {unit}"
        total = f"{self.total / scale:,.1f}" if scale != 1.0 else f"{self.total:,}"
        return f"loading corpus: {self.stage} {done}/{total} {unit} ({self.percent:.0f}%)"


@dataclass(frozen=True)
class Started(Event):
    kind: ClassVar[str] = "started"
    device: str
    parameters: int
    vocab_size: int
    corpus_tokens: int
    batches_per_epoch: int
    start_epoch: int
    epochs: int


@dataclass(frozen=True)
class BatchProgress(Event):
    """Within-epoch progress, throttled by the engine (a long epoch still moves the chart)."""

    kind: ClassVar[str] = "progress"
    epoch: int
    batch: int
    batches: int
    perplexity: float
    tokens_per_s: float
    elapsed_s: float


@dataclass(frozen=True)
class EpochEnd(Event):
    kind: ClassVar[str] = "epoch"
    epoch: int
    epochs: int
    perplexity: float
    tokens_per_s: float
    elapsed_s: float
    val_perplexity: float | None = None
    generation_perplexity: float | None = None  # only on epochs asked for with gen_ppl_every
    grad_norm: float | None = None  # mean gradient norm before clipping over the epoch's batches
    clipped_share: float | None = None  # share of the epoch's batches that were clipped (None: clip off)
    grad_norm_max: float | None = None  # the largest of those norms


@dataclass(frozen=True)
class Sample(Event):
    kind: ClassVar[str] = "sample"
    epoch: int
    prefix: str
    text: str
    final: bool = False  # one of the predictions made once training has ended (d2l's last two)
    warning: str = ""  # e.g. a bidirectional model's: its text is garbage (config.generation_warning)


@dataclass(frozen=True)
class Checkpointed(Event):
    kind: ClassVar[str] = "checkpoint"
    epoch: int
    path: str


@dataclass(frozen=True)
class CheckpointFailed(Event):
    """A checkpoint could not be written (e.g. a full disk); the run goes on and the folder
    keeps its last good checkpoint (``kept_epoch``; None when it has none)."""

    kind: ClassVar[str] = "checkpoint_failed"
    epoch: int
    reason: str
    kept_epoch: int | None = None


@dataclass(frozen=True)
class NoRunFolder(Event):
    """A checkpoint was asked for, but this run has no run folder to write it to."""

    kind: ClassVar[str] = "no_run_folder"
    reason: str


@dataclass(frozen=True)
class KnobChanged(Event):
    """A live knob (``Trainer.set_knobs``) took effect: from batch ``batch`` + 1 of ``epoch`` on
    (``batch`` batches of that epoch had been trained with ``previous``). The same fields are
    the run's ``metrics.jsonl`` record ``{"knob": name, "value", "previous", "epoch", "batch"}``."""

    kind: ClassVar[str] = "knob"
    name: str
    value: float
    previous: float
    epoch: int
    batch: int


@dataclass(frozen=True)
class Finished(Event):
    """The run ended normally or was stopped (``stopped``); the model is usable either way.

    ``checkpoint_saved`` is False when the run has a run folder and its closing checkpoint could
    not be written (e.g. a full disk): the folder then holds an older one, or none, and
    ``checkpoint_error`` says why."""

    kind: ClassVar[str] = "finished"
    epoch: int
    perplexity: float
    tokens_per_s: float
    elapsed_s: float
    device: str
    stopped: bool = False
    val_perplexity: float | None = None
    generation_perplexity: float | None = None
    checkpoint_saved: bool = True
    checkpoint_error: str = ""
    test_perplexity: float | None = None  # on the test_split part, once, at the end (never used to choose)


@dataclass(frozen=True)
class Failed(Event):
    """The run could not go on; ``reason`` is for people, ``hint`` suggests a fix."""

    kind: ClassVar[str] = "failed"
    reason: str
    hint: str = ""
    epoch: int = 0
    detail: str = ""  # the traceback of an unexpected error, for logs; never shown as the reason


EventHandler = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The default handler: drop the event."""
