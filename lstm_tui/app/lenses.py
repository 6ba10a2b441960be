"""The lenses' side of the main screen, mixed into :class:`~lstm_tui.app.main.LstmTuiApp`: F4
opens the probability lens (:mod:`.screens.lens`) on the session's model, or on a run folder
(a followed run: ``action_lens(run_path)``); ``g`` toggles the chart's gradient-norm series.
(The generate box's time-lapse, ``[`` / ``]``, is in :mod:`.generating`.)"""

from __future__ import annotations

from textual.widgets import Input

CHART_TITLE = "Perplexity (log scale)"
CHART_GRAD_TITLE = "Perplexity and gradient norm (log scale)"


class LensesMixin:
    """F4 and g."""

    def action_lens(self, run_path: str | None = None) -> None:
        """F4: the probability lens on the session's model (or the run folder ``run_path``; with no
        model of its own, the session's run folder, e.g. a followed run's)."""
        from .screens.gates import DEFAULT_TEXT
        from .screens.lens import LensScreen

        prefix = self.query_one("#gen-prefix", Input).value
        self.push_screen(
            LensScreen(
                self.session.model_choice(self.run_active),
                run_path=run_path or self.session.run_path,
                text=prefix if len(prefix) >= 2 else DEFAULT_TEXT,
                runs_dir=self.runs_dir,
            )
        )

    def action_toggle_grad(self) -> None:
        """g: show or hide the epochs' gradient norm (before clipping) on the perplexity chart."""
        shown = self.chart.toggle_grad()
        self.chart.border_title = CHART_GRAD_TITLE if shown else CHART_TITLE
