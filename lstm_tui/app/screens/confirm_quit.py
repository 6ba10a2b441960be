"""Asked before quitting while a run trains."""

from __future__ import annotations

from .confirm import Confirm


class ConfirmQuit(Confirm):
    def __init__(self) -> None:
        super().__init__("A run is training.", "Stop it (a checkpoint is saved) and quit?",
                         yes="Quit", no="Keep training")
