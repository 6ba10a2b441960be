"""Where an app's CPU goes: CPU-time counters (``time.thread_time``) around named functions.

cProfile and py-spy slow a busy Textual app so much that it draws a fraction of its frames; a
counter around a few functions costs ~2 us a call. Each part's time is inclusive (what it
calls counts too; a part re-entered on its thread counts once), per thread that ran it, so
parts nest: the compositor's time holds the widgets' renders. ``Widget.render_lines`` is
counted by the widget's class (``render_lines:PerplexityChart``).

    parts = Breakdown(DEFAULT_PARTS)
    parts.install()
    ...                               # the measured window
    parts.uninstall()
    print(parts.table(wall_seconds))
"""

from __future__ import annotations

import functools
import importlib
import threading
import time
from collections.abc import Callable
from typing import Any

#: (label, "module:attribute.path"): what the follow bench counts.
DEFAULT_PARTS: tuple[tuple[str, str], ...] = (
    ("frame (compositor, all renders)", "textual.screen:Screen._compositor_refresh"),
    ("layout", "textual.screen:Screen._refresh_layout"),
    ("render_lines", "textual.widget:Widget.render_lines"),
    ("chart redraw (plotext setup)", "lstm_tui.app.widgets.perplexity_chart:PerplexityChart.redraw"),
    ("chart render (frame + lines)", "lstm_tui.app.widgets.perplexity_chart:PerplexityChart.render"),
    ("  plotext frame (build_plot)", "plotext._build:build_class.build_plot"),
    ("  lines (overlay)", "lstm_tui.app.widgets.perplexity_chart:overlay"),
    ("  matrix runs", "lstm_tui.app.widgets.perplexity_chart:matrix_runs"),
    ("chart strips (MatrixVisual)", "lstm_tui.app.widgets.braille_lines:MatrixVisual.render_strips"),
    ("follow message", "lstm_tui.app.following:FollowingMixin.on_follow_update"),
    ("  log lines (PredictionLog.add)", "lstm_tui.app.widgets.prediction_log:PredictionLog.add"),
    ("  status (update_status)", "lstm_tui.app.widgets.status_bar:StatusBar.update_status"),
    ("status flush", "lstm_tui.app.widgets.status_bar:StatusBar.flush"),
    ("follow poll (worker)", "lstm_tui.core.follow:RunFollower.poll"),
    ("follow wait (worker)", "lstm_tui.core.follow:RunFollower.wait"),
)


class Breakdown:
    """Counters around ``parts`` while installed: seconds of CPU and calls, by label."""

    def __init__(self, parts: tuple[tuple[str, str], ...] = DEFAULT_PARTS) -> None:
        self.parts = parts
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._saved: list[tuple[Any, str, Any]] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self.missing: list[str] = []

    def install(self) -> None:
        for label, target in self.parts:
            module_name, _, path = target.partition(":")
            try:
                owner: Any = importlib.import_module(module_name)
                *owners, name = path.split(".")
                for attribute in owners:
                    owner = getattr(owner, attribute)
                if isinstance(owner, type):  # (the class's own function, or its base's: wrapped on it)
                    original = next(base.__dict__[name] for base in owner.__mro__ if name in base.__dict__)
                else:
                    original = getattr(owner, name)
            except (ImportError, AttributeError, StopIteration):
                self.missing.append(target)
                continue
            self._saved.append((owner, name, original))
            by_class = name == "render_lines" and owners == ["Widget"]
            setattr(owner, name, self._wrap(label, original, by_class))

    def reset(self) -> None:
        """Forget what was counted so far (the measured window starts now)."""
        with self._lock:
            self.seconds, self.calls = {}, {}

    def uninstall(self) -> None:
        for owner, name, original in reversed(self._saved):
            setattr(owner, name, original)
        self._saved = []

    def _wrap(self, label: str, function: Callable, by_class: bool) -> Callable:
        local, add = self._local, self._add

        @functools.wraps(function)
        def counted(*args: Any, **kwargs: Any) -> Any:
            key = f"{label}:{type(args[0]).__name__}" if by_class and args else label
            active = local.__dict__.setdefault("active", set())
            if key in active:  # (re-entered: the outer call counts it)
                return function(*args, **kwargs)
            active.add(key)
            begin = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                active.discard(key)
                add(key, time.thread_time() - begin)

        return counted

    def _add(self, key: str, seconds: float) -> None:
        with self._lock:
            self.seconds[key] = self.seconds.get(key, 0.0) + seconds
            self.calls[key] = self.calls.get(key, 0) + 1

    def table(self, wall: float, least_pct: float = 0.02) -> str:
        """A Markdown table: each part's % of one core over ``wall`` seconds, calls, ms a call."""
        order = {label: index for index, (label, _) in enumerate(self.parts)}
        rows = ["| part | % of one core | calls | ms a call |", "|---|---:|---:|---:|"]
        for key in sorted(self.seconds, key=lambda k: (order.get(k.split(":")[0], 99), -self.seconds[k])):
            pct = 100 * self.seconds[key] / wall
            if pct >= least_pct:
                rows.append(
                    f"| {key} | {pct:.2f} | {self.calls[key]} | {1000 * self.seconds[key] / self.calls[key]:.2f} |"
                )
        if self.missing:
            rows.append(f"| (not found: {', '.join(self.missing)}) | | | |")
        return "\n".join(rows)
