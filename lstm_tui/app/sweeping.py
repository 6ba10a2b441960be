"""Sweeps from the app, mixed into :class:`~lstm_tui.app.main.LstmTuiApp`: the one launcher that
"Run the book" (F2 ``b``) and the exercise cards (F2 ``e``) use.

:meth:`SweepingMixin.start_sweep` records a :class:`~lstm_tui.core.sweep.SweepSpec` and runs it
with a :class:`~lstm_tui.core.sweep.SweepRunner` (one ``python -m lstm_tui train`` process per
run) in a thread worker (group "sweep"). The worker never touches widgets: it posts
:class:`SweepNoted` for each of the runner's notes (started, resumed, ended, skipped, stopping)
and :class:`SweepDone` with the outcome. On the app's thread, each run folder is followed live on
the main screen as it appears (:meth:`~.following.FollowingMixin.follow_runs`: one chart line per
run), and the starter's ``on_note`` / ``on_done`` callbacks hear what happened.

Stopping (:meth:`SweepingMixin.stop_sweep`, thread-safe): F7 on the main screen, the starter's
own stop key, quitting (asks first), a signal (:meth:`stop_on_signal`) or a hangup (the watchdog
of :mod:`.lifecycle` calls ``stop_sweep``). Every run then stops at its next batch with a
checkpoint; asked again after :data:`ESCALATE_S`, the runs end at once. No train process
outlives the app: the app's unmount waits (:data:`UNMOUNT_WAIT_S` at most) until the runner's
processes have all ended.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from textual import work
from textual.message import Message
from textual.timer import Timer

from lstm_tui.core.config import ConfigError
from lstm_tui.core.runs import RunError, default_runs_dir
from lstm_tui.core.sweep import SweepNote, SweepOutcome, SweepRecord, SweepRunner, SweepSpec

#: A second stop within this many seconds of the first is the same stop (the hangup watchdog
#: asks every second); after it, a stop ends the runs at once (their last checkpoints stay).
ESCALATE_S = 5.0  # (a loaded machine: a train process may need seconds to checkpoint; DEADLINE_S is 7)
#: The longest the app's unmount waits for the sweep's processes to end.
UNMOUNT_WAIT_S = 20.0
#: Seconds between looks for the run folders the runner has found (to follow them).
FOLLOW_EVERY_S = 0.5

NoteHandler = Callable[[SweepNote], None]
#: ``on_done(record, outcome, problem)``: record/outcome None when the sweep could not start.
DoneHandler = Callable[[SweepRecord | None, SweepOutcome | None, str | None], None]


class SweepNoted(Message):
    """The runner of sweep ``name`` did something (``note.kind``: started, resumed, ended...)."""

    def __init__(self, name: str, note: SweepNote) -> None:
        super().__init__()
        self.name, self.note = name, note


class SweepDone(Message):
    """Sweep ``name`` ended: its record and outcome, or the problem that kept it from running."""

    def __init__(
        self, name: str, record: SweepRecord | None, outcome: SweepOutcome | None, problem: str | None
    ) -> None:
        super().__init__()
        self.name, self.record, self.outcome, self.problem = name, record, outcome, problem


@dataclass
class RunProgress:
    """Where one run of the running sweep is, as the following machinery last saw it."""

    index: int
    name: str
    folder: Path | None
    status: str
    epoch: int = 0
    epochs: int = 0
    perplexity: float | None = None
    val_perplexity: float | None = None


@dataclass
class Sweep:
    """The sweep the app runs: shared between the app's thread and the worker (``lock``)."""

    name: str
    spec: SweepSpec
    parallel: int
    purpose: str
    on_note: NoteHandler | None = None
    on_done: DoneHandler | None = None
    record: SweepRecord | None = None
    runner: SweepRunner | None = None
    stops: int = 0
    first_stop: float | None = None
    current: int | None = None  # the index of the run started last
    ended: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stop(self) -> bool:
        """Ask the runner to stop (any thread); False when this call changed nothing."""
        now = time.monotonic()
        with self.lock:
            if self.stops and (self.first_stop is not None and now - self.first_stop < ESCALATE_S or self.stops >= 2):
                return False
            self.stops += 1
            self.first_stop = self.first_stop or now
            runner = self.runner
        if runner is not None:
            runner.stop()
        return True

    def attach(self, record: SweepRecord, runner: SweepRunner) -> None:
        with self.lock:
            self.record, self.runner = record, runner
            stops = self.stops
        for _ in range(stops):  # a stop asked while the sweep was being recorded
            runner.stop()

    def folders(self, root: Path) -> list[Path]:
        record = self.record
        return [root / run.folder for run in record.runs if run.folder] if record is not None else []


class SweepingMixin:
    """Run a sweep in separate processes, follow its runs, stop it cleanly."""

    sweep: Sweep | None = None
    _sweep_timer: Timer | None = None
    _sweep_followed: tuple[Path, ...] = ()
    _quit_after_sweep: bool = False

    # ------------------------------------------------------------------ state
    @property
    def sweep_active(self) -> bool:
        return self.sweep is not None

    @property
    def sweep_root(self) -> Path:
        runs_dir = getattr(self, "runs_dir", None)
        return Path(runs_dir).expanduser() if runs_dir is not None else default_runs_dir()

    def sweep_busy_text(self) -> str:
        """Why something that trains is refused while the sweep runs."""
        sweep = self.sweep
        what = "The book's experiments are" if sweep is not None and sweep.purpose == "book" else "A sweep is"
        return f"{what} training in separate processes: F7 stops them (each saves a checkpoint)."

    def sweep_progress(self) -> list[RunProgress]:
        """Each run of the running sweep: its folder once made, and the followed numbers."""
        sweep = self.sweep
        if sweep is None or sweep.record is None:
            return []
        followed = getattr(self, "followed", {})
        out = []
        for run in sweep.record.runs:
            folder = (self.sweep_root / run.folder).absolute() if run.folder else None
            seen = followed.get(folder) if folder is not None else None
            progress = RunProgress(run.index, run.name, folder, "waiting" if folder is None else "starting")
            progress.epochs = run.config.epochs
            if seen is not None:
                progress.status, progress.epoch = seen.status, seen.epoch
                progress.perplexity, progress.val_perplexity = seen.perplexity, seen.val_perplexity
                progress.epochs = seen.epochs or progress.epochs
            out.append(progress)
        return out

    @property
    def sweep_name(self) -> str | None:
        """The name of the sweep that runs (None: none)."""
        return self.sweep.name if self.sweep is not None else None

    @property
    def sweep_current(self) -> int | None:
        """The index of the run the sweep started last (None before the first)."""
        return self.sweep.current if self.sweep is not None else None

    # ------------------------------------------------------------------ start, stop
    def start_sweep(
        self,
        spec: SweepSpec,
        *,
        parallel: int = 1,
        name: str | None = None,
        purpose: str = "sweep",
        on_note: NoteHandler | None = None,
        on_done: DoneHandler | None = None,
    ) -> str | None:
        """Record and run ``spec`` (``parallel`` processes at a time); the sweep's name, or None
        when refused (a run or another sweep trains; told with a notification)."""
        if self.run_active or self.sweep is not None:  # type: ignore[attr-defined]
            text = self.sweep_busy_text() if self.sweep is not None else "A run is training here: F7 stops it first."
            self.notify(text, title="Not started", severity="warning")  # type: ignore[attr-defined]
            return None
        from lstm_tui.core.sweep import default_sweep_name

        try:
            sweep_name = name or default_sweep_name(spec, self.sweep_root)
        except RunError as exc:
            self.notify(str(exc), title="Not started", severity="error", markup=False)  # type: ignore[attr-defined]
            return None
        self.sweep = Sweep(sweep_name, spec, max(1, parallel), purpose, on_note, on_done)
        self._sweep_followed = ()
        self._sweep_timer = self.set_interval(FOLLOW_EVERY_S, self._follow_sweep)  # type: ignore[attr-defined]
        self.log_view.add(f"▶ sweep {sweep_name}: {spec.title or 'runs'} ({len(spec)} runs)", "bold")  # type: ignore[attr-defined]
        self._run_sweep(self.sweep, self.sweep_root)
        self.refresh_bindings()  # type: ignore[attr-defined]
        return sweep_name

    def stop_sweep(self) -> bool:
        """Stop the sweep: every run at its next batch with a checkpoint (any thread); asked
        again after :data:`ESCALATE_S`, at once. False when no sweep runs."""
        sweep = self.sweep
        if sweep is None:
            return False
        sweep.stop()
        return True

    # ------------------------------------------------------------------ the worker
    @work(thread=True, group="sweep", exit_on_error=False)
    def _run_sweep(self, sweep: Sweep, root: Path) -> None:
        from lstm_tui.core.sweep import new_record, place

        record: SweepRecord | None = None
        outcome: SweepOutcome | None = None
        problem: str | None = None
        try:
            placed = place(sweep.spec, parallel=sweep.parallel)  # (asks torch for the cores: off the UI thread)
            record = new_record(root, sweep.name, placed, sweep.parallel)
            runner = SweepRunner(
                record, root, parallel=sweep.parallel, on_note=lambda n: self._post(SweepNoted(sweep.name, n))
            )
            sweep.attach(record, runner)
            outcome = runner.run()
        except ConfigError as exc:
            problem = f"{exc.field}: {exc.message}"
        except (RunError, OSError) as exc:
            problem = str(exc)
        except BaseException as exc:  # noqa: BLE001 - nothing may take the app down
            problem = f"{type(exc).__name__}: {exc}"
        finally:
            sweep.ended.set()
        self._post(SweepDone(sweep.name, record, outcome, problem))

    def _post(self, message: Message) -> None:
        try:
            self.post_message(message)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - the app is closing
            pass

    # ------------------------------------------------------------------ the app's thread
    def on_sweep_noted(self, message: SweepNoted) -> None:
        sweep = self.sweep
        if sweep is None or sweep.name != message.name:
            return
        note = message.note
        if note.kind in ("started", "resumed") and note.run is not None:
            sweep.current = note.run.index
        self.log_view.info(f"sweep {sweep.name}: {note.text}")  # type: ignore[attr-defined]
        self._follow_sweep()
        if sweep.on_note is not None:
            sweep.on_note(note)

    def on_sweep_done(self, message: SweepDone) -> None:
        sweep = self.sweep
        if sweep is None or sweep.name != message.name:
            return
        self._follow_sweep()
        self.sweep = None
        if self._sweep_timer is not None:
            self._sweep_timer.stop()
            self._sweep_timer = None
        if message.problem:
            self.log_view.warn(f"sweep {message.name}: {message.problem}")  # type: ignore[attr-defined]
        else:
            stopped = message.outcome is not None and message.outcome.stopped
            self.log_view.info(f"■ sweep {message.name} {'stopped' if stopped else 'done'}")  # type: ignore[attr-defined]
        self.refresh_bindings()  # type: ignore[attr-defined]
        if self._quit_after_sweep:  # the app closes: nothing more to show
            if not self.run_active:  # type: ignore[attr-defined]
                self.exit(0)  # type: ignore[attr-defined]
            return
        if sweep.on_done is not None:
            sweep.on_done(message.record, message.outcome, message.problem)

    def _follow_sweep(self) -> None:
        """Follow the sweep's run folders on the main screen, each one as soon as it exists."""
        sweep = self.sweep
        if sweep is None or self.run_active:  # type: ignore[attr-defined]
            return
        folders = tuple(path.absolute() for path in sweep.folders(self.sweep_root))
        if folders and folders != self._sweep_followed:
            first, self._sweep_followed = not self._sweep_followed, folders
            if first:
                self.follow_runs(list(folders))  # type: ignore[attr-defined]
            else:  # the runs followed so far keep their lines (follow_more adds the new ones)
                self.follow_more(list(folders))  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ keys, signals, the end
    def action_stop(self) -> None:
        """F7: with no run of its own going, the app's F7 stops its sweep."""
        if self.sweep is not None and not self.run_active:  # type: ignore[attr-defined]
            self.stop_sweep()
            self.log_view.info(f"stopping sweep {self.sweep.name}: each run saves a checkpoint…")  # type: ignore[attr-defined]
            self.notify("The sweep's runs stop at their next batch, each with a checkpoint.", title="Stopping")  # type: ignore[attr-defined]
            return
        super().action_stop()  # type: ignore[misc]

    def stop_on_signal(self, signum: int) -> None:
        """SIGTERM / SIGHUP / SIGINT while the sweep runs: stop its runs (checkpoints), then quit."""
        if self.sweep is not None and not self.run_active and getattr(self, "_signalled", None) is None:  # type: ignore[attr-defined]
            self._signalled = signum
            self._quit_after_sweep = True
            self.stop_sweep()
            name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else str(signum)
            self.log_view.warn(f"{name}: stopping the sweep's runs (each saves a checkpoint), then quitting")  # type: ignore[attr-defined]
            return
        super().stop_on_signal(signum)  # type: ignore[misc]

    def quit_after_sweep(self) -> None:
        """Quit once the sweep has stopped (asked by the quit dialog)."""
        self._quit_after_sweep = True
        self.stop_sweep()

    def on_unmount(self) -> None:
        """The app is closing: the sweep's processes end before it does."""
        sweep = self.sweep
        if sweep is None:
            return
        sweep.stop()
        deadline = time.monotonic() + UNMOUNT_WAIT_S
        while not sweep.ended.wait(0.1) and time.monotonic() < deadline:
            sweep.stop()  # (escalates once ESCALATE_S has passed)


__all__ = [
    "ESCALATE_S",
    "RunProgress",
    "Sweep",
    "SweepDone",
    "SweepNoted",
    "SweepingMixin",
    "UNMOUNT_WAIT_S",
]
