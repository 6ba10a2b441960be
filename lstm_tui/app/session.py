"""The app's session: which run the app talks to, and the model it generates from.

One :class:`AppSession` per app (``LstmTuiApp.session``). It owns the run id (a new run or a
loaded one takes the next; messages of an older run are dropped by it), the trainer, the run
folder, the run's config, the last perplexities and the *model source*: the training run
(:class:`TrainingRun`, a snapshot of its trainer) or a saved run loaded with ctrl+o
(:class:`LoadedRun`). The app's state (:class:`~.state.AppState`) is a Textual reactive on the
app; screens get the session (or a :class:`SessionHost`) and never reach into the app.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from lstm_tui.core.config import RunConfig


@dataclass(frozen=True)
class TrainingRun:
    """The current (or last) run: its trainer gives a copy of the model as it is now."""

    trainer: Any
    config: RunConfig

    def model_and_vocab(self) -> tuple[Any, Any]:
        """A snapshot (worker thread); ``RuntimeError`` before the trainer has a model."""
        return self.trainer.snapshot()


@dataclass(frozen=True)
class LoadedRun:
    """A saved run loaded to talk to it (ctrl+o)."""

    model: Any
    vocab: Any
    config: RunConfig
    path: str

    def model_and_vocab(self) -> tuple[Any, Any]:
        return self.model, self.vocab


ModelSource = TrainingRun | LoadedRun


@dataclass(frozen=True)
class ModelChoice:
    """The model the generate box and the gate inspector use, and how to name it."""

    source: ModelSource
    description: str

    @property
    def config(self) -> RunConfig:
        return self.source.config


class AppSession:
    """The run the app shows; touched on the app's thread only (workers post messages)."""

    def __init__(self) -> None:
        self.run_id = 0
        self.trainer: Any = None
        self.run_path: str | None = None
        self.run_config: RunConfig | None = None
        self.loaded: LoadedRun | None = None
        self.last_ppl: float | None = None
        self.last_val: float | None = None
        self.save_asked = False  # ctrl+s asked for a checkpoint that has not landed yet

    def is_current(self, run_id: int) -> bool:
        return run_id == self.run_id

    def begin_run(self, config: RunConfig) -> int:
        """A new (or resumed) run starts: the next run id; the trainer comes with :meth:`trainer_ready`."""
        self.run_id += 1
        self.trainer, self.run_path, self.run_config, self.loaded = None, None, config, None
        self.last_ppl = self.last_val = None
        self.save_asked = False
        return self.run_id

    def trainer_ready(self, run_id: int, trainer: Any, run_path: str | None, config: RunConfig | None = None) -> bool:
        """The worker made the trainer of run ``run_id`` (with ``config`` as prepared: paths
        absolute, a resume's changes applied); False (and ignored) for an older run."""
        if not self.is_current(run_id):
            return False
        self.trainer, self.run_path = trainer, run_path
        if config is not None:
            self.run_config = config
        return True

    def load(self, loaded: LoadedRun) -> None:
        """A saved run was loaded: the app talks to it now, not to the last run."""
        self.run_id += 1
        self.trainer, self.loaded = None, loaded
        self.run_config, self.run_path = loaded.config, loaded.path
        self.last_ppl = self.last_val = None

    def note_perplexity(self, perplexity: float | None, val_perplexity: float | None) -> None:
        self.last_ppl, self.last_val = perplexity, val_perplexity

    @property
    def trained_without_folder(self) -> bool:
        """The last run trained but had no run folder (it could not be made): nothing was saved."""
        return self.trainer is not None and self.run_path is None

    def model_choice(self, running: bool) -> ModelChoice | None:
        """The model to talk to: the current (or last) run's trainer, else a loaded run."""
        if self.trainer is not None and self.run_config is not None:
            what = "the training run (a snapshot)" if running else "the last run"
            return ModelChoice(TrainingRun(self.trainer, self.run_config), what)
        if self.loaded is not None:
            return ModelChoice(self.loaded, f"run {Path(self.loaded.path).name}")
        return None


class SessionHost(Protocol):
    """What the screens may ask of the app (``LstmTuiApp`` is one)."""

    session: AppSession
    runs_dir: Path | None

    @property
    def run_active(self) -> bool: ...

    def book_shared_fields(self, names: tuple[str, ...]) -> dict[str, Any]: ...

    def show_status_message(self, text: str) -> None: ...

    def resume_run(self, path: str, use_form_epochs: bool = False) -> None: ...

    @property
    def following(self) -> bool: ...

    def follow_runs(self, paths: list[str | Path]) -> None: ...

    def unfollow(self, say: bool = True) -> None: ...

    # sweeps (app/sweeping.py): the book and the exercise cards run through these
    @property
    def sweep_active(self) -> bool: ...

    @property
    def sweep_name(self) -> str | None: ...

    def start_sweep(self, spec: Any, **options: Any) -> str | None: ...

    def stop_sweep(self) -> bool: ...

    def sweep_progress(self) -> list[Any]: ...
    def follow_sweep(self, name: str) -> bool: ...
