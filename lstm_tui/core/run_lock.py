"""One training process per run folder at a time.

Two processes resuming the same run (the app's F8 and a CLI ``--resume``, or two SSH sessions)
would both append to its metrics and overwrite each other's checkpoints. A trainer therefore
holds ``.training.lock`` in the run folder while it runs: the file is created exclusively
(``O_CREAT | O_EXCL``, so two starts cannot both get it) and names the process (pid and host).
A lock left by a process that is gone (same host, pid not alive: killed, crashed) is taken over;
one held by a live process, or by another machine, refuses the second trainer with a reason.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from .runs import LOCK_FILE, RunError, owner_gone
_HELD: set[str] = set()  # the lock files this process holds now (a copied folder may carry our pid)


def owner() -> dict:
    """This process, as a lock names it."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


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
    def acquire(cls, folder: str | os.PathLike) -> "RunLock":
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
        raise RunBusy(f"{lock.path.parent.name} is locked by another trainer that just started",
                      "wait for it, or stop it first")

    def _take_over_or_refuse(self) -> None:
        try:
            held = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            held = {}  # torn or unreadable: a crash while writing it
        if held and not owner_gone(held) and not self._stale_of_ours(held):
            where = f"process {held.get('pid', '?')} on {held.get('host', '?')}"
            raise RunBusy(f"{self.path.parent.name} is being trained by {where}",
                          f"wait for it to end or stop it; if that process is gone, delete {self.path}")
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

    def _stale_of_ours(self, held: dict) -> bool:
        """A lock naming this very process that it does not hold (left in a copied folder)."""
        mine = owner()
        return (held.get("pid"), held.get("host")) == (mine["pid"], mine["host"]) and str(self.path) not in _HELD

    def release(self) -> None:
        _HELD.discard(str(self.path))
        try:
            self.path.unlink()
        except OSError:
            pass
