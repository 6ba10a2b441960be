"""The app's state: one value, held in a Textual reactive on the app (see ``LstmTuiApp.state``)."""

from __future__ import annotations

from enum import Enum


class AppState(str, Enum):
    """What the app is doing. A ``str`` enum: ``app.state == "training"`` reads as before, and the
    status line shows the value."""

    IDLE = "idle"
    PREPARING = "preparing"  # a run is being prepared: the corpus read, the run folder made
    LOADING = "loading"  # ctrl+o: a saved run's checkpoint is being read (nothing trains)
    LOADED = "loaded"  # a saved run is loaded for talking to it
    TRAINING = "training"
    PAUSED = "paused"
    STOPPING = "stopping"
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value

    @property
    def trains(self) -> bool:
        """A run is going (being prepared, training, paused or stopping): F7 stops it."""
        return self in TRAINING_STATES

    @property
    def busy(self) -> bool:
        """Something is going that the form must not change under: a run, or a saved run's load."""
        return self.trains or self is AppState.LOADING


TRAINING_STATES = frozenset({AppState.PREPARING, AppState.TRAINING, AppState.PAUSED, AppState.STOPPING})
#: A run ended (its folder may be continued with F8).
DONE_STATES = frozenset({AppState.FINISHED, AppState.STOPPED, AppState.FAILED})
