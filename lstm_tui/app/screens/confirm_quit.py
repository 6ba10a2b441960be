"""Asked before quitting while a run trains (or is already stopping)."""

from __future__ import annotations

from .confirm import Confirm


class ConfirmQuit(Confirm):
    def __init__(self, stopping: bool = False) -> None:
        if stopping:  # "keep training" could not undo a stop that is under way
            super().__init__(
                "The run is stopping.",
                "Its checkpoint is being saved. Quit once it has stopped?",
                yes="Quit",
                no="Stay",
            )
        else:
            super().__init__(
                "A run is training.", "Stop it (a checkpoint is saved) and quit?", yes="Quit", no="Keep training"
            )
