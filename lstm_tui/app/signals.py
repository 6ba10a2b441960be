"""Signals, mixed into :class:`~lstm_tui.app.main.LstmTuiApp`: SIGTERM / SIGHUP / SIGINT stop the
run at the next batch, save a checkpoint and exit 0 (a second signal quits without waiting).

Textual installs no handler for these (only SIGTSTP/SIGCONT/SIGWINCH, and raw mode turns Ctrl+C
into a key), so without this SIGHUP from a dropped SSH session would kill the process
mid-batch. The handlers go on the event loop (``loop.add_signal_handler``), so they run on the
app's thread, never inside a handler frame.
"""

from __future__ import annotations

import asyncio
import signal
import threading

STOP_SIGNALS = ("SIGTERM", "SIGHUP", "SIGINT")


class SignalsMixin:
    """Stop on a signal, save, quit."""

    _signal_previous: dict = {}  # (replaced, never changed in place: install makes a new one)
    _signalled: int | None = None

    def _install_signal_handlers(self) -> None:
        """SIGTERM/SIGHUP/SIGINT stop the run with a checkpoint and quit (main thread only)."""
        self._signal_previous = {}
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for name in STOP_SIGNALS:
            sig = getattr(signal, name, None)
            if sig is None:
                continue
            try:
                previous = signal.getsignal(sig)
                loop.add_signal_handler(sig, self.stop_on_signal, int(sig))
            except (NotImplementedError, RuntimeError, ValueError, OSError):
                continue
            self._signal_previous[sig] = previous

    def _remove_signal_handlers(self) -> None:
        previous_handlers, self._signal_previous = self._signal_previous, {}
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for sig, previous in previous_handlers.items():
            try:
                loop.remove_signal_handler(sig)
                if previous is not None:
                    signal.signal(sig, previous)
            except (RuntimeError, ValueError, OSError, TypeError):
                pass

    def stop_on_signal(self, signum: int) -> None:
        """First signal: stop at the next batch, save, exit 0; a second one quits without waiting."""
        name = signal.Signals(signum).name if signum in signal.Signals._value2member_map_ else str(signum)
        if self._signalled is not None:
            self.exit_note = f"lstm-tui: {name} again: quit without waiting for the run to stop"
            self.exit(None, return_code=128 + signum)
            return
        self._signalled = signum
        if not self.run_active:
            self.exit(0)
            return
        self.log_view.warn(f"{name}: stopping after this batch, saving a checkpoint, then quitting")
        self._quit_after_stop = True
        self._request_stop()
