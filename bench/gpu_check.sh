#!/usr/bin/env bash
# One prepared call for a lent GPU machine (the device tool gives ~15 minutes a session):
# first the CUDA paths' correctness (the captured training step against the eager one, the
# fused LSTM), then the throughput figures against the book's code, fp32 and bf16.
#
#   bash bench/gpu_check.sh            # results under $OUT (the device tool's folder) or bench/results
#
# It assumes the project and torch are installed (pip install torch==... -e '.[test]').
set -uo pipefail
out="${OUT:-bench/results}"
mkdir -p "$out"
python - <<'PY' | tee "$out/gpu-env.txt"
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "device",
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")
PY
python -m pytest -q tests/core/test_graph_step.py tests/core/test_models_fused.py 2>&1 | tail -5 | tee "$out/gpu-tests.txt"
timeout 300 python bench/throughput.py --device cuda --configs scratch,concise,large --repeat 1 --out "$out"
timeout 120 python bench/throughput.py --device cuda --amp --configs concise,large --repeat 1 --out "$out"
