"""Run a recorded sweep: one ``python -m lstm_tui train`` process per run, ``parallel`` at a time.

Each process runs in a session of its own, so a Ctrl+C in the terminal reaches only the sweep:
:meth:`SweepRunner.stop` (from a signal handler or another thread) then sends each running
process one SIGTERM -- once it holds its run's lock, i.e. once the train CLI's own handler is
in place -- and the train CLI stops at the next batch with a checkpoint. No new run starts after
a stop; :meth:`SweepRunner.run` returns once every process has ended. A second
:meth:`~SweepRunner.stop` sends a second SIGTERM, which ends the processes at once (their last
checkpoint stays). A run's output goes to ``.sweeps/<name>/<run>.log``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from ..runs import lock_holder
from ..runs.files import SWEEP_TAG_FILE
from ..runs.folder import _root
from .record import (
    RunState,
    SweepRecord,
    SweepRun,
    find_run_folder,
    run_state,
    save_record,
    work_dir,
    write_tag,
)

#: A process that has not taken its run's lock after this long is stopped anyway.
STOP_GRACE_S = 60.0
POLL_S = 0.1


@dataclass(frozen=True)
class SweepNote:
    """What the runner did: ``kind`` is started, resumed, ended, skipped or stopping."""

    kind: str
    run: SweepRun | None
    text: str
    returncode: int | None = None


@dataclass
class SweepOutcome:
    stopped: bool
    #: Runs whose process ended without leaving a run folder (see their logs).
    not_started: list[SweepRun] = field(default_factory=list)
    returncodes: dict[int, int] = field(default_factory=dict)


@dataclass
class _Child:
    run: SweepRun
    process: subprocess.Popen[bytes]
    log: Path
    started: float
    term_sent: int = 0


class SweepRunner:
    """Runs ``record``'s unfinished runs under ``root``; ``on_note`` hears what happens (any thread)."""

    def __init__(
        self,
        record: SweepRecord,
        root: str | os.PathLike[str] | None,
        *,
        parallel: int | None = None,
        on_note: Callable[[SweepNote], None] | None = None,
        python: str = sys.executable,
        env: dict[str, str] | None = None,
    ) -> None:
        self.record = record
        self.root = _root(root)
        self.parallel = max(1, parallel or record.parallel)
        self.on_note = on_note or (lambda note: None)
        self.python = python
        self.env = env
        self._stops = 0
        self._lock = threading.Lock()
        self._children: list[_Child] = []
        self._abandoned: set[str] = set()  # folders of runs started anew: never taken for the new one

    # ------------------------------------------------------------------ control (thread-safe)
    def stop(self) -> None:
        """First call: stop every run at its next batch with a checkpoint; second: at once."""
        with self._lock:
            self._stops += 1

    @property
    def stopping(self) -> bool:
        return self._stops > 0

    @property
    def running(self) -> list[SweepRun]:
        with self._lock:
            return [child.run for child in self._children]

    # ------------------------------------------------------------------ the loop
    def todo(self) -> list[tuple[SweepRun, RunState]]:
        """The runs still to train and how (RESUMABLE or FRESH), in order; BUSY runs are noted."""
        out: list[tuple[SweepRun, RunState]] = []
        for run in self.record.runs:
            state = run_state(self.root, run)
            if state is RunState.BUSY:
                self.on_note(SweepNote("skipped", run, f"{run.name}: another process trains it; left alone"))
            elif state in (RunState.RESUMABLE, RunState.FRESH):
                out.append((run, state))
        return out

    def run(self) -> SweepOutcome:
        """Train the runs still to do; returns when they have all ended (or a stop ended them)."""
        queue = self.todo()
        outcome = SweepOutcome(stopped=False)
        while queue or self._children:
            if self.stopping:
                queue.clear()
                self._signal_children()
            while queue and len(self._children) < self.parallel and not self.stopping:
                self._launch(*queue.pop(0), outcome)
            for child in list(self._children):
                self._discover(child)
                if child.process.poll() is not None:
                    self._ended(child, outcome)
            time.sleep(POLL_S)
        outcome.stopped = self.stopping
        return outcome

    # ------------------------------------------------------------------ one process
    def _launch(self, run: SweepRun, state: RunState, outcome: SweepOutcome) -> None:
        folder = work_dir(self.root, self.record.name)
        folder.mkdir(parents=True, exist_ok=True)
        log = folder / f"{run.name}.log"
        base = [self.python, "-m", "lstm_tui", "train", "--quiet", "--runs-dir", str(self.root)]
        if state is RunState.RESUMABLE and run.folder:
            command = base + ["--resume", str(self.root / run.folder)]
            kind = "resumed"
        else:
            launch = folder / f"{run.name}.toml"
            launch.write_text(tomli_w.dumps(run.config.to_dict()), encoding="utf-8")
            command = base + ["--config", str(launch), "--name", run.name]
            if run.folder:  # it ended before its first checkpoint: that folder stays a plain run
                self._abandoned.add(run.folder)
                (self.root / run.folder / SWEEP_TAG_FILE).unlink(missing_ok=True)
            run.folder = None
            kind = "started"
        try:
            with open(log, "ab") as out:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env=self.env,
                )
        except OSError as exc:  # no such interpreter, no room for the log...: this run only
            outcome.not_started.append(run)
            self.on_note(SweepNote("ended", run, f"{run.name}: did not start ({exc.strerror or exc})"))
            return
        with self._lock:
            self._children.append(_Child(run, process, log, time.monotonic()))
        self.on_note(SweepNote(kind, run, f"{run.name}: {kind} ({_describe(run)})"))

    def _discover(self, child: _Child) -> None:
        """Find the folder a fresh run's process made; tag it and record its name."""
        run = child.run
        if run.folder:
            return
        claimed = {r.folder for r in self.record.runs if r.folder} | self._abandoned
        path = find_run_folder(self.root, run, claimed)
        if path is None:
            return
        run.folder = path.name
        write_tag(path, self.record, run)
        save_record(self.root, self.record)

    def _signal_children(self) -> None:
        for child in self._children:
            if child.term_sent >= min(self._stops, 2) or child.process.poll() is not None:
                continue
            holds = child.run.folder is not None and lock_holder(self.root / child.run.folder) is not None
            waited = time.monotonic() - child.started
            if child.term_sent == 0 and not holds and waited < STOP_GRACE_S and self._stops < 2:
                continue  # still starting: its handler is not in place yet, a SIGTERM would kill it
            try:
                child.process.send_signal(signal.SIGTERM)
            except ProcessLookupError:  # pragma: no cover - ended meanwhile
                pass
            child.term_sent += 1
            if child.term_sent == 1:
                self.on_note(SweepNote("stopping", child.run, f"{child.run.name}: stopping at the next batch"))

    def _ended(self, child: _Child, outcome: SweepOutcome) -> None:
        with self._lock:
            self._children.remove(child)
        self._discover(child)
        code = child.process.returncode
        outcome.returncodes[child.run.index] = code
        if not child.run.folder:
            outcome.not_started.append(child.run)
        state = run_state(self.root, child.run).value if child.run.folder else "did not start"
        self.on_note(SweepNote("ended", child.run, f"{child.run.name}: {state} (exit {code}; log {child.log})", code))


def _describe(run: SweepRun) -> str:
    values = ", ".join(f"{k}={v}" for k, v in run.values.items())
    return (
        f"{values}; device {run.config.device}, threads {run.config.threads}"
        if values
        else f"device {run.config.device}, threads {run.config.threads}"
    )


__all__ = ["STOP_GRACE_S", "SweepNote", "SweepOutcome", "SweepRunner"]
