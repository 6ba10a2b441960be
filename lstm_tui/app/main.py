"""LstmTuiApp: set up a run, start it, watch it learn and talk to the model, from the keyboard.

State: :attr:`LstmTuiApp.state` (:class:`~.state.AppState`, a reactive with one watcher) and
:attr:`LstmTuiApp.session` (:class:`~.session.AppSession`: the run, its trainer, the model).
Threads: training runs in a thread worker (group "train", :mod:`.training`; the run is prepared
by :mod:`.worker`) that calls ``Trainer.run()``; generation in another (group "generate",
:mod:`.generating`); loading a saved run in a third (group "load", :mod:`.loading`). Workers
never touch widgets: they post the messages in :mod:`lstm_tui.app.messages` (one class per
engine event, drawn by :mod:`.engine_view`), handled on the app's thread. torch is imported
only inside workers, so the first screen comes up fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.events import Resize
from textual.geometry import Size
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Static

from lstm_tui.core.config import ConfigError, RunConfig
from lstm_tui.core.presets import BIDIRECTIONAL_NOTE, PRESETS

from .bindings import MAIN_BINDINGS
from .detaching import DetachMixin  # F9: hand the run to a background trainer; --on-hangup detach
from .engine_view import EngineViewMixin  # engine events -> chart, log, status line
from .following import FollowingMixin  # follow runs other processes train; control them
from .generating import GeneratingMixin  # the generate box's worker
from .keymap import KeymapMixin  # the settings file's keymap
from .keys import action_commands, remapped
from .knobs import KnobsMixin  # ctrl+k: live knobs of the run
from .lenses import LensesMixin  # F4 the probability lens, g the gradient-norm series
from .loading import LoadingMixin  # ctrl+o: load a saved run
from .messages import DevicesFound
from .screens import ConfirmQuit, HelpScreen
from .screens.runs import RunsScreen, open_runs_screen
from .session import AppSession
from .signals import SignalsMixin  # SIGTERM/SIGHUP/SIGINT: stop, save, quit
from .state import AppState
from .sweep_following import SweepFollowingMixin  # w in F2, watch --sweep: follow a sweep live
from .sweeping import SweepingMixin  # sweeps in separate processes (the book, the exercise cards)
from .training import TrainingMixin  # the train worker, save, resume
from .widgets import ConfigForm, GenerateBox, KeyFooter, PerplexityChart, PredictionLog, StatusBar
from .widgets.config_form import field_help

MIN_WIDTH, MIN_HEIGHT = 80, 24
WELCOME = "Choose a preset or edit the fields on the left; F5 starts a run, F1 lists every key."


class LstmTuiApp(
    KeymapMixin,
    KnobsMixin,
    SweepingMixin,
    SweepFollowingMixin,
    FollowingMixin,
    DetachMixin,
    TrainingMixin,
    EngineViewMixin,
    SignalsMixin,
    LoadingMixin,
    GeneratingMixin,
    LensesMixin,
    App[int],
):
    """The lstm-tui app. Its state is :attr:`state` (one watcher keeps the form, the status line
    and the keys in step); what it talks to is :attr:`session` (:class:`~.session.AppSession`)."""

    #: What the app does; setting it updates the form, the status line and the footer (watch_state).
    state: reactive[AppState] = reactive(AppState.IDLE, always_update=True, init=False)

    TITLE = "lstm-tui"
    CSS_PATH = "app.tcss"
    ENABLE_COMMAND_PALETTE = True

    BINDINGS = MAIN_BINDINGS  # (app/bindings.py)

    def __init__(
        self,
        config: RunConfig | None = None,
        *,
        autostart: bool = False,
        runs_dir: str | os.PathLike | None = None,
        detect_devices: bool = True,
        follow: Iterable[str | os.PathLike] = (),
        on_hangup: str = "stop",
    ) -> None:
        super().__init__()
        self.initial_config = config if config is not None else PRESETS["scratch"].config
        self.autostart = autostart
        self.runs_dir = Path(runs_dir).expanduser() if runs_dir is not None else None
        self.detect_devices = detect_devices
        self.session = AppSession()
        self._stop_requested = False
        self._quit_after_stop = False
        self.initial_follow = [Path(path) for path in follow]
        self.on_hangup = on_hangup
        self.followed = {}

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
        yield KeyFooter(compact=True)

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
        self._install_signal_handlers()
        self._load_keymap()
        self.log_view.info(WELCOME)
        self.status_bar.update_status(device=self.initial_config.device)
        self._update_bidi_note()
        self._check_size()
        if self.detect_devices:
            self._find_devices()
        if self.initial_follow:
            self.call_after_refresh(self.follow_runs, self.initial_follow)
        if self.autostart:
            self.call_after_refresh(self.action_start)
        else:
            self.call_after_refresh(self._focus_first_field)

    def on_unmount(self) -> None:
        self._remove_signal_handlers()
        self._end_follow_worker()

    def _focus_first_field(self) -> None:
        try:
            self.query_one("#field-preset").focus()
        except Exception:  # noqa: BLE001
            pass

    def on_resize(self, event: Resize) -> None:
        self._check_size(event.size)  # (self.size may still hold the size before this resize)
        self.refresh_bindings()  # the footer shows the keys the notice switched off (check_action)

    def _check_size(self, size: Size | None = None) -> None:
        width, height = size or self.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.screen.set_class(small, "-too-small")
        self.screen.set_class(width >= 110, "-wide")
        self.screen.set_class(height >= 34, "-tall")
        self.screen.set_class(height < 34, "-short")
        if small:
            self.query_one("#too-small", Static).update(
                Text(
                    f"The terminal is {width}x{height}.\n\nlstm-tui needs at least {MIN_WIDTH}x{MIN_HEIGHT}:\n"
                    "please enlarge the window (or zoom out).\n\nctrl+q quits."
                )
            )

    # ------------------------------------------------------------------ state
    @property
    def run_active(self) -> bool:
        """A run is going (being prepared, training, paused or stopping)."""
        return self.state.trains

    @property
    def run_path(self) -> str | None:
        return self.session.run_path

    @property
    def run_config(self) -> RunConfig | None:
        return self.session.run_config

    def _set_state(self, state: AppState, **status: Any) -> None:
        """Show ``status`` (status line fields), then enter ``state``."""
        if status:
            self.status_bar.update_status(**status)
        self.state = state

    def watch_state(self, state: AppState) -> None:
        """The one place a state change reaches the UI: status line, form lock and the keys."""
        if not self.is_mounted:
            return
        self.status_bar.update_status(state=state.value)
        self.form.disabled = state.busy
        self.refresh_bindings()

    # ------------------------------------------------------------------ what screens ask (SessionHost)
    def book_shared_fields(self, names: tuple[str, ...]) -> dict[str, Any]:
        """The form's values of ``names`` (the book's runs share them), else the start config's."""
        values = dict(self.form.values)
        return {name: values[name] if name in values else getattr(self.initial_config, name) for name in names}

    def show_status_message(self, text: str) -> None:
        """A line on the status bar while no run goes here (the book says what it trains)."""
        if not self.run_active:
            self.status_bar.update_status(message=text)

    def _update_bidi_note(self) -> None:
        """The banner follows the form; the generate box follows the model it would use."""
        bidi = bool(self.form.values.get("bidirectional"))
        self.query_one("#bidi-note").set_class(bidi, "-shown")
        self._update_generate_note()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """The command palette (ctrl+p) lists every main-screen action by its name, after
        Textual's own; each runs as its key would. Opened from a dialog (runs, gates, help) it
        lists Textual's own only: the main screen's actions are off there (see check_action)."""
        yield from super().get_system_commands(screen)
        if isinstance(screen, ModalScreen):  # (a dialog's own keys)
            yield from action_commands(remapped(screen.BINDINGS, self._keymap), screen.run_action)
            return
        yield from action_commands(remapped(self.BINDINGS, self._keymap), self.run_action)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While a dialog or the help is open, its own keys win over the main screen's bindings
        # (F1 still closes the help); Textual's own actions such as focus_next (Tab) still work.
        if isinstance(self.screen, ModalScreen) and action in MAIN_ACTIONS and action != "help":
            return False
        if action in MAIN_ACTIONS and action != "quit" and self.screen.has_class("-too-small"):
            return False  # the notice hides the screen: nothing may start or change unseen
        if (
            action == "stop"
            and not self.run_active
            and not self.sweep_active
            and not (self.following and not isinstance(self.focused, Input))
        ):
            return False  # so ctrl+x still cuts text in an input when no run goes
        if action == "pause" and self.state not in (AppState.TRAINING, AppState.PAUSED) and not self.following:
            return None  # shown dimmed
        if action == "unfollow" and not self.following:
            return None
        if action == "detach" and self.state not in (AppState.TRAINING, AppState.PAUSED):
            return None
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
        if not self.is_mounted_main():
            return
        if event.name in ("bidirectional", "preset"):
            self._update_bidi_note()
        if event.name == "device" and not self.run_active:
            self.status_bar.update_status(device=str(self.form.values.get("device", "")))

    @on(ConfigForm.PresetChosen)
    def _preset_chosen(self, event: ConfigForm.PresetChosen) -> None:
        if not self.is_mounted_main():
            return
        preset = PRESETS[event.name]
        self.log_view.info(f"preset {preset.name}: {preset.summary}")
        self._update_bidi_note()
        if preset.note:
            self.log_view.warn(preset.note)

    def is_mounted_main(self) -> bool:
        """Whether the main screen's widgets are there (not while it is built or torn down: a
        message from the form can arrive then)."""
        try:
            self.log_view  # noqa: B018 - the query is the test
        except NoMatches:
            return False
        return True

    def on_descendant_focus(self, event) -> None:
        try:
            form = self.form
        except NoMatches:  # (focus moving while the main screen is built or torn down)
            return
        name = form.field_of(event.widget)
        if name is None or event.widget not in form.walk_children():
            return
        self.query_one("#field-help", Static).update(Text(field_help(name)))

    # ------------------------------------------------------------------ actions
    def action_start(self) -> None:
        if self.run_active:
            self.notify("A run is already going: F7 stops it.", severity="warning")
            return
        if self.state is AppState.LOADING:
            self.notify("A saved run is loading: start once it is shown.", severity="warning")
            return
        if self.sweep_active:
            self.notify(self.sweep_busy_text(), title="Not started", severity="warning")
            return
        try:
            config = self.form.build_config()  # (prepare_run makes its paths absolute)
        except ConfigError as exc:
            self._refuse(exc.field, exc.message)
            return
        self._begin_run(config)

    def _refuse(self, field: str, message: str) -> None:
        from .widgets.config_form import label_for

        self.notify(
            f"Cannot start: {label_for(field)} — {message}", title="Fix the form", severity="error", markup=False
        )
        editor = self.form.editors.get(field)
        if editor is not None:
            editor.focus()

    def action_focus_generate(self) -> None:
        self.query_one("#gen-prefix", Input).focus()

    def action_focus_form(self) -> None:
        if self.form.disabled:
            self.notify("The fields are locked while a run trains.", severity="warning")
            return
        self.query_one("#field-preset").focus()

    def action_clear_log(self) -> None:
        self.log_view.clear()

    def action_gates(self) -> None:
        from .screens.gates import GateScreen

        self.push_screen(GateScreen(self.session.model_choice(self.run_active), run_path=self.session.run_path))

    def action_runs(self) -> None:
        open_runs_screen(self, lambda: RunsScreen(self))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
        elif not isinstance(self.screen, ModalScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        if self.run_active or self.sweep_active:
            self.push_screen(ConfirmQuit(stopping=self.state is AppState.STOPPING), self._quit_answer)
        else:
            self.exit(0)

    def _quit_answer(self, confirmed: bool | None) -> None:
        if not confirmed:
            return
        self._quit_after_stop = True
        if self.sweep_active:
            self.quit_after_sweep()  # each run checkpoints when it stops; the app quits once they have
        if self.run_active:
            self._request_stop()
        self.set_timer(30, lambda: self.exit(0))  # never hang on a stuck run


#: The main screen's own actions: switched off while a dialog is open (see check_action).
MAIN_ACTIONS = frozenset(binding.action for binding in LstmTuiApp.BINDINGS)
