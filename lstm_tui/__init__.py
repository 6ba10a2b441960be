"""lstm-tui: train, watch and question character-level LSTMs in the terminal."""

import logging

__version__ = "0.1.0"

# A library leaves logging to its application: without a handler of its own, the records of
# ``lstm_tui.*`` loggers (a failed run's traceback) would reach stderr through logging's
# last-resort handler in a program that set up no logging (the CLI prints its own lines).
logging.getLogger("lstm_tui").addHandler(logging.NullHandler())
