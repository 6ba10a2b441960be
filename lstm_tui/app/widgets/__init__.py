"""The app's widgets."""

from .config_form import ConfigForm
from .footer import KeyFooter
from .generate_box import GenerateBox, GenerateRequest
from .perplexity_chart import PerplexityChart
from .prediction_log import PredictionLog
from .status_bar import StatusBar

__all__ = ["ConfigForm", "GenerateBox", "GenerateRequest", "KeyFooter", "PerplexityChart", "PredictionLog", "StatusBar"]
