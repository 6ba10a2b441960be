"""Following runs that other processes train, mixed into :class:`~lstm_tui.app.main.LstmTuiApp`.

``f`` on the runs screen (or ``lstm-tui watch RUN ...``) follows runs: a thread worker (group
"follow") runs a :class:`~lstm_tui.core.follow.RunFollower` (``wait`` / ``poll``) and posts each
:class:`~lstm_tui.core.follow.RunUpdate` as a :class:`FollowUpdate` message; the app's thread
draws it with the same widgets as its own run: the chart (one line per run, labelled with its
name), the prediction log (the samples) and the status line (which run, its status, epoch,
perplexity, tokens/s). A reset (the run's files rewritten by a resume) redraws the run.

ctrl+n (or ``u`` on the runs screen) stops following; starting the app's own run drops the followed
runs (the chart is the new run's). While the app's own run is not going, F6 (pause / resume),
F7 (stop with a checkpoint) and ctrl+s (checkpoint now) go to every followed run through its
control file (:mod:`lstm_tui.core.control_file`; F6 pauses them all unless all the running ones are
paused, then resumes them), acknowledged on a worker (group "control"), in one notice saying which
runs took the command and which refused it (a run that is not running refuses).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual import work
from textual.message import Message

from lstm_tui.core.control_file import ControlRefused, send, wait_for_ack

from .widgets.perplexity_chart import MAX_POINTS, thin
from .worker import record_epoch

#: Seconds a follow worker waits for a change before it looks again (its stop is seen within it).
FOLLOW_WAIT_S = 0.5
#: The least time between two polls: what arrives meanwhile, from all the runs, goes to the app
#: in one message and one chart redraw (8 busy runs cost one redraw per interval, not one per
#: epoch; a frame of chart, log and status is ~10-15 ms on a slow 2-core machine). A change
#: after a quiet spell is polled at once; none waits longer than this to be read, and the chart
#: draws each message at once (REDRAW_MIN_S), so a new epoch is on screen within this plus the
#: app's own latency: 0.73 s at most in the benchmark (0.8 s gave 0.84 s, and 1-1.3 s at moments
#: of load 8 on 2 cores), inside the 1 s it allows.
MIN_POLL_S = 0.7
#: Samples shown of a run when it is first followed (or redrawn after a reset).
SAMPLES_SHOWN = 3
ACK_TIMEOUT_S = 10.0
#: A followed run's new points are drawn at once when the chart's last draw is this old, else
#: when it gets so (the worker's MIN_POLL_S spaces the messages; this absorbs their jitter, and
#: spaces the draws when a second worker, follow_more's, posts too).
REDRAW_MIN_S = 0.5
#: What F6 / F7 / ctrl+s send, and the words of their notifications.
CONTROL_WORDS = {
    "pause": "paused",
    "resume": "resumed",
    "stop": "stopping (with a checkpoint)",
    "checkpoint": "saving a checkpoint",
}


class FollowUpdate(Message):
    """What is new in the followed runs since the last poll (posted by the follow worker)."""

    def __init__(self, generation: int, updates: list[Any]) -> None:
        super().__init__()
        self.generation = generation
        self.updates = updates  # core.follow.RunUpdate, one per run that changed


class ControlAnswered(Message):
    """The answers to a control command sent to followed runs: ``acks`` ``[(run, Ack | None)]``
    (None: no answer within the timeout), and ``refused`` ``[(name, why)]`` at sending."""

    def __init__(self, command: str, acks: list[tuple[Path, Any]], refused: list[tuple[str, str]]) -> None:
        super().__init__()
        self.command, self.acks, self.refused = command, acks, refused


@dataclass
class FollowedRun:
    """What the app shows of one followed run."""

    path: Path
    train: list[tuple[float, float]] = field(default_factory=list)
    val: list[tuple[float, float]] = field(default_factory=list)
    status: str = "unknown"
    epoch: int = 0
    epochs: int = 0
    perplexity: float | None = None
    val_perplexity: float | None = None
    tokens_per_s: float | None = None
    elapsed_s: float | None = None
    samples: int = 0
    paused: bool = False  # (as far as this app's pause / resume commands go)

    @property
    def name(self) -> str:
        return self.path.name

    def clear(self) -> None:
        self.train, self.val, self.epoch, self.samples = [], [], 0, 0

    def add_metric(self, record: dict[str, Any]) -> bool:
        epoch, ppl, val = record.get("epoch"), record.get("perplexity"), record.get("val_perplexity")
        if not isinstance(epoch, int) or isinstance(epoch, bool) or not isinstance(ppl, (int, float)):
            return False
        self.train = _put(self.train, epoch, float(ppl))
        if isinstance(val, (int, float)):
            self.val = _put(self.val, epoch, float(val))
        self.epoch, self.perplexity = epoch, float(ppl)
        self.val_perplexity = float(val) if isinstance(val, (int, float)) else None
        speed, elapsed = record.get("tokens_per_s"), record.get("elapsed_s")
        self.tokens_per_s = float(speed) if isinstance(speed, (int, float)) else self.tokens_per_s
        self.elapsed_s = float(elapsed) if isinstance(elapsed, (int, float)) else self.elapsed_s
        return True

    def take_summary(self, summary: dict[str, Any]) -> None:
        epochs = summary.get("epochs")
        if isinstance(epochs, int) and not isinstance(epochs, bool):
            self.epochs = epochs


def _put(points: list[tuple[float, float]], epoch: int, value: float) -> list[tuple[float, float]]:
    """``points`` with ``(epoch, value)`` last (an epoch seen again replaces it and what follows),
    thinned like the chart's lines (so a long run costs the same as a short one)."""
    if points and points[-1][0] >= epoch:
        points = [p for p in points if p[0] < epoch]
    points.append((float(epoch), value))
    return thin(points) if len(points) > MAX_POINTS else points


class FollowingMixin:
    """Follow runs trained elsewhere; control them through their control files."""

    followed: dict[Path, FollowedRun]
    _follow_generation: int = 0
    _follow_stop: threading.Event | None = None

    @property
    def following(self) -> bool:
        return bool(getattr(self, "followed", None))

    @property
    def followed_paths(self) -> list[Path]:
        return list(getattr(self, "followed", {}))

    # ------------------------------------------------------------------ follow, unfollow
    def follow_runs(self, paths: list[str | Path]) -> None:
        """Follow these runs on the main screen (replaces what was followed)."""
        self._end_follow_worker()
        self.followed = {Path(path).absolute(): FollowedRun(Path(path).absolute()) for path in paths}
        if not self.followed:
            return
        if not self.run_active:
            self.chart.reset()
            self.chart.set_lines({run.name: [] for run in self.followed.values()})  # (in the followed order)
        names = ", ".join(run.name for run in self.followed.values())
        self.log_view.add(f"▶ following {names}", "bold")
        self._follow_generation += 1
        self._follow_stop = threading.Event()
        self._follow(list(self.followed), self._follow_generation, self._follow_stop)
        self._show_followed()
        self.refresh_bindings()

    def follow_more(self, paths: list[str | Path]) -> None:
        """Follow these runs too (a sweep's run that started later); the followed ones keep what
        they show (their worker goes on; one more worker, stopped with it, follows the new ones)."""
        new = [path for path in map(lambda p: Path(p).absolute(), paths) if path not in self.followed]
        if not self.following or self._follow_stop is None:
            self.follow_runs(paths)
            return
        if not new:
            return
        if len(self.followed) == 1 and not self.run_active:  # (one run's validation line goes: several now)
            self.chart.set_line(f"{next(iter(self.followed.values())).name} val", [])
        self.followed.update({path: FollowedRun(path) for path in new})
        self.log_view.add(f"▶ following {', '.join(path.name for path in new)} too", "bold")
        self._follow(new, self._follow_generation, self._follow_stop)
        self._show_followed()

    def unfollow(self, say: bool = True) -> None:
        """Stop following (the chart keeps what it shows until the next run)."""
        if not self.following:
            return
        self._end_follow_worker()
        names = ", ".join(run.name for run in self.followed.values())
        self.followed = {}
        if say:
            self.log_view.info(f"■ no longer following {names}")
        self.status_bar.update_status(message="", state=self.state.value)
        self.refresh_bindings()

    def action_unfollow(self) -> None:
        if not self.following:
            self.notify("No run is followed: F2, then f on a run, follows it.", severity="warning")
            return
        self.unfollow()

    def _end_follow_worker(self) -> None:
        if self._follow_stop is not None:
            self._follow_stop.set()
            self._follow_stop = None
        self._follow_generation += 1  # updates still queued from the old worker are dropped

    def _begin_run(
        self, config: Any, resume: str | None = None, changes: dict | None = None, allow_corpus_change: bool = False
    ) -> None:
        """The app's own run starts: the followed runs move aside (dropped; F2 follows them again)."""
        if self.following:
            self.unfollow(say=False)
            self.log_view.info("■ followed runs dropped: the chart shows the app's own run now")
        super()._begin_run(config, resume, changes, allow_corpus_change)  # type: ignore[misc]

    # ------------------------------------------------------------------ the worker
    @work(thread=True, group="follow", exit_on_error=False)
    def _follow(self, paths: list[Path], generation: int, stop: threading.Event) -> None:
        from textual.worker import get_current_worker

        from lstm_tui.core.follow import RunFollower

        worker = get_current_worker()
        with RunFollower(paths) as follower:
            while not stop.is_set() and not worker.is_cancelled:
                polled = time.monotonic()
                updates = follower.poll()
                if updates:  # (all the runs' news in one message; the next poll waits its turn)
                    self.post_message(FollowUpdate(generation, updates))
                    if stop.wait(max(0.0, MIN_POLL_S - (time.monotonic() - polled))):
                        break
                follower.wait(FOLLOW_WAIT_S)

    # ------------------------------------------------------------------ drawing (app thread)
    def on_follow_update(self, message: FollowUpdate) -> None:
        if message.generation != self._follow_generation or not self.is_running:  # type: ignore[attr-defined]
            return  # (an old worker's; or the app is closing: its screens are gone)
        with self.log_view.batched_lines():  # (its lines laid out once)
            changed = [run for update in message.updates if (run := self._take_update(update)) is not None]
        if changed:
            self._show_followed(changed)

    def _take_update(self, update: Any) -> FollowedRun | None:
        run = getattr(self, "followed", {}).get(update.run)
        if run is None:
            return None
        if update.reset:
            if run.train:
                self.log_view.info(f"{run.name}: its files were rewritten (a resume): redrawn")
            run.clear()
        if update.summary is not None:
            run.take_summary(update.summary)
        if update.status is not None:
            self._followed_status(run, update.status)
        for record in update.metrics:
            run.add_metric(record)
        self._show_samples(run, update.samples, update.reset)
        return run

    def _followed_status(self, run: FollowedRun, status: str) -> None:
        if status != run.status and (run.status != "unknown" or status != "running"):
            self.log_view.info(f"{run.name}: {status}")
        run.status = status
        if status != "running":
            run.paused = False

    def _show_samples(self, run: FollowedRun, samples: tuple[dict[str, Any], ...], reset: bool) -> None:
        run.samples += len(samples)
        shown = samples[-SAMPLES_SHOWN:] if reset else samples
        if not shown:
            return
        several = len(self.followed) > 1
        by_epoch = {int(x): p for x, p in run.train}
        vals = {int(x): p for x, p in run.val}
        for sample in shown:
            epoch = record_epoch(sample)
            prefix, text = str(sample.get("prefix", "")), str(sample.get("text", ""))
            self.log_view.sample(
                epoch, by_epoch.get(epoch), vals.get(epoch), prefix, text, run=run.name if several else ""
            )

    def _show_followed(self, changed: list[FollowedRun] | None = None) -> None:
        """Chart lines (of the ``changed`` runs; None: all) and the status line."""
        if self.run_active or not self.following:
            return
        runs = list(self.followed.values())
        for run in runs if changed is None else changed:
            self.chart.set_line(run.name, run.train)
        if len(runs) == 1:
            self.chart.set_line(f"{runs[0].name} val", runs[0].val)
        draws = self.chart.draws
        self.chart.redraw_soon(REDRAW_MIN_S)
        first = runs[0]
        more = f" (+{len(runs) - 1} more)" if len(runs) > 1 else ""
        state = "paused" if first.paused else first.status
        self.status_bar.update_status(
            state=state,
            epoch=first.epoch,
            epochs=first.epochs,
            perplexity=first.perplexity,
            val_perplexity=first.val_perplexity,
            tokens_per_s=first.tokens_per_s,
            elapsed_s=first.elapsed_s,
            eta_s=None,
            message=f"following {first.name}{more}",
        )
        self.status_bar.set_progress(first.epoch, first.epochs or None)
        if self.chart.draws != draws:  # (the numbers just after the chart: a frame of their own, as
            # one frame with both would repaint every screen line between them, the form's too)
            self.call_after_refresh(self.status_bar.flush)

    # ------------------------------------------------------------------ control (F6, F7, ctrl+s)
    def _controls_followed(self) -> bool:
        """Whether the control keys go to a followed run now (the app's own run is not going)."""
        return self.following and not self.run_active

    def action_pause(self) -> None:
        if not self._controls_followed():
            super().action_pause()  # type: ignore[misc]
            return
        runs = list(self.followed.values())
        live = [run for run in runs if run.status == "running"] or runs
        self._control(runs, "resume" if all(run.paused for run in live) else "pause")

    def action_stop(self) -> None:
        if not self._controls_followed():
            super().action_stop()  # type: ignore[misc]
            return
        self._control(list(self.followed.values()), "stop")

    def action_save(self) -> None:
        if not self._controls_followed():
            super().action_save()  # type: ignore[misc]
            return
        self._control(list(self.followed.values()), "checkpoint")

    def _control(self, runs: list[FollowedRun], command: str) -> None:
        """Send ``command`` to each of ``runs`` (each through its control file); one run's
        refusal says why at once, several runs' answers come in one notice (ControlAnswered)."""
        sent, refused = [], []
        for run in runs:
            try:
                sent.append((run.path, send(run.path, command)))
            except ControlRefused as exc:
                self.log_view.warn(f"{run.name}: {command} refused: {exc.reason}")
                refused.append((run.name, exc.reason, exc.hint))
                continue
            except OSError as exc:
                refused.append((run.name, f"cannot write its control file: {exc.strerror or exc}", ""))
                continue
            self.log_view.info(f"{run.name}: {command} sent")
        if len(runs) == 1 and refused:
            name, reason, hint = refused[0]
            self.notify(f"{reason}. {hint}", title=f"{name} is not running", severity="warning", markup=False)
            return
        if sent:
            self._wait_acks(command, sent, [(name, reason) for name, reason, _ in refused])
        else:
            self._summarise(command, [], [(name, reason) for name, reason, _ in refused])

    @work(thread=True, group="control", exit_on_error=False)
    def _wait_acks(self, command: str, sent: list[tuple[Path, Any]], refused: list[tuple[str, str]]) -> None:
        deadline = time.monotonic() + ACK_TIMEOUT_S  # (the runs answer at once; waited for in turn)
        acks = [(path, wait_for_ack(path, ack, timeout=max(0.1, deadline - time.monotonic()))) for path, ack in sent]
        self.post_message(ControlAnswered(command, acks, refused))

    def on_control_answered(self, message: ControlAnswered) -> None:
        if not self.is_running:  # type: ignore[attr-defined]  # (the app is closing: its screens are gone)
            return
        took, not_taken = [], list(message.refused)
        for path, ack in message.acks:
            if ack is None:
                not_taken.append((path.name, f"no answer within {ACK_TIMEOUT_S:.0f} s"))
            elif not ack.applied:
                not_taken.append((path.name, f"{ack.outcome}: {ack.detail}"))
            else:
                took.append(path.name)
                self.log_view.info(f"{path.name}: {message.command} acknowledged")
                run = getattr(self, "followed", {}).get(path)
                if run is not None and message.command in ("pause", "resume"):
                    run.paused = message.command == "pause"
        if message.command in ("pause", "resume") and took:
            self._show_followed()
        self._summarise(message.command, took, not_taken)

    def _summarise(self, command: str, took: list[str], refused: list[tuple[str, str]]) -> None:
        """One notice: which runs took ``command`` and which did not (and why)."""
        if len(took) + len(refused) == 1:  # one run: as it always said
            if took:
                self.notify(f"{took[0]}: {CONTROL_WORDS[command]}", title="Acknowledged", markup=False)
            else:
                name, why = refused[0]
                self.notify(f"{name}: {command} {why}", severity="warning", markup=False)
            return
        lines = [f"{CONTROL_WORDS[command]}: {', '.join(took)}"] if took else []
        lines += [f"{name} refused {command}: {why}" for name, why in refused]
        title = f"{len(took)} of {len(took) + len(refused)} runs took {command}"
        self.notify("\n".join(lines), title=title, severity="warning" if refused else "information", markup=False)
