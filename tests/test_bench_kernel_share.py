"""bench/kernel_share.py measures the LSTM kernel's share of a batch on both sides, on real data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

import kernel_share  # noqa: E402


def test_kernel_share_times_both_sides_and_finds_the_kernel(shared_data_dir, tmp_path, capsys):
    code = kernel_share.main(
        [
            "--configs",
            "concise",
            "--pairs",
            "2",
            "--batches",
            "2",
            "--profiled",
            "1",
            "--data-dir",
            str(shared_data_dir),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    payload = json.loads((tmp_path / "kernel-share-cpu.json").read_text())
    (result,) = payload["results"]
    assert result["name"] == "concise" and result["batches"] == 2 and len(result["pair_ratios"]) == 2
    assert result["engine_ms"] > 0 and result["reference_ms"] > 0
    # both sides spend most of a batch inside oneDNN's LSTM layer, and not more than all of it
    for side in ("engine", "reference"):
        assert result[f"kernel_{side}_ms"] > 0
        assert 0.3 < result[f"kernel_share_{side}"] <= 1.0
    assert result["ceiling"] == pytest.approx(1 / result["kernel_share_reference"])
    table = (tmp_path / "kernel-share-cpu.md").read_text()
    assert "| concise |" in table and "ceiling" in table
    assert "[concise] 2 batches" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--configs", "scratch"], "unknown config(s) scratch"),
        (["--pairs", "0"], "must be at least 1"),
        (["--device", "cuda"], "CPU only"),
    ],
)
def test_kernel_share_rejects_what_it_cannot_measure(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        kernel_share.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
