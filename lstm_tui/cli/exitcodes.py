"""The CLI's exit statuses and its debug switch (imported by every command module)."""

from __future__ import annotations

#: Set to 1 to see tracebacks of unexpected errors.
DEBUG_ENV = "LSTM_TUI_DEBUG"

#: 0 success (a user stop too), 1 the run failed (or its final checkpoint could not be written),
#: 2 bad input, 130 interrupted.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

__all__ = ["DEBUG_ENV", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE"]
