"""Messages that worker threads post to the app (``post_message`` is thread-safe).

Workers never touch widgets; they post one of these and the app updates the UI on its own
thread. Each engine event (:mod:`lstm_tui.core.events`) has its own message class, made by
:func:`engine_message` from one table (:data:`MESSAGE_FOR`), so a handler is named after the
message (``on_engine_epoch_end``) and a renamed event fails loudly at import, not silently.
Progress messages can be replaced: a newer one waiting in the queue supersedes an older one
(Textual's ``can_replace``), so a busy UI thread skips stale progress instead of drawing it.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from textual.message import Message

from lstm_tui.core import events as ev

E = TypeVar("E", bound=ev.Event)


class EngineMessage(Message, Generic[E]):
    """One event from the training engine, for the run ``run_id`` (the app's or the book's)."""

    def __init__(self, run_id: int, event: E, bubble: bool = True) -> None:
        super().__init__()
        self.run_id = run_id
        self.event: E = event
        self.bubble = bubble  # False: for the widget it is posted to only (the book's, for the runs screen)


class _Progress(EngineMessage[E]):
    def can_replace(self, message: Message) -> bool:
        """Textual asks this of the message it is about to handle: True lets the next one in
        the queue, a newer progress of the same kind and run, be handled in its place."""
        return type(message) is type(self) and isinstance(message, EngineMessage) and message.run_id == self.run_id


class EngineStatus(EngineMessage[ev.Status]):
    """A line for the log and the status bar."""


class EngineDownloadProgress(_Progress[ev.DownloadProgress]):
    """Bytes of the corpus downloaded so far."""


class EngineLoadProgress(_Progress[ev.LoadProgress]):
    """How far loading the corpus has got."""


class EngineStarted(EngineMessage[ev.Started]):
    """Training began (or resumed)."""


class EngineBatchProgress(_Progress[ev.BatchProgress]):
    """Within-epoch progress."""


class EngineEpochEnd(EngineMessage[ev.EpochEnd]):
    """An epoch ended (the chart's point)."""


class EngineSample(EngineMessage[ev.Sample]):
    """A prediction of a prefix."""


class EngineCheckpointed(EngineMessage[ev.Checkpointed]):
    """A checkpoint was written."""


class EngineCheckpointFailed(EngineMessage[ev.CheckpointFailed]):
    """A checkpoint could not be written; the run goes on."""


class EngineNoRunFolder(EngineMessage[ev.NoRunFolder]):
    """A checkpoint was asked for, but the run has no folder."""


class EngineKnobChanged(EngineMessage[ev.KnobChanged]):
    """A live knob took effect (a chart marker and a log line)."""


class EngineFinished(EngineMessage[ev.Finished]):
    """The run ended or was stopped."""


class EngineFailed(EngineMessage[ev.Failed]):
    """The run could not go on."""


#: The message class of each engine event.
MESSAGE_FOR: dict[type[ev.Event], type[EngineMessage[Any]]] = {
    ev.Status: EngineStatus,
    ev.DownloadProgress: EngineDownloadProgress,
    ev.LoadProgress: EngineLoadProgress,
    ev.Started: EngineStarted,
    ev.BatchProgress: EngineBatchProgress,
    ev.EpochEnd: EngineEpochEnd,
    ev.Sample: EngineSample,
    ev.Checkpointed: EngineCheckpointed,
    ev.CheckpointFailed: EngineCheckpointFailed,
    ev.NoRunFolder: EngineNoRunFolder,
    ev.KnobChanged: EngineKnobChanged,
    ev.Finished: EngineFinished,
    ev.Failed: EngineFailed,
}


def engine_message(event: ev.Event, run_id: int, bubble: bool = True) -> EngineMessage[Any]:
    """The message that carries ``event`` (``KeyError`` for an event no front end knows yet)."""
    return MESSAGE_FOR[type(event)](run_id, event, bubble)


class GenerateChunk(Message):
    """A few more generated characters for the generate box."""

    def __init__(self, request: int, text: str) -> None:
        super().__init__()
        self.request = request
        self.text = text


class GenerateDone(Message):
    """Generation ended; ``error`` says why when it could not run."""

    def __init__(self, request: int, error: str | None = None) -> None:
        super().__init__()
        self.request = request
        self.error = error


class KnobAck(Message):
    """Another process's trainer answered a knob change (``outcome`` None: no answer in time)."""

    def __init__(self, outcome: str | None, detail: str) -> None:
        super().__init__()
        self.outcome, self.detail = outcome, detail


class DevicesFound(Message):
    """The devices this machine has (found off the UI thread: it imports torch)."""

    def __init__(self, devices: list[str]) -> None:
        super().__init__()
        self.devices = devices


class RunLoaded(Message):
    """A saved run was loaded for generation."""

    def __init__(self, loaded: Any, history: tuple[int, list[dict]] = (0, [])) -> None:
        super().__init__()
        self.loaded = loaded  # a session.LoadedRun
        self.epoch, self.metrics = history  # epochs trained, and their metrics (for the chart)


class LoadFailed(Message):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__()
        self.path = path
        self.reason = reason


class RunHistory(Message):
    """A resumed run's metrics and samples up to its checkpoint (posted before its first event)."""

    def __init__(
        self, run_id: int, name: str, metrics: list[dict], samples: list[dict], epoch: int, batch: int
    ) -> None:
        super().__init__()
        self.run_id, self.name, self.metrics, self.samples = run_id, name, metrics, samples
        self.epoch, self.batch = epoch, batch


class StartRefused(Message):
    """The run could not start: a form field is wrong (e.g. a prefix the vocabulary cannot read),
    or, with ``field`` None or "run", a resume was refused (another process trains the run...)."""

    def __init__(self, run_id: int, field: str | None, message: str, corpus_changed: bool = False) -> None:
        super().__init__()
        self.run_id, self.field, self.message = run_id, field, message
        self.corpus_changed = corpus_changed  # a resume over another text (it may go on anyway)


class StartCancelled(Message):
    """The start was stopped (F7, ctrl+q) while the corpus loaded: nothing was made."""

    def __init__(self, run_id: int, message: str) -> None:
        super().__init__()
        self.run_id, self.message = run_id, message
