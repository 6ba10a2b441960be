"""One training process per run folder at a time.

Two processes resuming the same run (the app's F8 and a CLI ``--resume``, or two SSH sessions)
would both append to its metrics and overwrite each other's checkpoints. A trainer therefore
holds ``.training.lock`` in the run folder while it runs: the file is created exclusively
(``O_CREAT | O_EXCL``, so two starts cannot both get it) and names the process (pid and host).
A lock left by a process that is gone (same host, pid not alive: killed, crashed) is taken over;
one held by a live process, or by another machine, refuses the second trainer with a reason.

The lock record (``{"pid": int, "host": str}``) is read only by :func:`read_lock`.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from .files import LOCK_FILE, RunError

_HELD: set[str] = set()  # the lock files this process holds now (a copied folder may carry our pid)


def owner() -> dict[str, Any]:
    """This process, as a lock names it."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def read_lock(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The record of the lock file at ``path``: None when there is none; ``{}`` when it is torn
    or unreadable (a crash while writing it); else the ``{"pid", "host"}`` it names."""
    try:
        held = json.loads(Path(path).read_text() or "{}")
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return held if isinstance(held, dict) else {}


def owner_gone(held: dict[str, Any]) -> bool:
    """Whether the process a lock names (pid, host) is gone; False when that cannot be told."""
    pid, host = held.get("pid"), held.get("host")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or host != socket.gethostname():
        return False  # no pid, or another machine: it cannot be told from here
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):  # it exists (another user's), or this OS cannot tell
        return False
    return False


def lock_holder(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``{"pid", "host"}`` of the live trainer holding the folder's lock, or None (no lock, a
    torn one, or its process is gone). A holder on another machine counts as live: it cannot
    be told from here."""
    held = read_lock(Path(folder) / LOCK_FILE)
    return held if held and not owner_gone(held) else None


def busy_reason(folder: str | os.PathLike[str], held: dict[str, Any]) -> tuple[str, str]:
    """``(reason, hint)`` of a refusal because ``held`` (a live lock record) trains ``folder``."""
    path = Path(folder) / LOCK_FILE
    where = f"process {held.get('pid', '?')} on {held.get('host', '?')}"
    return (
        f"{path.parent.name} is being trained by {where}",
        f"wait for it to end or stop it; if that process is gone, delete {path}",
    )


class RunBusy(RunError):
    """Another process is training this run."""

    def __init__(self, reason: str, hint: str):
        super().__init__(reason)
        self.reason, self.hint = reason, hint


class RunLock:
    """The lock of one run folder, held from :meth:`acquire` to :meth:`release`."""

    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def acquire(cls, folder: str | os.PathLike[str]) -> RunLock:
        """Take the folder's lock; raises :class:`RunBusy` when a live process holds it."""
        lock = cls(Path(folder) / LOCK_FILE)
        for _ in range(2):  # a second try after removing a dead process's lock
            try:
                fd = os.open(lock.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                lock._take_over_or_refuse()
                continue
            with os.fdopen(fd, "w") as out:
                json.dump(owner(), out)
            _HELD.add(str(lock.path))
            return lock
        raise RunBusy(
            f"{lock.path.parent.name} is locked by another trainer that just started", "wait for it, or stop it first"
        )

    def _take_over_or_refuse(self) -> None:
        held = read_lock(self.path) or {}
        if held and not owner_gone(held) and not self._stale_of_ours(held):
            raise RunBusy(*busy_reason(self.path.parent, held))
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def _stale_of_ours(self, held: dict[str, Any]) -> bool:
        """A lock naming this very process that it does not hold (left in a copied folder)."""
        mine = owner()
        return (held.get("pid"), held.get("host")) == (mine["pid"], mine["host"]) and str(self.path) not in _HELD

    def release(self) -> None:
        _HELD.discard(str(self.path))
        try:
            self.path.unlink()
        except OSError:
            pass
