"""The one error type of the data layer.

Every corpus problem (no network, bad checksum, a binary file, a corpus too short for one
batch) becomes a :class:`CorpusError` with a ``reason`` (what went wrong) and a ``hint`` (what
the user can do), so front ends can show it without a traceback.
"""

from __future__ import annotations


class CorpusError(Exception):
    """A corpus could not be obtained or used; ``str()`` is "reason (hint)"."""

    def __init__(self, reason: str, hint: str = ""):
        super().__init__(reason, hint)
        self.reason = reason
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.reason} ({self.hint})" if self.hint else self.reason


class LoadCancelled(CorpusError):
    """Loading was cancelled (the trainer's stop, the app's F7): not a problem of the corpus."""

    def __init__(self) -> None:
        super().__init__("stopped while loading the corpus", "nothing was trained")
