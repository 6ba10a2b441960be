"""``lstm-tui serve``'s server and its app processes: none outlives it, none dies without a checkpoint.

textual-serve starts one app process per browser page (``sh -c COMMAND``; the command here
begins with ``exec``, so the app is the server's child itself, and a signal reaches it). What
this module adds to textual-serve 1.x:

- SIGINT, SIGTERM and SIGHUP end the server. On the way out (aiohttp's ``on_shutdown``, after
  it stopped listening) every app process gets SIGTERM -- for the app that is a hangup: it stops
  its run at the next batch, writes the checkpoint and exits (see
  :mod:`lstm_tui.app.lifecycle`) -- and is waited for up to :data:`APP_STOP_S`; one still
  there then is killed. The pages' websocket handlers are then cancelled, so the server does
  not wait out aiohttp's 60 s shutdown timeout for pages left open. A second signal during
  that wait is ignored (the apps are saving).
- A closed page (textual-serve sends its app "quit" when the websocket closes) is a hangup for
  that app: the app's lifecycle watchdog handles it, not this module.
- The page is given the address the browser used (textual-serve writes the listening address
  into it, which a browser cannot use for 0.0.0.0 or through a tunnel to another port).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import time
from collections.abc import Sequence
from pathlib import Path

APP_STOP_S = 12.0  # each app's time to stop its run and write its checkpoint (it ends itself within 10 s)
POLL_S = 0.1


def serve(command: Sequence[str], *, host: str, port: int, title: str) -> None:
    """Serve the app ``command`` (argv) on ``host:port`` until SIGINT/SIGTERM/SIGHUP."""
    from textual_serve.server import Server

    class LstmTuiServer(Server):
        def __init__(self) -> None:
            super().__init__("exec " + shlex.join(command), host=host, port=port, title=title)
            self.app_argv = list(command)
            self._pages: set[asyncio.Task] = set()
            self._exiting = False

        async def handle_index(self, request):  # type: ignore[override]
            self.public_url = f"{request.scheme}://{request.host}"
            return await super().handle_index(request)

        async def handle_websocket(self, request):  # type: ignore[override]
            task = asyncio.current_task()
            if task is not None:
                self._pages.add(task)
            try:
                return await super().handle_websocket(request)
            finally:
                self._pages.discard(task)

        async def on_startup(self, app) -> None:  # type: ignore[override]
            await super().on_startup(app)
            try:
                asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.request_exit)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

        def request_exit(self) -> None:
            if self._exiting:  # a second signal while the apps save their runs
                return
            self._exiting = True
            super().request_exit()

        async def on_shutdown(self, app) -> None:  # type: ignore[override]
            await end_apps(app_processes(os.getpid(), self.app_argv))
            for task in list(self._pages):
                task.cancel()

        def serve(self) -> None:  # type: ignore[override]
            try:
                super().serve()
            finally:  # whatever ended the server: no app process is left behind
                end_apps_now(app_processes(os.getpid(), self.app_argv))

    # textual-serve asks for the current event loop, which Python 3.12+ warns about (3.14 fails)
    # when there is none yet: give it one.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        LstmTuiServer().serve()
    finally:
        asyncio.set_event_loop(None)
        if not loop.is_closed():
            loop.close()


# ---------------------------------------------------------------------- the app processes
def app_processes(parent: int, argv: Sequence[str] | None = None) -> list[int]:
    """Live descendants of ``parent`` (read from /proc); with ``argv``, only the children that
    run it (the served apps) and their descendants."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, state) in _processes().items():
        if state != "Z":
            children.setdefault(ppid, []).append(pid)
    found, todo = [], list(children.get(parent, []))
    if argv is not None:
        todo = [pid for pid in todo if _cmdline(pid) == list(argv)]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(found)


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    state = _processes_one(pid)
    return state is not None and state != "Z"


async def end_apps(pids: list[int], timeout: float = APP_STOP_S) -> None:
    """SIGTERM each app (it saves its run and exits), wait up to ``timeout``, kill what is left."""
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        await asyncio.sleep(POLL_S)
    _signal_all([pid for pid in pids if alive(pid)], signal.SIGKILL)


def end_apps_now(pids: list[int], timeout: float = APP_STOP_S) -> None:
    """:func:`end_apps` without an event loop (the server has already stopped)."""
    if not pids:
        return
    _signal_all(pids, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(POLL_S)
    _signal_all([pid for pid in pids if alive(pid)], signal.SIGKILL)


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state letter) of every process (from /proc/PID/stat)."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                table[int(entry)] = stat
    return table


def _processes_one(pid: int) -> str | None:
    stat = _stat(pid)
    return stat[1] if stat is not None else None


def _stat(pid: int) -> tuple[int, str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": state ppid ...
    return int(fields[1]), fields[0]


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]
