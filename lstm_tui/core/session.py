"""Preparing a run, in one place for every front end (the app, the CLI, the book runner).

:func:`prepare_run` and :func:`prepare_resume` do the checks a run needs before it trains
(device, corpus, prefixes against the vocabulary; for a resume the checkpoint, the changes, the
epochs left and the run's lock) and return a :class:`PreparedRun` whose trainer is ready to
``run()`` -- or a :class:`Refusal` naming the field to fix. Nothing is written to a resumed run
before its trainer runs; a new run's folder is made only once its checks have passed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .config import ConfigError, RunConfig, absolute_paths
from .data.dataset import CorpusData, check_vocab, corpus_for
from .data.errors import CorpusError, LoadCancelled
from .data.vocab import Vocab
from .events import DownloadProgress, EventHandler, LoadProgress, Status, ignore
from .runs import CORPUS_CHANGE_HINT, RunDir, RunError, lock_holder
from .runs.lock import busy_reason
from .throttle import Throttle

__all__ = [
    "CORPUS_CHANGED",
    "MODEL_SHAPE_FIELDS",
    "PreparedRun",
    "Refusal",
    "epochs_left_refusal",
    "prepare_resume",
    "prepare_run",
    "shape_refusal",
]

#: Settings a resumed run cannot change: they define the model's weights or the vocabulary.
MODEL_SHAPE_FIELDS = (
    "cell",
    "impl",
    "layers",
    "hidden",
    "bidirectional",
    "token",
    "raw",
    "min_freq",
    "max_vocab",
    "embedding",
    "embed_dim",
    "tie_weights",
)
DOWNLOAD_INTERVAL_S = 0.2
#: ``Refusal.code`` of a resume over a corpus whose SHA-1 is not the run's (``allow_corpus_change``).
CORPUS_CHANGED = "corpus_changed"


@dataclass(frozen=True)
class Refusal:
    """Why a run cannot start: ``field`` names the setting to fix (None: not one setting)."""

    field: str | None
    reason: str
    hint: str = ""
    cancelled: bool = False  # not a problem: the load was stopped (``cancel()`` said so)
    code: str = ""  # what kind of refusal, for front ends that offer a way past it: CORPUS_CHANGED

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{where}{self.reason}" + (f" ({self.hint})" if self.hint else "")


@dataclass
class PreparedRun:
    """A run ready to train: ``trainer.run()`` (from a worker thread, or the main one).

    ``run`` is None when no run folder could be made (``run_error`` says why; the run trains
    without one). For a resume, ``history`` and ``samples`` are the run's metrics and samples
    up to its checkpoint (a front end shows them before the first new epoch)."""

    trainer: Any  # lstm_tui.core.engine.Trainer
    config: RunConfig
    data: CorpusData
    run: RunDir | None = None
    run_error: str = ""
    resumed: bool = False
    start_epoch: int = 0  # completed epochs before this session
    history: list[dict[str, Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)


def prepare_run(
    config: RunConfig,
    runs_dir: str | os.PathLike[str] | None,
    *,
    on_event: EventHandler | None = None,
    data: CorpusData | None = None,
    name: str | None = None,
    cancel: Callable[[], bool] | None = None,
) -> PreparedRun | Refusal:
    """A new run of ``config`` with its folder under ``runs_dir`` (None: the default runs dir).

    Relative corpus / data paths are made absolute here (the run can be resumed from anywhere);
    the corpus is loaded (``DownloadProgress``, ``LoadProgress`` and warnings as ``Status``
    through ``on_event``) unless ``data`` is given; ``cancel()`` True stops the load at once
    (a Refusal with ``cancelled=True``)."""
    handler = on_event or ignore
    try:
        config = config.with_absolute_paths()
    except ConfigError as exc:  # pragma: no cover - a path made absolute stays valid
        return Refusal(exc.field, exc.message)
    data, refusal = _device_and_corpus(config, handler, data, cancel)
    if refusal is not None:
        return refusal
    assert data is not None
    refusal = _check_prefixes(config, data)
    if refusal is not None:
        return refusal
    run, run_error = None, ""
    try:
        run = RunDir.create(runs_dir, config, name=name)
    except RunError as exc:
        run_error = str(exc)
    from .engine import Trainer  # (after the load: it imports torch, see _device_and_corpus)

    trainer = Trainer(config, on_event=handler, run_dir=run, data=data)
    return PreparedRun(trainer=trainer, config=config, data=data, run=run, run_error=run_error)


def prepare_resume(
    run: RunDir | str | os.PathLike[str],
    changes: dict[str, Any],
    *,
    on_event: EventHandler | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    allow_corpus_change: bool = False,
    cancel: Callable[[], bool] | None = None,
) -> PreparedRun | Refusal:
    """Continue ``run`` (a RunDir, a folder, or a run name in ``runs_dir``) from its checkpoint
    with ``changes`` to its config (e.g. ``{"epochs": 800}``).

    In this order: the run and its lock (a run another live process trains is refused), the
    checkpoint's config, the changes applied to it, then the checks (shape fields, epochs left,
    device, corpus -- the same text as the run recorded in its summary, unless
    ``allow_corpus_change`` -- and its vocabulary, prefixes). Nothing is written before
    ``trainer.run()``."""
    from .checkpoint import CheckpointError
    from .engine import Trainer

    handler = on_event or ignore
    try:
        folder = run if isinstance(run, RunDir) else RunDir.open(run, runs_dir)
    except RunError as exc:
        return Refusal("run", str(exc))
    held = lock_holder(folder.path)
    if held is not None:
        return Refusal(None, *busy_reason(folder.path, held))
    if not folder.has_checkpoint():
        return Refusal("run", f"run {folder.name} has no checkpoint to continue from ({folder.checkpoint_path})")
    try:
        checkpoint = folder.load_checkpoint()
    except CheckpointError as exc:
        return Refusal("run", f"cannot resume: {exc}", "start a new run")
    config, refusal = _changed(checkpoint.config, changes)
    if refusal is None:
        refusal = epochs_left_refusal(folder.name, checkpoint.epoch, config.epochs, "epochs" in changes)
    if refusal is None:
        refusal = _check_device(config)
    data = None
    if refusal is None:
        data, refusal = _load(config, handler, None, cancel=cancel)
    if refusal is None and data is not None:
        refusal = _corpus_change_refusal(folder, data, allow_corpus_change) or _vocab_refusal(data, checkpoint.vocab)
    if refusal is None:
        refusal = _check_prefixes(config, data)
    if refusal is not None or data is None:
        return refusal or Refusal("corpus", "the corpus could not be loaded")
    trainer = Trainer.from_checkpoint(
        folder, checkpoint, config, on_event=handler, data=data, allow_corpus_change=allow_corpus_change
    )
    samples = [row for row in _read(folder.read_samples) if _epoch(row) <= checkpoint.epoch]
    return PreparedRun(
        trainer=trainer,
        config=config,
        data=data,
        run=folder,
        resumed=True,
        start_epoch=checkpoint.epoch,
        history=[dict(row) for row in checkpoint.history],
        samples=samples,
    )


def epochs_left_refusal(name: str, done: int, total: int, epochs_given: bool) -> Refusal | None:
    """A resume that would train nothing is refused (it would only rewrite the run's files):
    the one place this rule lives."""
    if done < total:
        return None
    if epochs_given:
        return Refusal(
            "epochs", f"{total} is not more than the {done} epochs {name} has trained", "ask for more epochs"
        )
    return Refusal("epochs", f"{name} has finished its {done} epochs", f"ask for more than {done} epochs to train on")


# ----------------------------------------------------------------------------- the checks
def shape_refusal(changes: dict[str, Any]) -> Refusal | None:
    """A refusal when ``changes`` touch a field that defines the model's weights or vocabulary."""
    shaped = [name for name in changes if name in MODEL_SHAPE_FIELDS]
    if not shaped:
        return None
    return Refusal(
        shaped[0], f"{', '.join(shaped)} would change the model or its vocabulary", "start a new run instead"
    )


def _changed(config: RunConfig, changes: dict[str, Any]) -> tuple[RunConfig, Refusal | None]:
    refusal = shape_refusal(changes)
    if refusal is not None:
        return config, refusal
    try:
        return config.replace(**absolute_paths(dict(changes))), None
    except ConfigError as exc:
        return config, Refusal(exc.field, exc.message)


def _check_device(config: RunConfig) -> Refusal | None:
    from .device import DeviceError, resolve_device  # (imports torch: see _device_and_corpus)

    try:
        resolve_device(config.device)
    except DeviceError as exc:
        return Refusal("device", exc.message, exc.hint)
    return None


def _device_and_corpus(
    config: RunConfig, handler: EventHandler, data: CorpusData | None, cancel: Callable[[], bool] | None
) -> tuple[CorpusData | None, Refusal | None]:
    """The device check and the corpus, side by side: checking the device imports torch
    (~1.3 s on 2 cores), which the load needs only for its last step, so a big corpus is read
    and encoded meanwhile (from the command line, the first batch comes that much sooner). A
    device refusal wins over the corpus's, as when the device was checked first; a cancelled
    load returns at once."""
    if data is not None:
        return data, _check_device(config)
    checked: list[Refusal | None] = []
    failed: list[BaseException] = []

    def check() -> None:
        try:
            checked.append(_check_device(config))
            from . import engine  # noqa: F401  (the trainer's modules too, ~0.25 s more off the load's path)
        except BaseException as exc:  # (raised again on the caller's thread)
            failed.append(exc)

    thread = threading.Thread(target=check, name="lstm-tui-device-check", daemon=True)
    thread.start()
    data, refusal = _load(config, handler, None, cancel=cancel)
    if refusal is not None and refusal.cancelled:
        return None, refusal
    thread.join()
    if failed:
        raise failed[0]
    if checked[0] is not None:
        return None, checked[0]
    return data, refusal


def _load(
    config: RunConfig, handler: EventHandler, data: CorpusData | None, cancel: Callable[[], bool] | None = None
) -> tuple[CorpusData | None, Refusal | None]:
    """The corpus (loaded now unless given), or a refusal naming the corpus."""
    if data is not None:
        return data, None
    throttle = Throttle(DOWNLOAD_INTERVAL_S, start=0.0)

    def progress(done: int, total: int | None) -> None:
        if throttle.due(force=done == total):
            handler(DownloadProgress(done_bytes=int(done), total_bytes=total))

    def on_load(stage: str, done: int, total: int | None) -> None:
        if throttle.due(force=done == total):
            handler(LoadProgress(stage=stage, done=int(done), total=total))

    try:
        data = corpus_for(
            config, progress=progress, on_load=on_load, cancel=cancel, on_status=lambda text: handler(Status(text))
        )
    except LoadCancelled as exc:
        return None, Refusal("corpus", exc.reason, exc.hint, cancelled=True)
    except CorpusError as exc:
        return None, Refusal("corpus", exc.reason, exc.hint)
    for warning in data.warnings:
        handler(Status(warning))
    return data, None


def _corpus_change_refusal(folder: RunDir, data: CorpusData, allowed: bool) -> Refusal | None:
    """A refusal when the corpus is not the text the run recorded (its summary's SHA-1)."""
    reason = None if allowed else folder.corpus_change(data.sha1, data.nbytes)
    return Refusal("corpus", reason, CORPUS_CHANGE_HINT, code=CORPUS_CHANGED) if reason else None


def _vocab_refusal(data: CorpusData, vocab: Vocab) -> Refusal | None:
    try:
        check_vocab(data, vocab)
    except CorpusError as exc:
        return Refusal("corpus", exc.reason, exc.hint)
    return None


def _check_prefixes(config: RunConfig, data: CorpusData | None) -> Refusal | None:
    """Prefixes the vocabulary cannot read would fail at the first sample: refused up front
    (a bidirectional model's too: it writes samples, with a warning)."""
    if data is None:
        return None
    from .generate import GenerationError, prefix_tokens

    for prefix in config.prefix:
        try:
            prefix_tokens(data.vocab, prefix)
        except GenerationError as exc:
            return Refusal("prefix", f"{prefix!r}: {exc.explain()}")
    return None


def _read(reader: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    try:
        return list(reader())
    except RunError:
        return []


def _epoch(row: dict[str, Any]) -> int:
    value = row.get("epoch")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
