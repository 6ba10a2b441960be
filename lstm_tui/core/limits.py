"""Limits front ends check before importing torch (``lstm-tui --help`` must stay fast)."""

from __future__ import annotations

#: The most tokens one generate request may ask for (core/generate.py enforces it).
GENERATE_MAX_LENGTH = 100_000
