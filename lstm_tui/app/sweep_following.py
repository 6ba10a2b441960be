"""Following a sweep live, mixed into :class:`~lstm_tui.app.main.LstmTuiApp`.

``w`` on the runs screen (or ``lstm-tui watch --sweep NAME``) follows every run the sweep has
started (:func:`~lstm_tui.core.sweep.sweep_folders`: the folders its record names) through the
app's following (:mod:`.following`: one chart line per run). Every :data:`CHECK_S` seconds a
thread reads the record again; the runs that started meanwhile are followed too
(``follow_more``). Following anything else, unfollowing, or the app's own run starting ends
the sweep's following.
"""

from __future__ import annotations

from pathlib import Path

from textual import work

from lstm_tui.core.runs import RunError, default_runs_dir
from lstm_tui.core.sweep import list_records, load_record, sweep_folders

#: Seconds between looks for the sweep's new runs.
CHECK_S = 1.0


def sweep_paths(root: Path, name: str) -> list[Path]:
    """The run folders sweep ``name`` has made so far (absolute); RunError when there is no such sweep."""
    return [path.absolute() for path in sweep_folders(root, load_record(root, name))]


def known_sweeps(root: Path) -> list[str]:
    return [record.name for record in list_records(root)]


class SweepFollowingMixin:
    """Follow a sweep: its runs now and those it starts later."""

    followed_sweep: str | None = None
    #: The sweep to follow once the app is up (``lstm-tui watch --sweep NAME``).
    initial_sweep: str | None = None
    _sweep_paths: set[Path]  # (set by follow_sweep, read only while followed_sweep is set)
    _sweep_timer: object | None = None

    @property
    def sweeps_root(self) -> Path:
        runs_dir = getattr(self, "runs_dir", None)
        return Path(runs_dir) if runs_dir is not None else default_runs_dir()

    def on_mount(self) -> None:  # (Textual calls it beside the app's own on_mount)
        if self.initial_sweep:
            self.call_after_refresh(self.follow_sweep, self.initial_sweep)  # type: ignore[attr-defined]

    def follow_sweep(self, name: str) -> bool:
        """Follow sweep ``name``'s runs on the main screen; False (and a notification) when there
        is no such sweep."""
        try:
            paths = sweep_paths(self.sweeps_root, name)
        except RunError as exc:
            self.notify(str(exc), title="No such sweep", severity="error", markup=False)  # type: ignore[attr-defined]
            return False
        self.follow_runs(paths)  # type: ignore[attr-defined]
        self.followed_sweep, self._sweep_paths = name, set(paths)
        if not paths:
            self.log_view.info(f"sweep {name}: no run has started yet; following them as they start")  # type: ignore[attr-defined]
        if self._sweep_timer is None:
            self._sweep_timer = self.set_interval(CHECK_S, self._check_sweep)  # type: ignore[attr-defined]
        return True

    def _still_following_sweep(self) -> bool:
        """Whether what is followed is still the sweep's (not unfollowed, nothing else followed)."""
        if self.followed_sweep is None:
            return False
        if set(self.followed_paths) != self._sweep_paths:  # type: ignore[attr-defined]
            self.followed_sweep = None
        return self.followed_sweep is not None

    def _check_sweep(self) -> None:
        if self._still_following_sweep():
            self._look_for_runs(self.followed_sweep)

    @work(thread=True, exclusive=True, group="sweep-follow", exit_on_error=False)
    def _look_for_runs(self, name: str | None) -> None:
        try:
            paths = sweep_paths(self.sweeps_root, name or "")
        except RunError:
            return
        self.call_from_thread(self._take_sweep_runs, name, paths)  # type: ignore[attr-defined]

    def _take_sweep_runs(self, name: str, paths: list[Path]) -> None:
        if not self._still_following_sweep() or name != self.followed_sweep:
            return
        new = [path for path in paths if path not in self._sweep_paths]
        if new and not self.run_active:  # type: ignore[attr-defined]
            self.follow_more(new)  # type: ignore[attr-defined]
            self._sweep_paths |= set(new)
