"""Modal screens: help, quit confirmation, load a run."""

from .confirm_quit import ConfirmQuit
from .help import HelpScreen
from .load_run import LoadRunScreen

__all__ = ["ConfirmQuit", "HelpScreen", "LoadRunScreen"]
