"""The runs screen's file operations: delete, rename and export runs (:class:`RunFilesMixin`).

A run this app trains (the main screen's or the book's) is never deleted or renamed; a run
another process says it trains is, after a question (that process may have been killed).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from lstm_tui.core.compare import RunRow, delete_run, rename_run
from lstm_tui.core.runs import RunError

from .confirm import Confirm
from .prompt import Prompt


def same_run(path: str | os.PathLike | None, other: str | os.PathLike) -> bool:
    """Whether two paths name the same run folder (the app's may be relative, or a link)."""
    return path is not None and Path(path).resolve() == Path(other).resolve()


class RunFilesMixin:
    """d deletes, n renames, x exports (the screen provides rows, marks, root and reload)."""

    def training_here(self, row: RunRow) -> bool:
        """Whether this app trains ``row``: the main screen's run, or the book's.

        While the main screen's run starts its folder is not known yet, so any "running"
        run counts. Another "running" run was left so by a process that may be gone.
        """
        if self.host.run_active:
            path = self.host.session.run_path
            if path is None or same_run(path, row.path):
                return True
        return self.book_active and (str(row.path) in self.book_paths or same_run(self._book.path, row.path))

    def _unless_training(self, row: RunRow, action: str, proceed: Callable[[bool], None], detail: str = "") -> None:
        """``proceed(force)`` for ``row``: at once unless it says it is training; refused when
        this app trains it, else after a question (its process may have been killed)."""
        if row.status != "running":
            proceed(False)
            return
        if self.training_here(row):
            self.notify(
                f"Cannot {action} {row.name}: it is training. Stop it first (F7 on the main screen"
                f"{', b here for the book' if self.book_active else ''}).",
                title=f"Not {action}d",
                severity="error",
                markup=False,
            )
            return

        def answer(yes: bool | None) -> None:
            if yes:
                proceed(True)

        self.app.push_screen(
            Confirm(
                f"{action.capitalize()} {row.name} anyway?",
                f"{row.name} says it is still training, but not in this app. If no other lstm-tui process is "
                f"training it (it may have been killed), {action} it anyway?{detail}",
                yes=action.capitalize(),
                no="Keep" if action == "delete" else "Cancel",
                width=72,
            ),
            answer,
        )

    def action_delete(self) -> None:
        row = self.cursor_row()
        if row is None:
            self.notify("No run to delete.", severity="warning")
            return
        removed = f"Its folder, metrics and checkpoint are removed for good:\n{row.path}"

        def proceed(force: bool) -> None:
            if force:  # the question about its training was asked (and said this)
                self.delete(row, force=True)
            else:
                self._ask_delete(row, removed)

        self._unless_training(row, "delete", proceed, detail="\n\n" + removed)

    def _ask_delete(self, row: RunRow, removed: str) -> None:
        def answer(yes: bool | None) -> None:
            if yes:
                self.delete(row)

        self.app.push_screen(Confirm(f"Delete the run {row.name}?", removed, yes="Delete", no="Keep", width=72), answer)

    def delete(self, row: RunRow, force: bool = False) -> None:
        try:
            delete_run(self.root, row.path, force=force)
        except RunError as exc:
            self.notify(str(exc), title="Not deleted", severity="error", markup=False)
        else:
            self.marked.discard(str(row.path))
            self.notify(f"deleted {row.name}", markup=False)
        self.reload()

    def action_rename(self) -> None:
        row = self.cursor_row()
        if row is None:
            self.notify("No run to rename.", severity="warning")
            return
        self._unless_training(row, "rename", lambda force: self._ask_rename(row, force))

    def _ask_rename(self, row: RunRow, force: bool) -> None:
        def submit(text: str) -> str | None:
            try:
                renamed = rename_run(self.root, row.path, text, force=force)
            except RunError as exc:
                return str(exc)
            old = str(row.path)
            if old in self.marked:
                self.marked.discard(old)
                self.marked.add(str(renamed.path))
            self.reload(select=str(renamed.path))
            if renamed.name != text:
                self.notify(f"renamed to {renamed.name} (folder names keep letters, digits, . _ -)", markup=False)
            return None

        self.app.push_screen(
            Prompt(
                f"Rename {row.name}",
                row.name,
                submit=submit,
                label="New name (letters, digits, . _ -; anything else becomes -):",
            )
        )

    # ------------------------------------------------------------------ export
    def action_export(self) -> None:
        runs = self.chosen()
        if not runs:
            self.notify("No runs to export yet.", severity="warning")
            return
        count = len(runs)
        what = runs[0].name if count == 1 else f"{count} runs"

        def submit(text: str) -> str | None:
            if not text:
                return "type a folder"
            try:
                paths = self.export(runs, Path(text).expanduser())
            except (RunError, OSError) as exc:
                return str(exc)
            self.notify("wrote " + ", ".join(str(p) for p in paths), title=f"Exported {what}", timeout=8, markup=False)
            return None

        self.app.push_screen(
            Prompt(
                f"Export {what}",
                str(self.exports_dir),
                submit=submit,
                label="Folder for the metrics (CSV + JSON per run) and a markdown report:",
            )
        )

    def export(self, runs: list[RunRow], folder: Path) -> list[Path]:
        from lstm_tui.core.export import comparison_report, export_run

        written: list[Path] = []
        for row in runs:
            written += export_run(row.path, folder)
        stamp = f"{datetime.now():%Y%m%d-%H%M%S}"
        written.append(comparison_report([row.path for row in runs], folder / f"report-{stamp}.md"))
        return written
