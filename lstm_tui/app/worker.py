"""Where the app prepares a run: the main screen's run (F5, F8) and the book's runs call these.

``prepare_new`` reads the corpus (unless it is given), checks the prefixes, makes the run folder
and builds the Trainer; ``prepare_resumed`` builds the Trainer of a saved run from its
checkpoint, with the run's history up to it. Both run on a worker thread, send what a person
should see through ``on_event`` and return a :class:`Prepared` run, a :class:`Refused` start
(a form field is wrong, or a resume was refused) or a ``Failed`` event. The checks themselves
are the core's (:mod:`lstm_tui.core.session`); this module words them for the app.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Union

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


Preparation = Union[Prepared, Refused, ev.Failed]
OnEvent = Callable[[ev.Event], None]


def prepare_new(config: RunConfig, runs_dir: str | os.PathLike | None, on_event: OnEvent,
                data: Any = None) -> Preparation:
    """A new run of ``config`` in ``runs_dir`` (worker thread); ``data`` skips reading the corpus."""
    from lstm_tui.core.session import Refusal, prepare_run

    if data is None:
        on_event(ev.Status("loading corpus"))
    made = prepare_run(config, runs_dir, on_event=on_event, data=data)
    if isinstance(made, Refusal):
        if made.field == "corpus" and not config.corpus.strip():  # The Time Machine itself: where to put it
            return ev.Failed(made.reason, made.hint)
        return Refused(made.field, made.reason + (f"; {made.hint}" if made.hint else ""))
    if made.run is not None:
        on_event(ev.Status(f"run folder: {made.run.path}"))
    else:
        on_event(ev.Status(f"not saving this run: {made.run_error}"))
    return Prepared(made.trainer, str(made.run.path) if made.run is not None else None, made.data)


def prepare_resumed(path: str | os.PathLike, changes: dict[str, Any] | None, on_event: OnEvent) -> Preparation:
    """The run at ``path`` continued from its checkpoint, with ``changes`` (e.g. more epochs).

    A refusal (another process trains it, no epochs left, a bad change) is a :class:`Refused`,
    never a failed run; its ``field`` is None when no form field is at fault."""
    from lstm_tui.core.session import Refusal, prepare_resume

    made = prepare_resume(path, dict(changes or {}), on_event=on_event)
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
