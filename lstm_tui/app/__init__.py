"""The Textual front end. ``run_app`` is the entry point used by ``lstm_tui.cli``.

Importing this package is cheap: Textual and the app module are imported when ``run_app``
is called, and torch only inside worker threads once a run starts.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from lstm_tui.core.config import RunConfig

__all__ = ["run_app"]


def run_app(
    config: RunConfig | None = None,
    *,
    autostart: bool = False,
    runs_dir: str | os.PathLike | None = None,
    headless: bool = False,
    follow: list[str | os.PathLike] | None = None,
    follow_sweep: str | None = None,
    on_hangup: str = "stop",
) -> int:
    """Open the app with the form pre-filled from ``config``; ``autostart`` starts training at once;
    ``follow``: run folders to follow at once (``lstm-tui watch``), ``follow_sweep``: a sweep
    to follow (``watch --sweep``: its runs, and those it starts later); ``on_hangup``: "stop" or "detach".

    Returns the process exit code (0 when the user quit normally). When a run was stopped on the
    way out (quit, SIGTERM, SIGHUP), where its checkpoint is and how to continue it go to stderr.
    """
    import sys

    from .main import LstmTuiApp

    app = LstmTuiApp(config, autostart=autostart, runs_dir=runs_dir, follow=follow or (), on_hangup=on_hangup)
    app.initial_sweep = follow_sweep
    if not headless:  # hangups end the process, with a checkpoint (see lifecycle.py)
        from .lifecycle import install

        install(app)
    result = app.run(headless=headless)
    if app.exit_note:
        try:
            print(app.exit_note, file=sys.stderr, flush=True)
        except (OSError, ValueError):  # the terminal is gone (SSH dropped)
            pass
    code = app.return_code
    if code is None:
        code = result if isinstance(result, int) else 0
    return int(code)
