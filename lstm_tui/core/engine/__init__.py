"""The training engine: :class:`Trainer` runs d2l's training loop with events, control and checkpoints."""

from .control import RunControl
from .epochs import END_PREFIX
from .metrics import evaluate_perplexity, is_out_of_memory
from .trainer import PROGRESS_INTERVAL_S, Trainer

__all__ = ["END_PREFIX", "PROGRESS_INTERVAL_S", "RunControl", "Trainer", "evaluate_perplexity", "is_out_of_memory"]
