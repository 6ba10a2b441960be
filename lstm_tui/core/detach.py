"""Hand a stopped run to a headless ``lstm-tui train --resume`` process that lives on its own.

The app stops its own run with a checkpoint (mid-epoch is fine: a resume is exact), then
:func:`detach` starts ``python -m lstm_tui train --resume <run folder> --quiet`` as a
background process in a session of its own (``setsid``): it has no controlling terminal, so
the hangup of a closed terminal or a dropped SSH connection never reaches it, and it outlives
the process that started it. Its stdin is ``/dev/null``; its stdout and stderr are appended to
``<run>/detached.log``. :func:`wait_taken` then waits until the new process holds the run's
``.training.lock`` (from then on the run is followed like any other process's run) or reports
why it ended (the tail of its log).

While the caller lives, a daemon thread waits for the process, so a run that ends leaves no
zombie behind that would make its pid look alive; once the caller exits, init adopts it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .runs import RunDir, RunError, lock_holder

#: The log of a detached process, in its run folder (appended to by each detach).
DETACHED_LOG = "detached.log"
#: How much of the log's end a failure reports.
LOG_TAIL_CHARS = 2000
_POLL_S = 0.05


class DetachError(RunError):
    """A run cannot be detached, or its detached process ended before taking the run."""

    def __init__(self, reason: str, hint: str = "") -> None:
        super().__init__(f"{reason} ({hint})" if hint else reason)
        self.reason, self.hint = reason, hint


@dataclass
class Detached:
    """A started background trainer: its pid, the log it writes and the command it runs."""

    pid: int
    log_path: Path
    command: list[str]
    run_path: Path
    log_offset: int = 0  # where this start's output begins in the log (earlier detaches above)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has ended (None while it runs, or when unknown)."""
        return self.process.returncode if self.process is not None else None


def resume_command(run_path: Path, python: str = sys.executable) -> list[str]:
    """The command a detached trainer runs (the least output: a summary at the end)."""
    if not python:
        raise DetachError(
            "no Python interpreter to start the trainer with", "pass python= (sys.executable is empty in this process)"
        )
    return [python, "-m", "lstm_tui", "train", "--resume", str(run_path), "--quiet"]


def check_detachable(run_folder: str | os.PathLike[str], runs_dir: str | os.PathLike[str] | None = None) -> RunDir:
    """The run, once it is known to be resumable by a new process; :class:`DetachError` if not."""
    try:
        run = RunDir.open(run_folder, runs_dir)
    except RunError as exc:
        raise DetachError(str(exc), "give a run name from `lstm-tui runs` or a run folder") from None
    if not run.has_checkpoint():
        raise DetachError(
            f"run {run.name} has no checkpoint to continue from ({run.checkpoint_path})",
            "stop the run with a checkpoint first (or let it reach one)",
        )
    held = lock_holder(run.path)
    if held is not None:
        where = f"process {held.get('pid', '?')} on {held.get('host', '?')}"
        raise DetachError(
            f"run {run.name} is being trained by {where}", "stop that trainer first; its checkpoint is then detached"
        )
    summary = run.read_summary() or {}
    if summary.get("status") == "finished":
        raise DetachError(
            f"run {run.name} has finished: there is nothing left to train",
            f"train it on with `lstm-tui train --resume {run.path} --epochs N`",
        )
    return run


def detach(
    run_folder: str | os.PathLike[str],
    *,
    runs_dir: str | os.PathLike[str] | None = None,
    python: str = sys.executable,
    env: Mapping[str, str] | None = None,
) -> Detached:
    """Start a background ``lstm-tui train --resume`` of the run in its own session.

    ``run_folder`` is a run folder or a run name in ``runs_dir``. Checked first (see
    :func:`check_detachable`); the process then runs on its own (see the module docstring).
    Call :func:`wait_taken` to know it has taken the run."""
    run = check_detachable(run_folder, runs_dir)
    path = run.path.resolve()
    command = resume_command(path, python)
    log_path = path / DETACHED_LOG
    try:
        offset, process = _start(command, log_path, env)
    except OSError as exc:
        raise DetachError(
            f"cannot start the detached trainer: {exc.strerror or exc}", f"command: {' '.join(command)}"
        ) from None
    threading.Thread(target=process.wait, name=f"detached-{process.pid}", daemon=True).start()
    return Detached(
        pid=process.pid, log_path=log_path, command=command, run_path=path, log_offset=offset, process=process
    )


def _start(command: list[str], log_path: Path, env: Mapping[str, str] | None) -> tuple[int, subprocess.Popen[bytes]]:
    """The process (own session, no terminal, stdin /dev/null, output appended to the log)
    and the log offset where its output begins."""
    with open(log_path, "ab") as log:
        stamp = datetime.now().isoformat(timespec="seconds")
        log.write(f"--- {stamp} detached from pid {os.getpid()}: {' '.join(command)}\n".encode())
        log.flush()
        return log.tell(), subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=dict(env) if env is not None else None,
        )


def wait_taken(detached: Detached, timeout: float = 10.0) -> bool:
    """Wait until the detached process holds the run's lock (True) or ``timeout`` passes (False).

    A process that ends first: True when it exited with 0 (it trained the run to its end
    already), else :class:`DetachError` with the tail of its log as the reason."""
    deadline = time.monotonic() + timeout
    while True:
        if _holds_lock(detached):
            return True
        ended = _exit_status(detached)
        if ended is not None:
            if ended == 0:
                return True
            raise DetachError(
                f"the detached trainer ended (exit {ended}): {log_tail(detached.log_path, since=detached.log_offset)}",
                f"its log is {detached.log_path}",
            )
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_S)


def _holds_lock(detached: Detached) -> bool:
    held = lock_holder(detached.run_path)
    return held is not None and held.get("pid") == detached.pid and held.get("host") == socket.gethostname()


def _exit_status(detached: Detached) -> int | None:
    """The exit status, or None while it runs; -1 when it is gone but its status is unknown
    (a Detached rebuilt from a pid, not started by this process)."""
    if detached.process is not None:
        return detached.process.returncode  # set by the reaper thread of detach()
    try:
        os.kill(detached.pid, 0)
    except ProcessLookupError:
        return -1
    except OSError:
        return None
    return None


def log_tail(path: Path, chars: int = LOG_TAIL_CHARS, since: int = 0) -> str:
    """The end of a log after byte ``since`` (at most its last ``chars`` bytes, stripped);
    "(no output)" when there is none."""
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            size = log.tell()
            log.seek(max(since, size - chars))
            text = log.read().decode("utf-8", errors="replace").strip()
    except OSError as exc:
        return f"(its log cannot be read: {exc.strerror or exc})"
    return text or "(no output)"
