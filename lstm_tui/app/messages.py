"""Small messages that worker threads post to the app (``post_message`` is thread-safe).

Workers never touch widgets; they post one of these and the app updates the UI on its own
thread.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class EngineEvent(Message):
    """One event from the training engine (``lstm_tui.core.events``), already throttled."""

    def __init__(self, event: Any, run_id: int) -> None:
        super().__init__()
        self.event = event
        self.run_id = run_id


class GenerateChunk(Message):
    """A few more generated characters for the generate box."""

    def __init__(self, request: int, text: str) -> None:
        super().__init__()
        self.request = request
        self.text = text


class GenerateDone(Message):
    """Generation ended; ``error`` says why when it could not run."""

    def __init__(self, request: int, error: str | None = None) -> None:
        super().__init__()
        self.request = request
        self.error = error


class DevicesFound(Message):
    """The devices this machine has (found off the UI thread: it imports torch)."""

    def __init__(self, devices: list[str]) -> None:
        super().__init__()
        self.devices = devices


class RunLoaded(Message):
    """A saved run was loaded for generation."""

    def __init__(self, model: Any, vocab: Any, config: Any, path: str,
                 history: tuple[int, list[dict]] = (0, [])) -> None:
        super().__init__()
        self.model = model
        self.vocab = vocab
        self.config = config
        self.path = path
        self.epoch, self.metrics = history  # epochs trained, and their metrics (for the chart)


class LoadFailed(Message):
    def __init__(self, path: str, reason: str) -> None:
        super().__init__()
        self.path = path
        self.reason = reason
