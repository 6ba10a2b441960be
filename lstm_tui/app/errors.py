"""An error from the model's side, in the app's words (the generate box and the gate inspector)."""

from __future__ import annotations


def readable_error(exc: BaseException) -> str:
    """The core's advice is for Python callers (``unknown='unk'``); the app shows the reason.

    A text the vocabulary cannot read comes as a GenerationError (or a GateError caused by one),
    worded without that advice by ``explain()``. Call it on a worker thread (it imports torch).
    """
    from lstm_tui.core.gates import GateError
    from lstm_tui.core.generate import GenerationError

    cause = exc.__cause__ if isinstance(exc, GateError) else exc
    if isinstance(cause, GenerationError):
        return cause.explain()
    if isinstance(exc, GateError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
