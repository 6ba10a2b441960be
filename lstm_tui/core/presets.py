"""The book's experiments as named presets (d2l, chapter "Long Short-Term Memory").

Each preset is a full :class:`RunConfig`; flags and form fields then override single fields.
Unlike the book's code (whose concise/deep/bidirectional cells train the scratch model again),
each preset trains the model it names.
"""

from __future__ import annotations

from dataclasses import dataclass

from .config import ConfigError, RunConfig

BIDIRECTIONAL_NOTE = (
    "A bidirectional LSTM sees the characters that come next while it trains, so its "
    "perplexity looks excellent, yet it cannot write: when generating there is no future to see, so its text is garbage."
)


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str
    config: RunConfig
    note: str = ""


_BOOK = RunConfig()  # d2l: hidden 256, SGD lr 1, clip 1, batch 32, 35 steps, 500 epochs, 10,000 chars

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("scratch", "LSTM from its gate equations (d2l), lr 1", _BOOK.replace(preset="scratch")),
        Preset("concise", "torch.nn.LSTM, 1 layer, lr 1", _BOOK.replace(preset="concise", impl="torch")),
        Preset("deep", "torch.nn.LSTM, 2 layers, lr 2", _BOOK.replace(preset="deep", impl="torch", layers=2, lr=2.0)),
        Preset(
            "bidirectional",
            "2-layer bidirectional torch.nn.LSTM, lr 1 (a lesson: it writes garbage)",
            _BOOK.replace(preset="bidirectional", impl="torch", layers=2, bidirectional=True),
            note=BIDIRECTIONAL_NOTE,
        ),
        Preset(
            "book",
            "concise model on the whole book with 10% held out (honest perplexity)",
            _BOOK.replace(preset="book", impl="torch", max_tokens=-1, val_split=0.1, epochs=50),
        ),
    )
}

DEFAULT_PRESET = "scratch"


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError("preset", f"{name!r} is not a preset; expected one of {', '.join(PRESETS)}") from None
