"""From text to tokens, with d2l's exact cleaning so the book's numbers come out.

d2l reads lines with universal newlines, replaces every run of non-letters by one space, strips
and lower-cases each line; char tokens of consecutive lines are later concatenated WITHOUT a
separator. That is what gives the 28-token vocabulary and the book's corpus length.
"""

from __future__ import annotations

import re

_NON_LETTERS = re.compile("[^A-Za-z]+")
TOKEN_KINDS = ("char", "word")


def split_lines(text: str) -> list[str]:
    """Lines like ``open(...).readlines()`` gives them (\\n, \\r\\n, \\r), newlines removed."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def clean_lines(text: str, raw: bool = False) -> list[str]:
    """d2l's cleaning per line (letters only, lower case).

    ``raw`` keeps each line as written and ends it with its newline, so word and line breaks
    survive as tokens (without it "the" at a line end would run into the next line's word).
    """
    lines = split_lines(text)
    if raw:
        return [line + "\n" for line in lines]
    return [_NON_LETTERS.sub(" ", line).strip().lower() for line in lines]


def tokenize(lines: list[str], token: str = "char") -> list[list[str]]:
    """Split each line into characters or whitespace-separated words."""
    if token == "char":
        return [list(line) for line in lines]
    if token == "word":
        return [line.split() for line in lines]
    raise ValueError(f"unknown token kind {token!r}; expected one of {', '.join(TOKEN_KINDS)}")
