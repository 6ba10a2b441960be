"""The app's process life: it never outlives its terminal or its browser, never dies without a checkpoint.

A hangup is any of: SIGHUP, SIGTERM or SIGINT to the process; the terminal gone (POLLHUP or
POLLERR on stdin/stdout: a closed pty, an SSH session that dropped, a closed pipe from
``lstm-tui serve``); or, under ``lstm-tui serve``, the page closed (textual-serve's "quit"
message when its websocket closes, which Textual would otherwise turn into an exit without a
checkpoint). On the first one the app is asked to stop its run at the next batch, save a
checkpoint and exit (its own ``stop_on_signal``); the process then ends within
:data:`DEADLINE_S` seconds whatever else happens.

Why a watchdog thread: when the terminal hangs up, Textual's output thread dies on EIO, its
queue fills and the app's thread blocks for ever putting the next frame in it (and its input
thread spins on the dead terminal); signal callbacks on the event loop then never run, and the
thread pool that runs the workers (non-daemon threads) keeps the process alive after the app is
gone. So a daemon thread here, which writes nothing anywhere:

- reads the signals (the handlers only write a byte to a pipe) and polls the terminal;
- when the terminal is gone, points stdout/stderr at /dev/null and stdin at a pipe that never
  speaks (no write can block or fail, the input thread stops spinning) and empties the dead
  output thread's queue, so the app's thread runs again;
- forwards the hangup to the app's thread; if the app has not taken it within
  :data:`FALLBACK_S` (or a run still trains), stops the trainers itself (``Trainer.stop`` and
  the book's ``stop_book`` are thread-safe) and marks the app to quit when they are done;
- once no trainer runs (the closing checkpoint is written), waits :data:`GRACE_S` for the
  process to end by itself, then ends it with ``os._exit``; at :data:`DEADLINE_S` after the
  hangup it ends it in any case.

Before :func:`install` (Python importing Textual) the default actions apply: SIGHUP and
SIGTERM end the process at once, SIGINT raises KeyboardInterrupt (exit 130); there is no run
yet. Textual's web driver and the app put their own handlers on the event loop later; the
watchdog takes the signals back (on the app's thread) whenever it sees that.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from typing import Any

HANGUP_SIGNALS = (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)
PAGE_CLOSED, TERMINAL_CLOSED = 0, 255  # wake-pipe bytes besides the signal numbers
DEADLINE_S = 7.0  # the process ends at most this long after the first hangup (10 s with a loaded machine)
FALLBACK_S = 1.0  # the app did not take the hangup (or still trains): stop the trainers from here
GRACE_S = 2.5  # after the trainers stopped: time for the app to exit by itself (its exit note, the terminal)
QUICK_S = 0.3  # the same once the app has exited and its terminal is gone (nothing left to show)
IDLE_TICK_S, BUSY_TICK_S = 0.25, 0.05
TRAINING_GROUPS = ("train", "sweep")  # the app's workers that write a checkpoint when they stop

# What the watchdog uses of the app (kept in one place, so a rename is a one-line change here).
APP_STOP = "stop_on_signal"  # app.stop_on_signal(signum): stop the run with a checkpoint, then exit
APP_FLAGS = ("_stop_requested", "_quit_after_stop")  # stop the trainer once made; exit when it stops
APP_HANGUP, APP_DETACH = "on_hangup", "detach_on_hangup"  # "stop" | "detach"; detach the stopped run (any thread)
RUNS_SCREEN = "runs"  # the installed runs screen (its book trainer: stop_book())

LOG_ENV = "LSTM_TUI_LIFECYCLE_LOG"  # a file the watchdog appends what it does to (for tests, debugging)

_installed: Lifecycle | None = None


def install(app: Any) -> Lifecycle:
    """Watch ``app``'s process for hangups (main thread, before or after ``app.run()`` starts)."""
    global _installed
    if _installed is None:
        _installed = Lifecycle(app)
        _installed.start()
    return _installed


class Lifecycle:
    """The signal handlers, the terminal poll and the watchdog thread of one app process."""

    def __init__(self, app: Any, deadline_s: float = DEADLINE_S) -> None:
        self.app = app
        self.deadline_s = deadline_s
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._handler = self._on_signal  # one object, so getsignal() can tell it is ours
        self._claim_pending = False
        self.signals: tuple[int, ...] = ()  # the hangup signals this watchdog handles
        self._terminal_gone = False
        self._quiet_w: int | None = None
        self.hangup_at: float | None = None  # monotonic time of the first hangup
        self.reason = ""
        self._forced_at: float | None = None
        self._unsent: list[int] = []  # hangups not yet handed to the app (its loop not running yet)
        self._idle_since: float | None = None
        self._deadline = float("inf")
        self._detach_wanted = False  # on_hangup "detach" and a run trained at the hangup

    # ------------------------------------------------------------------ set-up
    def start(self) -> None:
        if threading.current_thread() is threading.main_thread():
            # A signal the process was told to ignore (``nohup``: SIGHUP) stays ignored.
            self.signals = tuple(sig for sig in HANGUP_SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN)
            for sig in self.signals:
                signal.signal(sig, self._handler)
        threading.Thread(target=self._watch, name="lstm-tui-lifecycle", daemon=True).start()
        self.note("installed")

    def _on_signal(self, signum: int, frame: Any) -> None:
        """The signal handler: one byte to the watchdog, nothing that could block or raise."""
        self.wake(signum)

    def wake(self, code: int) -> None:
        """Tell the watchdog: a signal number, or :data:`PAGE_CLOSED` (any thread, never blocks)."""
        try:
            os.write(self._wake_w, bytes([code]))
        except OSError:  # the pipe is full: the watchdog has plenty to read already
            pass

    def note(self, text: str) -> None:
        """One line to the file named by $LSTM_TUI_LIFECYCLE_LOG (never to the terminal)."""
        path = os.environ.get(LOG_ENV)
        if path:
            try:
                with open(path, "a", encoding="utf-8") as out:
                    out.write(f"{time.time():.3f} {os.getpid()} {text}\n")
            except OSError:
                pass

    # ------------------------------------------------------------------ the watchdog thread
    def _watch(self) -> None:
        poller = select.poll()
        poller.register(self._wake_r, select.POLLIN)
        terminal = {fd for fd in (0, 1) if _is_open(fd)}
        for fd in terminal:
            poller.register(fd, 0)  # only POLLHUP / POLLERR / POLLNVAL: reads nothing
        while True:
            tick = IDLE_TICK_S if self.hangup_at is None else BUSY_TICK_S
            for fd, mask in poller.poll(tick * 1000):
                if fd == self._wake_r:
                    for code in os.read(self._wake_r, 64):
                        self._trigger(code)
                elif fd in terminal and mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL):
                    poller.unregister(fd)
                    terminal.discard(fd)
                    self._lose_terminal()
            self._tick()

    def _tick(self) -> None:
        self._keep_signals()
        self._watch_web_driver()
        if self._terminal_gone:
            _drain_dead_writer(self.app)
        if self.hangup_at is not None:
            self._progress(time.monotonic())

    def _trigger(self, code: int) -> None:
        name = {PAGE_CLOSED: "the page closed", TERMINAL_CLOSED: "the terminal closed"}.get(code) or _signal_name(code)
        now = time.monotonic()
        if self.hangup_at is None:
            self.hangup_at, self.reason = now, name
            self.note(f"hangup: {name}; {describe(self.app)}")
            self._deadline = now + self.deadline_s
            self._detach_wanted = getattr(self.app, APP_HANGUP, "stop") == "detach" and trainers_busy(self.app)
            self._forward(signal.SIGHUP if code in (PAGE_CLOSED, TERMINAL_CLOSED, signal.SIGHUP) else code)
            if code == PAGE_CLOSED:  # nobody reads the app's output any more
                self._lose_terminal()
        elif code in (signal.SIGTERM, signal.SIGINT):  # asked again: quit without waiting
            self._forward(code)
            self._deadline = min(self._deadline, now + 1.0)

    def _lose_terminal(self) -> None:
        if self._terminal_gone:
            return
        self._terminal_gone = True
        self.note("the terminal is gone")
        self._silence_terminal()
        if self.hangup_at is None:
            self.wake(TERMINAL_CLOSED)

    def _silence_terminal(self) -> None:
        """No write to the dead terminal can fail or block; no read returns at once."""
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            quiet_r, self._quiet_w = os.pipe()  # the write end stays open: reads wait, never EOF
            os.dup2(quiet_r, 0)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.close(quiet_r)
            os.close(devnull)
        except OSError:
            pass

    def _progress(self, now: float) -> None:
        busy = trainers_busy(self.app)
        if self._unsent and self._loop() is not None:
            self._forward(self._unsent.pop(0))
        if (
            busy
            and now - self.hangup_at >= FALLBACK_S
            and (self._forced_at is None or now - self._forced_at >= FALLBACK_S)
        ):
            # Again every second while a trainer runs: a run that was starting may have cleared
            # the app's stop flag, or made its trainer only now.
            if self._forced_at is None:
                self.note("stopping the trainers from the watchdog")
            self._forced_at = now
            stop_trainers(self.app)
        if busy:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = now
            self.note("no trainer runs")
            if self._detach_wanted:
                self._detach_wanted = False
                self._detach()
        if now >= self._deadline or self._waited_enough(now):
            code = getattr(self.app, "return_code", None)
            error = getattr(self.app, "_exception", None)
            self.note(
                f"os._exit({code}) {'at the deadline' if now >= self._deadline else 'after the grace'}"
                + (f"; the app failed: {error!r}" if error is not None else "")
            )
            os._exit(int(code) if code is not None else (0 if not busy else 128 + signal.SIGHUP))

    def _detach(self) -> None:
        """on_hangup "detach": a background trainer takes the run on (the app's thread may be stuck)."""
        detach = getattr(self.app, APP_DETACH, None)
        try:
            if detach is not None:
                detach()
                self.note(f"detached: {getattr(getattr(self.app, 'detached', None), 'pid', '?')}")
        except Exception as exc:  # noqa: BLE001 - the run is stopped with its checkpoint either way
            self.note(f"detach failed: {exc!r}")

    def _waited_enough(self, now: float) -> bool:
        """No trainer runs: the app had its time to exit by itself (less when nobody sees it)."""
        if self._idle_since is None:
            return False
        waited = now - self._idle_since
        gone = self._terminal_gone and getattr(self.app, "return_code", None) is not None
        return waited >= GRACE_S or (gone and waited >= QUICK_S)

    # ------------------------------------------------------------------ the app's thread
    def _loop(self):
        loop = getattr(self.app, "_loop", None)
        return loop if loop is not None and not loop.is_closed() else None

    def _call_on_app(self, callback, *args) -> bool:
        loop = self._loop()
        if loop is None:
            return False
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop closed meanwhile
            return False
        return True

    def _forward(self, signum: int) -> None:
        if not self._call_on_app(self._stop_app, int(signum)):
            self._unsent.append(int(signum))

    def _stop_app(self, signum: int) -> None:
        self.note(f"the app takes {_signal_name(signum)}")
        stop = getattr(self.app, APP_STOP, None)
        try:
            if stop is not None:
                stop(signum)
            else:
                self.app.exit(0)
        except Exception:  # noqa: BLE001 - the watchdog stops the trainers itself
            pass

    def _keep_signals(self) -> None:
        """Take the hangup signals back when the loop (Textual's web driver, the app) took them."""
        if self._claim_pending or all(signal.getsignal(sig) is self._handler for sig in self.signals):
            return
        self._claim_pending = self._call_on_app(self._claim_signals)

    def _claim_signals(self) -> None:
        self._claim_pending = False
        loop = self._loop()
        for sig in self.signals:
            try:
                if loop is not None:
                    loop.remove_signal_handler(sig)
                signal.signal(sig, self._handler)
            except (RuntimeError, ValueError, OSError):
                pass

    def _watch_web_driver(self) -> None:
        """Under textual-serve, the "quit" sent when the page's websocket closes is a hangup."""
        driver = getattr(self.app, "_driver", None)
        if driver is None or not getattr(driver, "is_web", False) or getattr(driver, "_lstm_tui_watched", False):
            return
        original = driver.on_meta

        def on_meta(packet_type: str, payload: dict) -> None:
            if packet_type == "quit":
                self.wake(PAGE_CLOSED)
            else:
                original(packet_type, payload)

        driver.on_meta = on_meta
        driver._lstm_tui_watched = True


# ---------------------------------------------------------------------- trainers (any thread)
def trainers_busy(app: Any) -> bool:
    """Whether a run of the app may still be training (its closing checkpoint not yet written)."""
    try:
        workers = [w for w in list(app.workers) if w.group in TRAINING_GROUPS and not w.is_finished]
    except Exception:  # noqa: BLE001 - the set changed while read: ask again next tick
        return True
    for worker in workers:
        if worker.group != "train":
            return True
        trainer = _main_trainer(app)
        # The trainer's run() has returned (stopped, checkpoint written) though the app's thread
        # has not yet marked its worker finished: not training any more.
        if trainer is None or getattr(trainer, "result", None) is None:
            return True
    return False


def _main_trainer(app: Any) -> Any:
    """The main run's Trainer (None until it is made): the app session owns it."""
    session = getattr(app, "session", None)  # (None in an app not yet set up)
    return session.trainer if session is not None else None


def stop_trainers(app: Any) -> None:
    """Stop every run of the app at its next batch (thread-safe calls only) and quit when done."""
    for flag in APP_FLAGS:
        try:
            setattr(app, flag, True)
        except Exception:  # noqa: BLE001
            pass
    trainer = _main_trainer(app)
    if trainer is not None:
        trainer.stop()
    stop_sweep = getattr(app, "stop_sweep", None)  # app/sweeping.py: the sweep's train processes
    if stop_sweep is not None:
        stop_sweep()
    try:
        screens = getattr(app, "_installed_screens", {})
        book = screens.get(RUNS_SCREEN)
        if book is not None and hasattr(book, "stop_book"):
            book.stop_book()
    except Exception:  # noqa: BLE001
        pass


def describe(app: Any) -> str:
    """The app's workers that are running and its screen, in words (for the log)."""
    try:
        workers = sorted({w.group for w in list(app.workers) if not w.is_finished})
        screen = type(app.screen).__name__ if getattr(app, "_screen_stack", None) else "none"
    except Exception:  # noqa: BLE001 - changed while read
        return "workers: ?"
    return f"workers: {','.join(workers) or '-'}; screen: {screen}"


def _drain_dead_writer(app: Any) -> None:
    """Empty the queue of Textual's output thread once it died (EIO on the dead terminal)."""
    writer = getattr(getattr(app, "_driver", None), "_writer_thread", None)
    queue = getattr(writer, "_queue", None)
    if writer is None or queue is None or writer.is_alive():
        return
    try:
        while True:
            queue.get_nowait()
    except Exception:  # noqa: BLE001 - queue.Empty
        pass


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(code).name
    except ValueError:
        return f"signal {code}"
