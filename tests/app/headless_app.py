"""Run the app headless with autostart (for the signal tests): ``python headless_app.py CONFIG_JSON RUNS_DIR``.

Goes through ``run_app``, the entry point the CLI uses: exits with the app's return code, and the
exit note (where the checkpoint is) goes to stderr.
"""

from __future__ import annotations

import json
import sys

import torch

from lstm_tui.app import run_app
from lstm_tui.core.config import RunConfig

if __name__ == "__main__":
    torch.set_num_threads(1)
    config = RunConfig.from_mapping(json.loads(sys.argv[1]))
    sys.exit(run_app(config, autostart=True, runs_dir=sys.argv[2], headless=True))
