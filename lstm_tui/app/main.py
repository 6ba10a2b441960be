"""LstmTuiApp: set up a run, start it, watch it learn and talk to the model, from the keyboard.

Threads: training runs in a thread worker (group "train") that calls ``Trainer.run()``;
generation in another (group "generate"). Workers never touch widgets: they post the small
messages in :mod:`lstm_tui.app.messages`, which the app handles on its own thread. torch is
imported only inside workers, so the first screen comes up fast.
"""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static

from lstm_tui.core import events as ev
from lstm_tui.core.config import ConfigError, RunConfig
from lstm_tui.core.presets import BIDIRECTIONAL_NOTE, PRESETS

from .messages import DevicesFound, EngineEvent, GenerateChunk, GenerateDone, LoadFailed, RunLoaded
from .screens import ConfirmQuit, HelpScreen, LoadRunScreen
from .widgets import ConfigForm, GenerateBox, PerplexityChart, PredictionLog, StatusBar
from .widgets.generate_box import GenerateRequest

MIN_WIDTH, MIN_HEIGHT = 80, 24
PROGRESS_INTERVAL_S = 0.1  # at most ~10 BatchProgress messages a second
RUNNING = ("loading", "training", "paused", "stopping")
WELCOME = "Choose a preset or edit the fields on the left; F5 starts a run, F1 lists every key."


class LstmTuiApp(App[int]):
    """The lstm-tui app."""

    TITLE = "lstm-tui"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = [
        Binding("ctrl+r", "start", "Start", id="start.alt", priority=True, show=False),
        Binding("f5", "start", "Start", id="start", priority=True,
                tooltip="Start a run with the settings in the form"),
        Binding("ctrl+t", "pause", "Pause", id="pause.alt", priority=True, show=False),
        Binding("f6", "pause", "Pause", id="pause", priority=True,
                tooltip="Pause or resume the run (at the next batch)"),
        Binding("ctrl+x", "stop", "Stop", id="stop.alt", priority=True, show=False),
        Binding("f7", "stop", "Stop", id="stop", priority=True,
                tooltip="Stop the run; it saves a checkpoint (ctrl+x cuts text when no run goes)"),
        Binding("ctrl+s", "save", "Save", id="save", priority=True, tooltip="Where the run is saved"),
        Binding("ctrl+o", "load", "Load", id="load", priority=True, tooltip="Load a saved run to talk to it"),
        Binding("ctrl+g", "focus_generate", "Generate", id="focus_generate", priority=True, show=False,
                tooltip="Go to the generate box"),
        Binding("ctrl+f", "focus_form", "Form", id="focus_form", priority=True, show=False,
                tooltip="Go to the run setup form"),
        Binding("ctrl+l", "clear_log", "Clear log", id="clear_log", priority=True, show=False,
                tooltip="Clear the prediction log"),
        Binding("f1", "help", "Help", id="help", priority=True, tooltip="Every key and what each panel does"),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True,
                tooltip="Quit (asks first while a run trains)"),
    ]

    def __init__(self, config: RunConfig | None = None, *, autostart: bool = False,
                 runs_dir: str | os.PathLike | None = None, detect_devices: bool = True) -> None:
        super().__init__()
        self.initial_config = config if config is not None else PRESETS["scratch"].config
        self.autostart = autostart
        self.runs_dir = Path(runs_dir).expanduser() if runs_dir is not None else None
        self.detect_devices = detect_devices
        self.state = "idle"
        self.run_config: RunConfig | None = None
        self.run_path: str | None = None
        self._trainer: Any = None
        self._run_id = 0
        self._stop_requested = False
        self._quit_after_stop = False
        self._start_epoch = 0
        self._last_ppl: float | None = None
        self._last_val: float | None = None
        self._loaded: tuple[Any, Any, RunConfig, str] | None = None
        self._gen_request = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        config = self.initial_config
        with Horizontal(id="main"):
            with Vertical(id="left"):
                form = ConfigForm(config, id="form")
                form.border_title = "Run setup"
                yield form
                yield Static("", id="field-help")
            with Vertical(id="right"):
                yield Static(BIDIRECTIONAL_NOTE, id="bidi-note")
                chart = PerplexityChart(id="chart")
                chart.border_title = "Perplexity (log scale)"
                chart.border_subtitle = "x: epoch"
                yield chart
                log = PredictionLog(id="log")
                log.border_title = "Predictions"
                yield log
                gen = GenerateBox(prefix=config.prefix[0] if config.prefix else "time traveller", id="generate")
                gen.border_title = "Generate (ctrl+g, Enter)"
                yield gen
        yield Static("", id="too-small")
        yield StatusBar(id="status")
        yield Footer()

    @property
    def form(self) -> ConfigForm:
        return self.query_one(ConfigForm)

    @property
    def chart(self) -> PerplexityChart:
        return self.query_one(PerplexityChart)

    @property
    def log_view(self) -> PredictionLog:
        return self.query_one(PredictionLog)

    @property
    def generate_box(self) -> GenerateBox:
        return self.query_one(GenerateBox)

    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    def on_mount(self) -> None:
        self.log_view.info(WELCOME)
        self.status_bar.update_status(device=self.initial_config.device)
        self._update_bidi_note()
        self._check_size()
        if self.detect_devices:
            self._find_devices()
        if self.autostart:
            self.call_after_refresh(self.action_start)
        else:
            self.call_after_refresh(self._focus_first_field)

    def _focus_first_field(self) -> None:
        try:
            self.query_one("#field-preset").focus()
        except Exception:  # noqa: BLE001
            pass

    def on_resize(self, event: Resize) -> None:
        self._check_size()

    def _check_size(self) -> None:
        width, height = self.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.screen.set_class(small, "-too-small")
        self.screen.set_class(width >= 110, "-wide")
        self.screen.set_class(height >= 34, "-tall")
        self.screen.set_class(height < 34, "-short")
        if small:
            self.query_one("#too-small", Static).update(Text(
                f"The terminal is {width}x{height}.\n\nlstm-tui needs at least {MIN_WIDTH}x{MIN_HEIGHT}:\n"
                "please enlarge the window (or zoom out).\n\nctrl+q quits."))

    # ------------------------------------------------------------------ helpers
    @property
    def run_active(self) -> bool:
        return self.state in RUNNING

    def _set_state(self, state: str, **changes: Any) -> None:
        self.state = state
        self.status_bar.update_status(state=state, **changes)
        self.form.disabled = self.run_active
        self.refresh_bindings()

    def _update_bidi_note(self) -> None:
        bidi = bool(self.form.values.get("bidirectional"))
        self.query_one("#bidi-note").set_class(bidi, "-shown")
        box = self.generate_box
        if bidi and not box.busy:
            box.show_note(BIDIRECTIONAL_NOTE)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While a dialog or the help is open, its own keys win (F1 still closes the help).
        if isinstance(self.screen, ModalScreen) and action not in ("help",):
            return False
        if action == "stop" and not self.run_active:
            return False  # so ctrl+x still cuts text in an input when no run goes
        if action == "pause" and self.state not in ("training", "paused"):
            return None  # shown dimmed
        return True

    # ------------------------------------------------------------------ devices (torch import)
    @work(thread=True, group="devices", exit_on_error=False)
    def _find_devices(self) -> None:
        try:
            from lstm_tui.core.device import available_devices

            self.post_message(DevicesFound(available_devices()))
        except Exception:  # noqa: BLE001 - the form keeps auto/cpu
            pass

    def on_devices_found(self, message: DevicesFound) -> None:
        self.form.set_devices(message.devices)

    # ------------------------------------------------------------------ form events
    @on(ConfigForm.Changed)
    def _form_changed(self, event: ConfigForm.Changed) -> None:
        if event.name in ("bidirectional", "preset"):
            self._update_bidi_note()
        if event.name == "device" and not self.run_active:
            self.status_bar.update_status(device=str(self.form.values.get("device", "")))

    @on(ConfigForm.PresetChosen)
    def _preset_chosen(self, event: ConfigForm.PresetChosen) -> None:
        preset = PRESETS[event.name]
        self.log_view.info(f"preset {preset.name}: {preset.summary}")
        self._update_bidi_note()
        if preset.note:
            self.log_view.warn(preset.note)

    def on_descendant_focus(self, event) -> None:
        form = self.form
        name = form.field_of(event.widget)
        if name is None or event.widget not in form.walk_children():
            return
        from lstm_tui.core.config import allowed_text, field_info
        from .widgets.config_form import label_for

        if name == "preset":
            text = "preset: one of the book's experiments; choosing one fills the fields"
        else:
            text = f"{label_for(name)}: {field_info(name)['help']} ({allowed_text(name)})"
        self.query_one("#field-help", Static).update(Text(text))

    # ------------------------------------------------------------------ actions
    def action_start(self) -> None:
        if self.run_active:
            self.notify("A run is already going: F7 stops it.", severity="warning")
            return
        try:
            config = self.form.build_config()
        except ConfigError as exc:
            self._refuse(exc.field, exc.message)
            return
        self._begin_run(config)

    def _refuse(self, field: str, message: str) -> None:
        from .widgets.config_form import label_for

        self.notify(f"Cannot start: {label_for(field)} — {message}", title="Fix the form", severity="error",
                    markup=False)
        editor = self.form.editors.get(field)
        if editor is not None:
            editor.focus()

    def _begin_run(self, config: RunConfig) -> None:
        self._run_id += 1
        self._trainer = None
        self._loaded = None
        self._stop_requested = False
        self._start_epoch = 0
        self._last_ppl = self._last_val = None
        self.run_config = config
        self.run_path = None
        self.chart.reset(config.epochs)
        self.status_bar.update_status(epoch=0, epochs=config.epochs, perplexity=None, val_perplexity=None,
                                      tokens_per_s=None, elapsed_s=None, eta_s=None, device=config.device,
                                      message="preparing")
        self.status_bar.set_progress(0, None)
        self._set_state("loading")
        self.log_view.add(f"▶ start: {config.preset} · {config.impl} {config.cell} · {config.layers}x{config.hidden}"
                          f"{' bidirectional' if config.bidirectional else ''} · {config.optimizer} lr {config.lr:g}"
                          f" · {config.epochs} epochs", "bold")
        if config.bidirectional:
            self.log_view.warn(BIDIRECTIONAL_NOTE)
        self._train(config, self._run_id)

    def action_pause(self) -> None:
        trainer = self._trainer
        if self.state == "training" and trainer is not None:
            trainer.pause()
            self._set_state("paused", message="F6 resumes")
        elif self.state == "paused" and trainer is not None:
            trainer.resume()
            self._set_state("training", message="")
        else:
            self.notify("Nothing to pause: no run is training.", severity="warning")

    def action_stop(self) -> None:
        if not self.run_active:
            self.notify("No run is going.", severity="warning")
            return
        self._request_stop()

    def _request_stop(self) -> None:
        self._stop_requested = True
        trainer = self._trainer
        if trainer is not None:
            trainer.stop()
        if self.state != "stopping":
            self._set_state("stopping", message="stopping at the next batch…")
            self.log_view.info("stopping (a checkpoint is saved)…")

    def action_save(self) -> None:
        trainer = self._trainer
        if trainer is None or self.run_path is None:
            if self._loaded is not None:
                self.notify(f"This run is saved in {self._loaded[3]}.", markup=False)
            else:
                self.notify("Nothing to save yet: start a run (F5).", severity="warning")
            return
        request = getattr(trainer, "request_checkpoint", None) or getattr(trainer, "checkpoint_now", None)
        if self.run_active and callable(request):
            request()
            self.notify(f"A checkpoint will be written at the next batch to {self.run_path}.", markup=False)
        elif self.run_active:
            self.notify(f"The run saves itself to {self.run_path} every {self.run_config.checkpoint_every} epochs "
                        "and when it stops (F7).", markup=False)
        else:
            self.notify(f"The run is saved in {self.run_path}.", markup=False)

    def action_load(self) -> None:
        if self.run_active:
            self.notify("Stop the run (F7) before loading another.", severity="warning")
            return
        self.push_screen(LoadRunScreen(self.runs_dir), self._load_chosen)

    def _load_chosen(self, path: str | None) -> None:
        if not path:
            return
        self._set_state("loading", message=f"loading {Path(path).name}…")
        self.log_view.info(f"loading {path}…")
        self._load_run(path)

    def action_focus_generate(self) -> None:
        self.query_one("#gen-prefix", Input).focus()

    def action_focus_form(self) -> None:
        if self.form.disabled:
            self.notify("The fields are locked while a run trains.", severity="warning")
            return
        self.query_one("#field-preset").focus()

    def action_clear_log(self) -> None:
        self.log_view.clear()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
        elif not isinstance(self.screen, ModalScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        if self.run_active:
            self.push_screen(ConfirmQuit(), self._quit_answer)
        else:
            self.exit(0)

    def _quit_answer(self, confirmed: bool | None) -> None:
        if not confirmed:
            return
        self._quit_after_stop = True
        self._request_stop()
        self.set_timer(30, lambda: self.exit(0))  # never hang on a stuck run

    # ------------------------------------------------------------------ training worker
    @work(thread=True, exclusive=True, group="train", exit_on_error=False)
    def _train(self, config: RunConfig, run_id: int) -> None:
        last_progress = 0.0

        def on_event(event: Any) -> None:
            nonlocal last_progress
            if isinstance(event, (ev.Finished, ev.Failed)):
                return  # the result of run() is posted once, below
            if isinstance(event, (ev.BatchProgress, ev.DownloadProgress)):
                now = time.monotonic()
                if now - last_progress < PROGRESS_INTERVAL_S:
                    return
                last_progress = now
            self.post_message(EngineEvent(event, run_id))

        try:
            from lstm_tui.core.engine import Trainer
            from lstm_tui.core.runs import RunDir, RunError

            try:
                run_dir = RunDir.create(self.runs_dir, config).path
                self.post_message(EngineEvent(ev.Status(f"run folder: {run_dir}"), run_id))
            except RunError as exc:
                run_dir = None
                self.post_message(EngineEvent(ev.Status(f"not saving this run: {exc}"), run_id))
            trainer = Trainer(config, on_event=on_event, run_dir=run_dir)
            self.call_from_thread(self._trainer_ready, trainer, run_id, str(run_dir) if run_dir else None)
            if self._stop_requested:
                trainer.stop()
            result = trainer.run()
        except BaseException as exc:  # noqa: BLE001 - nothing may take the app down
            result = ev.Failed(reason=f"{type(exc).__name__}: {exc}",
                               hint="this is a bug in lstm-tui; the app is still usable")
        self.post_message(EngineEvent(result, run_id))

    def _trainer_ready(self, trainer: Any, run_id: int, run_path: str | None) -> None:
        if run_id == self._run_id:
            self._trainer = trainer
            self.run_path = run_path

    def on_engine_event(self, message: EngineEvent) -> None:
        if message.run_id != self._run_id:
            return
        event = message.event
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            handler(event)

    def _on_Status(self, event: ev.Status) -> None:
        self.log_view.info(event.message)
        self.status_bar.update_status(message=event.message[:60])

    def _on_DownloadProgress(self, event: ev.DownloadProgress) -> None:
        done = event.done_bytes / 1000
        total = f"/{event.total_bytes / 1000:.0f}" if event.total_bytes else ""
        self.status_bar.update_status(message=f"downloading corpus {done:.0f}{total} kB")
        self.status_bar.set_progress(event.done_bytes, event.total_bytes)

    def _on_Started(self, event: ev.Started) -> None:
        self._start_epoch = event.start_epoch
        self._set_state("training", message="", device=event.device, epochs=event.epochs, epoch=event.start_epoch)
        self.status_bar.set_progress(event.start_epoch, event.epochs)
        self.log_view.info(f"training on {event.device}: {event.parameters:,} parameters, vocabulary {event.vocab_size},"
                           f" {event.corpus_tokens:,} tokens, {event.batches_per_epoch} batches per epoch")

    def _eta(self, done_epochs: float, epochs: int, elapsed: float) -> float | None:
        run = done_epochs - self._start_epoch
        if run <= 0 or elapsed <= 0:
            return None
        return elapsed / run * max(epochs - done_epochs, 0)

    def _on_BatchProgress(self, event: ev.BatchProgress) -> None:
        if self.state not in ("training", "stopping"):
            if self.state != "paused":
                return
        epochs = self.status_bar.status.epochs or 1
        done = (event.epoch - 1) + event.batch / max(event.batches, 1)
        self.chart.add(done, event.perplexity)
        self.status_bar.update_status(epoch=event.epoch - 1, perplexity=event.perplexity,
                                      tokens_per_s=event.tokens_per_s, elapsed_s=event.elapsed_s,
                                      eta_s=self._eta(done, epochs, event.elapsed_s))
        self.status_bar.set_progress(done, epochs)

    def _on_EpochEnd(self, event: ev.EpochEnd) -> None:
        self._last_ppl, self._last_val = event.perplexity, event.val_perplexity
        self.chart.add(event.epoch, event.perplexity, event.val_perplexity)
        self.status_bar.update_status(epoch=event.epoch, epochs=event.epochs, perplexity=event.perplexity,
                                      val_perplexity=event.val_perplexity, tokens_per_s=event.tokens_per_s,
                                      elapsed_s=event.elapsed_s,
                                      eta_s=self._eta(event.epoch, event.epochs, event.elapsed_s))
        self.status_bar.set_progress(event.epoch, event.epochs)

    def _on_Sample(self, event: ev.Sample) -> None:
        self.log_view.sample(event.epoch, self._last_ppl, self._last_val, event.prefix, event.text)

    def _on_Checkpointed(self, event: ev.Checkpointed) -> None:
        self.log_view.info(f"checkpoint (epoch {event.epoch}): {event.path}")

    def _on_Finished(self, event: ev.Finished) -> None:
        state = "stopped" if event.stopped else "finished"
        self._set_state(state, message="", perplexity=event.perplexity, val_perplexity=event.val_perplexity,
                        tokens_per_s=event.tokens_per_s, elapsed_s=event.elapsed_s, eta_s=None, epoch=event.epoch)
        if not event.stopped:
            self.status_bar.set_progress(event.epoch, self.status_bar.status.epochs or event.epoch)
        text = (f"■ {state} at epoch {event.epoch}: perplexity {event.perplexity:.2f}"
                + (f", val {event.val_perplexity:.2f}" if event.val_perplexity is not None else "")
                + f", {event.tokens_per_s:,.0f} tokens/s on {event.device}")
        self.log_view.good(text)
        if self.run_path:
            self.log_view.info(f"saved in {self.run_path}")
        if self._quit_after_stop:
            self.exit(0)

    def _on_Failed(self, event: ev.Failed) -> None:
        reason = event.reason + (f" — {event.hint}" if event.hint else "")
        self._set_state("failed", message=event.reason[:80], eta_s=None)
        self.status_bar.set_progress(0, 1)
        self.log_view.error(f"✗ run failed: {event.reason}")
        if event.hint:
            self.log_view.warn(f"  fix: {event.hint}")
        self.notify(reason, title="Run failed", severity="error", timeout=8, markup=False)
        if self._quit_after_stop:
            self.exit(0)

    # ------------------------------------------------------------------ loading a run
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
            model, vocab, config, _ = load_model(target)
            self.post_message(RunLoaded(model, vocab, config, str(target.parent)))
        except BaseException as exc:  # noqa: BLE001 - shown, never raised
            self.post_message(LoadFailed(path, str(exc) or type(exc).__name__))

    def on_run_loaded(self, message: RunLoaded) -> None:
        self._run_id += 1
        self._trainer = None
        self._loaded = (message.model, message.vocab, message.config, message.path)
        self.run_config = message.config
        self.run_path = message.path
        self.form.set_config(message.config)
        self._update_bidi_note()
        self._set_state("loaded", message=Path(message.path).name, device="cpu", perplexity=None,
                        val_perplexity=None, tokens_per_s=None, elapsed_s=None, eta_s=None, epoch=0, epochs=0)
        self.log_view.good(f"loaded {message.path} ({message.config.impl} {message.config.cell}, "
                           f"{message.config.layers}x{message.config.hidden}); ctrl+g to generate")
        if message.config.bidirectional:
            self.log_view.warn(BIDIRECTIONAL_NOTE)

    def on_load_failed(self, message: LoadFailed) -> None:
        self._set_state("idle", message="")
        self.log_view.error(f"✗ cannot load {message.path}: {message.reason}")
        self.notify(message.reason, title="Cannot load the run", severity="error", markup=False)

    # ------------------------------------------------------------------ generation
    @on(GenerateBox.Submitted)
    def _generate_submitted(self, event: GenerateBox.Submitted) -> None:
        self.generate(event.request)

    def generate(self, request: GenerateRequest) -> None:
        box = self.generate_box
        source: Any
        if self._trainer is not None and self.run_config is not None:
            source, config = self._trainer, self.run_config
        elif self._loaded is not None:
            source, config = self._loaded, self._loaded[2]
        else:
            box.show_error("no model yet: start a run (F5) or load one (ctrl+o)")
            return
        if not config.can_generate:
            box.show_note(BIDIRECTIONAL_NOTE)
            return
        self._gen_request += 1
        box.begin(request.prefix)
        self._generate(source, request, self._gen_request)

    @work(thread=True, exclusive=True, group="generate", exit_on_error=False)
    def _generate(self, source: Any, request: GenerateRequest, request_id: int) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        try:
            from lstm_tui.core.generate import stream

            if isinstance(source, tuple):
                model, vocab = source[0], source[1]
            else:
                model, vocab = source.snapshot()
            pieces: list[str] = []
            last = time.monotonic()
            for piece in stream(model, vocab, request.prefix, request.length,
                                temperature=request.temperature, top_k=request.top_k):
                if worker.is_cancelled:
                    return
                pieces.append(piece)
                now = time.monotonic()
                if now - last > 0.05:
                    self.post_message(GenerateChunk(request_id, "".join(pieces)))
                    pieces, last = [], now
            if pieces:
                self.post_message(GenerateChunk(request_id, "".join(pieces)))
            self.post_message(GenerateDone(request_id))
        except Exception as exc:  # noqa: BLE001 - shown in place
            self.post_message(GenerateDone(request_id, str(exc) or type(exc).__name__))

    def on_generate_chunk(self, message: GenerateChunk) -> None:
        if message.request == self._gen_request:
            self.generate_box.append(message.text)

    def on_generate_done(self, message: GenerateDone) -> None:
        if message.request == self._gen_request:
            self.generate_box.done(message.error)
