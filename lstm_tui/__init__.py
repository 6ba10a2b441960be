"""lstm-tui: train, watch and question character-level LSTMs in the terminal."""

__version__ = "0.1.0"
