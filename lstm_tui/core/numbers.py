"""How a perplexity is written for people: two decimals, or three significant digits once it
is huge (a diverged run's 7.25e+30, not a 31-digit number that pushes the rest off the line)."""

from __future__ import annotations

import math

#: From here on a perplexity is written in scientific notation.
LARGE = 1e5


def format_perplexity(value: float) -> str:
    """'9.70', '1.23e+05', 'inf', 'nan'."""
    if not math.isfinite(value):
        return str(value)
    return f"{value:.2f}" if abs(value) < LARGE else f"{value:.3g}"
