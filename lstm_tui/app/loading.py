"""Loading a saved run to talk to it (ctrl+o), mixed into :class:`~lstm_tui.app.main.LstmTuiApp`.

The checkpoint is read in a thread worker (group "load"), which posts :class:`RunLoaded` or
:class:`LoadFailed`; the app then shows the run's config in the form and keeps the model for
the generate box. Choosing "resume" in the dialog continues the run instead (see
:mod:`.training`).
"""

from __future__ import annotations

from pathlib import Path

from textual import work

from lstm_tui.core.presets import BIDIRECTIONAL_NOTE

from .messages import LoadFailed, RunLoaded
from .screens import LoadRunScreen
from .session import LoadedRun
from .state import AppState
from .widgets.status_bar import bits_unit


class LoadingMixin:
    """ctrl+o: pick a run, load its checkpoint off the UI thread, show it."""

    def action_load(self) -> None:
        if self.run_active:
            self.notify("Stop the run (F7) before loading another.", severity="warning")
            return
        if self.state is AppState.LOADING:
            self.notify("A saved run is loading already.", severity="warning")
            return
        screen = LoadRunScreen(self.runs_dir)
        self.push_screen(screen, lambda path: self._load_chosen(path, screen.mode))

    def _load_chosen(self, path: str | None, mode: str = "load") -> None:
        if not path:
            return
        if mode == "resume":
            self.resume_run(path)
            return
        self._set_state(AppState.LOADING, message=f"loading {Path(path).name}…")
        self.log_view.info(f"loading {path}…")
        self._load_run(path)

    @work(thread=True, exclusive=True, group="load", exit_on_error=False)
    def _load_run(self, path: str) -> None:
        try:
            from lstm_tui.core.checkpoint import load_model
            from lstm_tui.core.runs import CHECKPOINT_FILE, RunDir

            target = Path(path).expanduser()
            if target.is_dir() or not target.suffix:
                run = RunDir.open(path, self.runs_dir)
                target = run.path / CHECKPOINT_FILE
                if not target.is_file():
                    raise FileNotFoundError(f"{run.path} has no checkpoint yet")
            model, vocab, config, checkpoint = load_model(target)
            loaded = LoadedRun(model, vocab, config, str(target.parent))
            self.post_message(RunLoaded(loaded, _history(target, checkpoint)))
        except BaseException as exc:  # noqa: BLE001 - shown, never raised
            self.post_message(LoadFailed(path, str(exc) or type(exc).__name__))

    def on_run_loaded(self, message: RunLoaded) -> None:
        loaded: LoadedRun = message.loaded
        self.session.load(loaded)
        config = loaded.config
        self.form.set_config(config)
        self._update_bidi_note()
        last = message.metrics[-1] if message.metrics else {}
        epochs = config.epochs
        self._set_state(
            AppState.LOADED,
            message=Path(loaded.path).name,
            device="cpu",
            perplexity=last.get("perplexity"),
            val_perplexity=last.get("val_perplexity"),
            tokens_per_s=last.get("tokens_per_s"),
            elapsed_s=last.get("elapsed_s"),
            eta_s=None,
            epoch=message.epoch,
            epochs=epochs,
            vocab_size=len(loaded.vocab),
            test_perplexity=None,
            bits_unit=bits_unit(config.token),
        )
        self.chart.reset(epochs)
        self.chart.add_records(message.metrics)  # the curve as it was drawn while the run trained
        self.status_bar.set_progress(min(message.epoch, epochs), epochs)
        self.log_view.good(
            f"loaded {loaded.path} ({config.impl} {config.cell}, {config.layers}x{config.hidden}); ctrl+g to generate"
        )
        if config.bidirectional:
            self.log_view.warn(BIDIRECTIONAL_NOTE)

    def on_load_failed(self, message: LoadFailed) -> None:
        self._set_state(AppState.IDLE, message="")
        self.log_view.error(f"✗ cannot load {message.path}: {message.reason}")
        self.notify(message.reason, title="Cannot load the run", severity="error", markup=False)


def _history(checkpoint_path: Path, checkpoint) -> tuple[int, list[dict]]:
    """``(epochs trained, per-epoch metrics)`` of a loaded checkpoint: the run folder's
    metrics.jsonl up to the checkpoint when it sits in one, else the checkpoint's own history."""
    from lstm_tui.core.runs import RunDir, RunError

    epoch = int(checkpoint.epoch or 0)
    try:
        metrics = RunDir(checkpoint_path.parent).read_metrics()
    except (RunError, OSError):
        metrics = []
    metrics = [m for m in metrics if isinstance(m.get("epoch"), int) and m["epoch"] <= epoch]
    return epoch, metrics or [dict(m) for m in (checkpoint.history or [])]
