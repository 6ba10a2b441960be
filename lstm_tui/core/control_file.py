"""Controlling a run that another process trains, through files in its run folder.

Works wherever both sides see the folder, a shared (network) file system included.

``control.json`` (written by front ends, always atomically, see :mod:`.atomic`) holds the last
:data:`KEEP` requests, oldest first::

    {"requests": [{"id": "3f2a...", "command": "pause", "sent_at": 1764745200.5,
                   "target": {"pid": 4242, "host": "gpu1"}, "by": {"pid": 977, "host": "laptop"}}]}

``command`` is one of :data:`COMMANDS` (``stop`` stops with a checkpoint, ``checkpoint`` saves
one now, ``set`` changes live knobs at the next batch: its request carries ``"values":
{"lr": 0.5}``, see :mod:`.knobs`); ``target`` is the trainer that held the run's lock when it was sent. :func:`send`
refuses (:class:`ControlRefused`) when no live trainer holds the lock.

``control.ack.json`` (written by the trainer only, atomically) holds the last :data:`KEEP`
acknowledgements::

    {"acks": [{"id": "3f2a...", "command": "pause", "outcome": "applied",
               "detail": "pausing at the next batch", "at": 1764745200.7, "by": {"pid": 4242, "host": "gpu1"}}]}

``outcome`` is ``applied``, ``ignored`` (a command this version does not know) or ``failed``.

On the trainer's side, :class:`ControlFilePoller` applies each new request once (by id) to
an object with ``pause()``, ``resume()``, ``stop()``, ``request_checkpoint()`` and
``set_knobs(**values)`` (a
:class:`~lstm_tui.core.engine.control.RunControl`). Requests whose ``target`` names another
process (left from an earlier session of the run) are skipped without an acknowledgement.
:meth:`ControlFilePoller.poll` costs one ``stat`` at most every ``interval`` seconds while the
file is unchanged; :meth:`ControlFilePoller.start_thread` polls on a daemon thread instead, so a
``resume`` reaches a trainer that is paused (blocked, at no batch boundary).

Two front ends sending at the same instant may overwrite each other's request; the sender
that gets no acknowledgement (:func:`wait_for_ack`) can send again. Over NFS, attribute caching
may delay a change by a few seconds.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from .atomic import atomic_write_text
from .knobs import parse_knobs
from .runs import RunError, lock_holder, run_status

__all__ = [
    "ACK_FILE",
    "COMMANDS",
    "CONTROL_FILE",
    "Ack",
    "ControlFilePoller",
    "ControlRefused",
    "Controllable",
    "Sent",
    "acknowledged",
    "send",
    "wait_for_ack",
]

CONTROL_FILE = "control.json"
ACK_FILE = "control.ack.json"
COMMANDS = ("pause", "resume", "stop", "checkpoint", "set")
#: Requests and acknowledgements kept in each file.
KEEP = 16
_DETAILS = {
    "pause": "pausing at the next batch",
    "resume": "resumed",
    "stop": "stopping at the next batch, with a checkpoint",
    "checkpoint": "saving a checkpoint at the next batch",
    "set": "setting at the next batch:",
}


def _this_process() -> dict[str, Any]:
    """This process, as the run lock names its holder."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


class ControlRefused(RunError):
    """A command cannot be sent: the folder is not a run, or no trainer is running it."""

    def __init__(self, reason: str, hint: str, status: str | None = None) -> None:
        super().__init__(f"{reason}; {hint}")
        self.reason, self.hint, self.status = reason, hint, status


class Controllable(Protocol):
    """What the poller drives (:class:`~lstm_tui.core.engine.control.RunControl` is one)."""

    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def stop(self) -> None: ...
    def request_checkpoint(self) -> None: ...
    def set_knobs(self, **changes: Any) -> dict[str, float]: ...


@dataclass(frozen=True)
class Sent:
    """A request written by :func:`send`."""

    run: Path
    id: str
    command: str
    sent_at: float
    target: dict[str, Any]


@dataclass(frozen=True)
class Ack:
    """The trainer's answer to one request."""

    id: str
    command: str
    outcome: str  # "applied", "ignored" or "failed"
    detail: str
    at: float
    by: dict[str, Any]

    @property
    def applied(self) -> bool:
        return self.outcome == "applied"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "command": self.command,
            "outcome": self.outcome,
            "detail": self.detail,
            "at": self.at,
            "by": self.by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ack:
        by, at = data.get("by"), data.get("at")
        return cls(
            str(data.get("id", "")),
            str(data.get("command", "")),
            str(data.get("outcome", "")),
            str(data.get("detail", "")),
            float(at) if isinstance(at, (int, float)) else 0.0,
            by if isinstance(by, dict) else {},
        )


def _read_list(path: Path, key: str) -> list[dict[str, Any]]:
    """The dict entries under ``key`` in a JSON file; [] when missing or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    entries = data.get(key) if isinstance(data, dict) else None
    return [entry for entry in entries if isinstance(entry, dict)] if isinstance(entries, list) else []


def _write_list(path: Path, key: str, entries: list[dict[str, Any]]) -> None:
    atomic_write_text(path, json.dumps({key: entries[-KEEP:]}, indent=1) + "\n")


# ---------------------------------------------------------------------- the front end's side
def _refusal(folder: Path, command: str) -> ControlRefused:
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = None
    status = str(run_status(folder, summary)) if isinstance(summary, dict) else "unknown"
    resume = f"lstm-tui train --resume {folder}"
    hints = {
        "finished": f"it ended; to train it on, run `{resume} --epochs N`",
        "failed": f"see its summary.json for why; `{resume}` continues from its last checkpoint",
        "unknown": "no trainer holds it (it has not started, or its trainer is gone)",
    }
    hint = hints.get(status, f"no trainer holds it; `{resume}` continues it from its checkpoint")
    return ControlRefused(f"cannot {command} {folder.name}: it is not running (it is {status})", hint, status)


def send(
    run_folder: str | os.PathLike[str], command: str, values: dict[str, Any] | None = None, **changes: Any
) -> Sent:
    """Ask the trainer of ``run_folder`` to ``command`` (one of :data:`COMMANDS`); ``set`` takes
    the knob changes as ``values`` and/or keywords (``send(run, "set", lr=0.5)``).

    Raises :class:`ControlRefused` when the folder is not a run or no live trainer holds it
    (finished, stopped, failed, interrupted), ``ValueError`` for an unknown command,
    :class:`~lstm_tui.core.config.ConfigError` (a ``ValueError``, naming the field) for a bad
    knob or value and ``OSError`` when the file cannot be written."""
    if command not in COMMANDS:
        raise ValueError(f"command {command!r} is not one of {', '.join(COMMANDS)}")
    knobs = parse_knobs({**(values or {}), **changes}) if command == "set" else None
    if knobs is None and (values or changes):
        raise ValueError(f"{command} takes no values (only set does)")
    folder = Path(run_folder)
    if not (folder / "config.toml").is_file():
        raise ControlRefused(f"{folder} is not a run folder (it has no config.toml)", "give a run's folder or name")
    holder = lock_holder(folder)
    if holder is None:
        raise _refusal(folder, command)
    sent = Sent(folder, uuid.uuid4().hex, command, time.time(), holder)
    request = {"id": sent.id, "command": command, "sent_at": sent.sent_at, "target": holder, "by": _this_process()}
    if knobs is not None:
        request["values"] = knobs
    _write_list(folder / CONTROL_FILE, "requests", [*_read_list(folder / CONTROL_FILE, "requests"), request])
    return sent


def acknowledged(run_folder: str | os.PathLike[str], sent: Sent) -> Ack | None:
    """The trainer's acknowledgement of ``sent``, or None while it has not acted on it."""
    for entry in _read_list(Path(run_folder) / ACK_FILE, "acks"):
        if entry.get("id") == sent.id:
            return Ack.from_dict(entry)
    return None


def wait_for_ack(
    run_folder: str | os.PathLike[str], sent: Sent, timeout: float = 5.0, interval: float = 0.1
) -> Ack | None:
    """:func:`acknowledged`, waited for up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        ack = acknowledged(run_folder, sent)
        if ack is not None or time.monotonic() >= deadline:
            return ack
        time.sleep(interval)


# ---------------------------------------------------------------------- the trainer's side
class ControlFilePoller:
    """Applies the requests of a run folder's control file to ``control``; see the module docstring."""

    def __init__(
        self,
        run_folder: str | os.PathLike[str],
        control: Controllable,
        interval: float = 0.2,
        on_ack: Callable[[Ack], None] | None = None,
    ) -> None:
        self.folder = Path(run_folder)
        self.control = control
        self.interval = interval
        self.on_ack = on_ack  # called with each acknowledgement, on the thread that polled
        self._me = _this_process()
        self._done: set[str] = set()  # ids applied or skipped
        self._acks = _read_list(self.folder / ACK_FILE, "acks")  # earlier sessions' are kept
        self._seen: tuple[int, int, int] | None = None
        self._last = float("-inf")
        self._busy = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self, force: bool = False) -> list[Ack]:
        """Apply new requests; returns their acknowledgements (usually none). Cheap: one stat at
        most every ``interval`` seconds (``force`` skips that wait) while the file is unchanged."""
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return []
        if not self._busy.acquire(blocking=force):  # the thread polls right now
            return []
        try:
            self._last = now
            return self._apply_new() if self._file_changed() else []
        finally:
            self._busy.release()

    def _file_changed(self) -> bool:
        try:
            info = os.stat(self.folder / CONTROL_FILE)
        except OSError:
            return False
        seen = (info.st_ino, info.st_size, info.st_mtime_ns)
        changed, self._seen = seen != self._seen, seen
        return changed

    def _ours(self, request: dict[str, Any]) -> bool:
        target = request.get("target")
        if not isinstance(target, dict) or not target:
            return True
        return (target.get("pid"), target.get("host")) == (self._me["pid"], self._me["host"])

    def _apply_new(self) -> list[Ack]:
        acks = []
        for request in _read_list(self.folder / CONTROL_FILE, "requests"):
            ident = str(request.get("id", ""))
            if not ident or ident in self._done:
                continue
            self._done.add(ident)
            if self._ours(request):
                values = request.get("values")
                acks.append(
                    self._apply(ident, str(request.get("command", "")), values if isinstance(values, dict) else {})
                )
        if acks:
            self._acks = [*self._acks, *(ack.to_dict() for ack in acks)][-KEEP:]
            try:
                _write_list(self.folder / ACK_FILE, "acks", self._acks)
            except OSError:
                pass  # the commands were applied; the sender sees the run's state change instead
        for ack in acks:
            if self.on_ack is not None:
                self.on_ack(ack)
        return acks

    def _apply(self, ident: str, command: str, values: dict[str, Any]) -> Ack:
        actions: dict[str, Callable[[], object]] = {
            "pause": self.control.pause,
            "resume": self.control.resume,
            "stop": self.control.stop,
            "checkpoint": self.control.request_checkpoint,
            "set": lambda: self.control.set_knobs(**values),
        }
        outcome, detail = "applied", _DETAILS.get(command, "")
        if command not in actions:
            outcome, detail = "ignored", f"unknown command {command!r}"
        else:
            try:
                actions[command]()
                if command == "set":
                    detail += " " + ", ".join(f"{k}={v:g}" for k, v in values.items())
            except Exception as exc:  # noqa: BLE001 - reported to the sender, training goes on
                outcome, detail = "failed", f"{type(exc).__name__}: {exc}"
        return Ack(ident, command, outcome, detail, time.time(), self._me)

    # ------------------------------------------------------------------ polling on a thread
    def start_thread(self) -> None:
        """Poll every ``interval`` seconds on a daemon thread (reaches a paused trainer too)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="lstm-tui-control-file", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll(force=True)

    def stop_thread(self) -> None:
        """Stop the thread (waits for it; a no-op when none runs)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(timeout=5.0)
