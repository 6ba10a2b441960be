"""Recurrent language models: scratch LSTM/GRU/RNN, the fused scratch LSTM, torch.nn wrappers."""

from .base import RecurrentLM, State
from .factory import build_model
from .fused_lstm import LSTMSequence, fused_lstm_layer
from .scratch import GRUCellParams, LSTMCellParams, RNNCellParams, ScratchGRU, ScratchLSTM, ScratchRNN
from .torch_rnn import TorchRNNLM

__all__ = [
    "GRUCellParams",
    "LSTMCellParams",
    "LSTMSequence",
    "RNNCellParams",
    "RecurrentLM",
    "ScratchGRU",
    "ScratchLSTM",
    "ScratchRNN",
    "State",
    "TorchRNNLM",
    "build_model",
    "fused_lstm_layer",
]
