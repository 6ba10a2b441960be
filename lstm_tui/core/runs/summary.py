"""A run's status and its ``summary.json`` record.

The summary is written by the trainer: ``running`` when a run starts (or resumes), then
``finished``, ``stopped`` or ``failed`` at its end. Old summaries (any keys, missing ones) read
back: unknown keys are kept in :attr:`Summary.extra`, missing ones are ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

from .files import CREATED_KEY


class RunStatus(str, Enum):
    """What a run's summary says (``INTERRUPTED`` and ``UNKNOWN`` are derived, never written).

    A ``str`` enum: ``RunStatus.FINISHED == "finished"`` and ``json.dumps`` writes the text.
    """

    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # "running", but no live trainer holds the folder's lock
    UNKNOWN = "unknown"  # no summary, or a status this version does not know

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: Any) -> RunStatus:
        """The status a summary's text names; UNKNOWN for anything else."""
        try:
            return cls(str(value))
        except ValueError:
            return cls.UNKNOWN


#: The statuses a summary may record (the others are derived when reading).
WRITTEN_STATUSES = (RunStatus.RUNNING, RunStatus.FINISHED, RunStatus.STOPPED, RunStatus.FAILED)
#: Statuses of a run that has ended and said how (its summary's numbers are final).
ENDED_STATUSES = (RunStatus.FINISHED, RunStatus.STOPPED)


@dataclass
class Summary:
    """The fields of ``summary.json``. ``None`` fields are left out of the file."""

    status: RunStatus = RunStatus.UNKNOWN
    epoch: int | None = None  # completed epochs
    epochs: int | None = None  # the configured total
    perplexity: float | None = None
    val_perplexity: float | None = None
    generation_perplexity: float | None = None
    tokens_per_s: float | None = None
    elapsed_s: float | None = None
    device: str | None = None
    stopped: bool | None = None
    checkpoint_saved: bool | None = None  # False: the closing checkpoint could not be written
    checkpoint_epoch: int | None = None  # the epoch the folder's checkpoint.pt holds (None: none)
    checkpoint_error: str | None = None  # why the last checkpoint write failed
    history_epochs: int | None = None  # epochs in the trainer's history (= metrics lines)
    created: str | None = None  # ISO time, kept once a rename dropped the folder's stamp
    reason: str | None = None  # a failed run: why, for people
    hint: str | None = None  # a failed run: what to try
    detail: str | None = None  # a failed run: the unexpected error's traceback
    traceback: str | None = None
    test_perplexity: float | None = None  # the test_split part's, computed once when the run finished
    corpus_sha1: str | None = None  # SHA-1 of the corpus's UTF-8 text: a resume over another text is refused
    corpus_bytes: int | None = None  # its length in bytes
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, kept as read

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.extra)
        for item in fields(self):
            if item.name == "extra":
                continue
            value = getattr(self, item.name)
            if value is not None:
                out[item.name] = value.value if isinstance(value, RunStatus) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Summary:
        """A summary from a file's dict; values of the wrong type read as ``None``."""
        data = dict(data or {})
        known = {item.name: item for item in fields(cls) if item.name != "extra"}
        values: dict[str, Any] = {"status": RunStatus.parse(data.pop("status", None))}
        for name in list(data):
            if name in known and name != "status":
                values[name] = _typed(name, data.pop(name))
        return cls(**values, extra=data)

    @property
    def checkpoint_behind(self) -> bool:
        """Whether the run ended with its checkpoint older than its last epoch (a full disk...)."""
        if self.status not in ENDED_STATUSES or self.epoch is None:
            return False
        if self.checkpoint_epoch is not None:
            return self.checkpoint_epoch < self.epoch
        return self.checkpoint_saved is False


def checkpoint_note(summary: Summary | dict[str, Any] | None) -> str | None:
    """ "checkpoint holds epoch 1 of 6" when an ended run's checkpoint is older than its last
    epoch (the later ones could not be written), "no checkpoint saved" when it has none; else None."""
    if summary is None:
        return None
    record = summary if isinstance(summary, Summary) else Summary.from_dict(summary)
    if not record.checkpoint_behind:
        return None
    if record.checkpoint_epoch is None:
        return "no checkpoint saved"
    return f"checkpoint holds epoch {record.checkpoint_epoch} of {record.epoch}"


_INTS = ("epoch", "epochs", "checkpoint_epoch", "history_epochs", "corpus_bytes")
_FLOATS = ("perplexity", "val_perplexity", "generation_perplexity", "tokens_per_s", "elapsed_s", "test_perplexity")
_BOOLS = ("stopped", "checkpoint_saved")


def _typed(name: str, value: Any) -> Any:
    if name in _INTS:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if name in _FLOATS:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return float(value) if ok else None
    if name in _BOOLS:
        return value if isinstance(value, bool) else None
    return None if value is None else str(value)


__all__ = ["CREATED_KEY", "ENDED_STATUSES", "WRITTEN_STATUSES", "RunStatus", "Summary", "checkpoint_note"]
