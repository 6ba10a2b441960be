"""Where the app prepares a run: the main screen's run (F5, F8) and the book's runs call these.

``prepare_new`` reads the corpus (unless it is given), checks the prefixes, makes the run folder
and builds the Trainer; ``prepare_resumed`` builds the Trainer of a saved run from its
checkpoint, with the run's history up to it. Both run on a worker thread, send what a person
should see through ``on_event`` (``LoadProgress`` while the corpus loads) and return a
:class:`Prepared` run, a :class:`Refused` start (a form field is wrong, or a resume was
refused), a :class:`Cancelled` one (``cancel()`` said so while the corpus loaded) or a
``Failed`` event. The checks themselves
are the core's (:mod:`lstm_tui.core.session`); this module words them for the app.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lstm_tui.core import events as ev
from lstm_tui.core.config import RunConfig

HISTORY_SAMPLES = 30  # sample lines shown again when a run is resumed


@dataclass(frozen=True)
class History:
    """A resumed run's metrics and samples up to its checkpoint."""

    name: str
    metrics: list[dict] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)
    epoch: int = 0
    batch: int = 0


@dataclass(frozen=True)
class Prepared:
    """A run ready to train: ``trainer.run()`` trains it; ``run_path`` is None without a folder."""

    trainer: Any
    run_path: str | None
    data: Any = None  # the corpus it trains on (the book's next runs reuse it)
    history: History | None = None  # a resumed run's, else None


@dataclass(frozen=True)
class Refused:
    """The run was not started: ``field`` of the form is wrong, ``message`` says how."""

    field: str | None  # None (or "run"): not a form field, e.g. another process trains the run
    message: str
    corpus_changed: bool = False  # a resume over another text: it may go on with allow_corpus_change


@dataclass(frozen=True)
class Cancelled:
    """The start was stopped while the corpus loaded (F7): nothing was made, nothing is wrong."""

    message: str = "loading cancelled"


Preparation = Prepared | Refused | Cancelled | ev.Failed
OnEvent = Callable[[ev.Event], None]
Cancel = Callable[[], bool]


def prepare_new(
    config: RunConfig,
    runs_dir: str | os.PathLike | None,
    on_event: OnEvent,
    data: Any = None,
    cancel: Cancel | None = None,
) -> Preparation:
    """A new run of ``config`` in ``runs_dir`` (worker thread); ``data`` skips reading the corpus;
    ``cancel()`` True stops the load at once (:class:`Cancelled`; no run folder is made)."""
    from lstm_tui.core.session import Refusal, prepare_run

    if data is None:
        on_event(ev.Status("loading corpus"))
    made = prepare_run(config, runs_dir, on_event=on_event, data=data, cancel=cancel)
    if isinstance(made, Refusal) and made.cancelled:
        return Cancelled()
    if isinstance(made, Refusal):
        if made.field == "corpus" and not config.corpus.strip():  # The Time Machine itself: where to put it
            return ev.Failed(made.reason, made.hint)
        return Refused(made.field, made.reason + (f"; {made.hint}" if made.hint else ""))
    if made.run is not None:
        on_event(ev.Status(f"run folder: {made.run.path}"))
    else:
        on_event(ev.Status(f"not saving this run: {made.run_error}"))
    return Prepared(made.trainer, str(made.run.path) if made.run is not None else None, made.data)


def prepare_resumed(
    path: str | os.PathLike,
    changes: dict[str, Any] | None,
    on_event: OnEvent,
    cancel: Cancel | None = None,
    allow_corpus_change: bool = False,
) -> Preparation:
    """The run at ``path`` continued from its checkpoint, with ``changes`` (e.g. more epochs).

    A refusal (another process trains it, no epochs left, a bad change, a changed corpus) is a
    :class:`Refused`, never a failed run; its ``field`` is None when no form field is at fault.
    ``allow_corpus_change`` trains on a corpus whose SHA-1 is not the run's."""
    from lstm_tui.core.session import CORPUS_CHANGED, Refusal, prepare_resume

    made = prepare_resume(
        path, dict(changes or {}), on_event=on_event, cancel=cancel, allow_corpus_change=allow_corpus_change
    )
    if isinstance(made, Refusal) and made.cancelled:
        return Cancelled()
    if isinstance(made, Refusal) and made.code == CORPUS_CHANGED:  # (the app offers to resume anyway)
        return Refused(made.field, made.reason, corpus_changed=True)
    if isinstance(made, Refusal) and made.field == "epochs":  # (the form's epochs field is what to change)
        return Refused("epochs", f"{made.reason}: raise 'epochs' in the form, then F8 continues it")
    if isinstance(made, Refusal):
        return Refused(made.field, made.reason + (f"; {made.hint}" if made.hint else ""))
    assert made.run is not None  # (a resume always has its folder)
    trainer = made.trainer
    history = History(made.run.name, made.history, made.samples[-HISTORY_SAMPLES:], trainer.epoch, trainer.batch)
    return Prepared(trainer, str(made.run.path), made.data, history=history)


def record_epoch(record: dict) -> int:
    """The ``epoch`` of a metrics or samples line (0 when it has none)."""
    value = record.get("epoch") if isinstance(record, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
