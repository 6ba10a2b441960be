"""Where the app prepares a run: the main screen's run (F5, F8) and the book's runs call these.

``prepare_new`` reads the corpus (unless it is given), checks the prefixes, makes the run folder
and builds the Trainer; ``prepare_resumed`` builds the Trainer of a saved run from its
checkpoint, with the run's history up to it. Both run on a worker thread, send what a person
should see through ``on_event`` and return a :class:`Prepared` run, a :class:`Refused` start
(a form field is wrong) or a ``Failed`` event. (At the merge their bodies become calls of the
core's ``prepare_run`` / ``prepare_resume``.)
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

    field: str
    message: str


Preparation = Union[Prepared, Refused, ev.Failed]
OnEvent = Callable[[ev.Event], None]


def prepare_new(config: RunConfig, runs_dir: str | os.PathLike | None, on_event: OnEvent,
                data: Any = None) -> Preparation:
    """A new run of ``config`` in ``runs_dir`` (worker thread); ``data`` skips reading the corpus."""
    from lstm_tui.core.data import CorpusError, load_corpus
    from lstm_tui.core.engine import Trainer
    from lstm_tui.core.runs import RunDir, RunError

    if data is None:
        on_event(ev.Status("loading corpus"))
        try:
            data = load_corpus(config, progress=lambda done, total: on_event(ev.DownloadProgress(int(done), total)))
        except CorpusError as exc:
            if not config.corpus.strip():  # The Time Machine itself: the failure says where to put it
                return ev.Failed(exc.reason, exc.hint)
            return Refused("corpus", f"{exc.reason}; {exc.hint}")
    refused = _check_prefixes(config, data.vocab)
    if refused is not None:
        return refused
    try:
        run_path: str | None = str(RunDir.create(runs_dir, config).path)
        on_event(ev.Status(f"run folder: {run_path}"))
    except RunError as exc:
        run_path = None
        on_event(ev.Status(f"not saving this run: {exc}"))
    return Prepared(Trainer(config, on_event=on_event, run_dir=run_path, data=data), run_path, data)


def _check_prefixes(config: RunConfig, vocab: Any) -> Refused | None:
    if not config.can_generate:
        return None
    from lstm_tui.core.generate import GenerationError, prefix_tokens

    for prefix in config.prefix:
        try:
            prefix_tokens(vocab, prefix)
        except GenerationError as exc:
            return Refused("prefix", f"{prefix!r}: {exc.explain()}")
    return None


def prepare_resumed(path: str | os.PathLike, changes: dict[str, Any] | None, on_event: OnEvent) -> Preparation:
    """The run at ``path`` continued from its checkpoint, with ``changes`` (e.g. more epochs)."""
    from lstm_tui.core.engine import Trainer
    from lstm_tui.core.runs import RunDir

    name = Path(path).name
    try:
        run = RunDir.open(path)
        trainer = Trainer.resume_from(run, on_event=on_event, **(changes or {}))
        metrics = [m for m in run.read_metrics() if record_epoch(m) <= trainer.epoch]
        samples = [s for s in run.read_samples() if record_epoch(s) <= trainer.epoch]
    except Exception as exc:  # noqa: BLE001 - CheckpointError, RunError, ConfigError: readable
        return ev.Failed(f"cannot resume {name}: {exc}", "start a new run (F5), or pick another run (ctrl+o)")
    history = History(name, metrics, samples[-HISTORY_SAMPLES:], trainer.epoch, trainer.batch)
    return Prepared(trainer, str(run.path), history=history)


def record_epoch(record: dict) -> int:
    """The ``epoch`` of a metrics or samples line (0 when it has none)."""
    value = record.get("epoch") if isinstance(record, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
