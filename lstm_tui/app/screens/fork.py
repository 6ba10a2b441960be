"""Fork from the runs screen (``k``): a sibling of the highlighted run, from its last checkpoint,
with changes that keep the model's shape ("lr=0.5 epochs=20"), made by
:func:`lstm_tui.core.fork.fork_run`; the app then trains it (the main screen's resume path),
or, while a run trains there, leaves it in the table for F8. Mixed into the runs screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lstm_tui.core.compare import RunRow
from lstm_tui.core.config import ConfigError, parse_field

from .prompt import Prompt

FORK_HINT = "field=value pairs, e.g. lr=0.5 epochs=20 clip=0 (empty: continue as the parent does)"


def parse_changes(text: str) -> dict[str, Any]:
    """``"lr=0.5, epochs=20"`` -> ``{"lr": 0.5, "epochs": 20}`` by the config's field rules;
    ``ConfigError`` names the field (or "fork" for text that is no ``field=value``)."""
    changes: dict[str, Any] = {}
    for item in text.replace(",", " ").split():
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ConfigError("fork", f"{item!r} is not field=value ({FORK_HINT})")
        name = name.strip().replace("-", "_")
        changes[name] = parse_field(name, value.strip())  # (an unknown name: ConfigError naming it)
    return changes


def fork_note(row: RunRow) -> str | None:
    """``"forked from X at epoch N"`` for a fork, else None."""
    if not row.forked_from:
        return None
    return f"forked from {Path(row.forked_from).name} at epoch {row.forked_at if row.forked_at is not None else '?'}"


class ForkMixin:
    """``k``: fork the highlighted run (the screen provides cursor_row, root, reload and host)."""

    def action_fork(self) -> None:
        row = self.cursor_row()
        if row is None:
            self.notify("No run to fork yet.", severity="warning")
            return
        if not (Path(row.path) / "checkpoint.pt").is_file():
            self.notify(f"{row.name} has no checkpoint to fork from.", severity="warning")
            return
        made: list[Any] = []

        def submit(text: str) -> str | None:
            from lstm_tui.core.fork import fork_run

            try:
                made.append(fork_run(row.path, parse_changes(text), runs_dir=self.root))
            except ConfigError as exc:
                return f"{exc.field}: {exc.message}"
            return None

        self.app.push_screen(
            Prompt(f"Fork {row.name} from its checkpoint", label=FORK_HINT, submit=submit),
            lambda answer: self._forked(made[0] if made else None),
        )

    def _forked(self, fork: Any) -> None:
        if fork is None:
            return
        self.reload(select=str(fork.path))
        if self.host.run_active:
            self.notify(f"Forked to {fork.name}: F8 there trains it once the current run ends.", markup=False)
            return
        self.notify(f"Forked to {fork.name}: training it.", markup=False)
        self.dismiss(None)
        self.host.resume_run(str(fork.path))
