"""A generated English-like text for tests that need some text but not the book."""

from __future__ import annotations

import random

SMALL_WORDS = [
    "the",
    "time",
    "traveller",
    "machine",
    "said",
    "and",
    "of",
    "a",
    "to",
    "in",
    "was",
    "it",
    "that",
    "he",
    "his",
    "we",
    "i",
    "you",
    "had",
    "for",
    "as",
    "at",
    "on",
    "with",
    "but",
    "not",
    "my",
    "they",
    "there",
    "is",
    "this",
    "one",
    "which",
    "were",
    "be",
    "me",
    "from",
    "by",
    "so",
    "all",
    "have",
    "what",
    "our",
    "said",
    "psychologist",
    "medical",
    "man",
    "very",
    "little",
    "then",
    "looked",
    "into",
    "our",
    "hand",
    "face",
    "fire",
    "light",
    "dark",
    "quick",
    "quiet",
    "queer",
    "question",
    "box",
    "next",
    "fox",
    "six",
    "jump",
    "just",
    "joy",
    "lazy",
    "zebra",
    "dozen",
    "amazing",
    "eye",
    "way",
    "day",
    "now",
    "how",
    "room",
    "table",
    "chair",
    "glass",
    "clock",
    "lamp",
    "night",
    "morning",
    "world",
    "future",
    "past",
    "years",
    "four",
    "dimensions",
    "space",
    "length",
    "breadth",
    "thickness",
    "duration",
    "upon",
    "about",
    "again",
    "against",
    "before",
    "after",
    "through",
    "under",
    "over",
    "thing",
    "things",
    "came",
    "went",
    "saw",
    "seemed",
    "began",
    "could",
    "would",
    "should",
    "people",
]


def small_corpus_text(chars: int = 40_000, seed: int = 0) -> str:
    """Deterministic English-like text of about ``chars`` characters (not the book): capitalised
    sentences of ``SMALL_WORDS`` with commas and full stops, lines of at most 70 characters,
    a blank line between paragraphs."""
    rng = random.Random(seed)
    lines: list[str] = []
    line = ""
    size = 0
    while size < chars:
        words = rng.choices(SMALL_WORDS, k=rng.randint(4, 14))
        if rng.random() < 0.3:
            words[rng.randrange(len(words) - 1)] += ","
        sentence = " ".join(words).capitalize() + rng.choice(".....?!")
        for word in sentence.split():
            if line and len(line) + 1 + len(word) > 70:
                lines.append(line)
                size += len(line) + 1
                line = ""
            line = f"{line} {word}" if line else word
        if rng.random() < 0.1:
            lines += [line, ""]
            size += len(line) + 2
            line = ""
    lines.append(line)
    return "\n".join(lines) + "\n"
