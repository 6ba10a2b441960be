"""SIGTERM and SIGHUP (the SSH session dropping) sent to a real ``lstm-tui train`` process: it stops
at the next batch, writes a checkpoint, exits 0, and ``--resume`` continues it. (SIGINT: test_cli_train.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_tui.cli import main
from lstm_tui.core.checkpoint import load_model
from lstm_tui.core.runs import RunDir

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signal_to_a_real_train_process_then_resume(sig, small_corpus, tmp_path, capsys):
    """Ctrl+C, SIGTERM and SIGHUP (the SSH session dropping) stop a real run with a checkpoint."""
    runs_dir = tmp_path / "runs"
    # Many epochs, so the signal surely lands while it trains; the resume then adds one more.
    cmd = [
        sys.executable,
        "-m",
        "lstm_tui",
        "train",
        "--corpus",
        str(small_corpus),
        "--max-tokens",
        "2000",
        "--hidden",
        "16",
        "--epochs",
        "5000",
        "--batch-size",
        "8",
        "--num-steps",
        "10",
        "--device",
        "cpu",
        "--json",
        "--runs-dir",
        str(runs_dir),
    ]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if json.loads(line)["event"] == "epoch":
                proc.send_signal(sig)
                break
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in "".join(lines + [out]).splitlines()]
    assert events[-1]["event"] == "finished" and events[-1]["stopped"] is True
    stopped_at = events[-1]["epoch"]
    assert 1 <= stopped_at < 5000
    assert "Traceback" not in err and "continue with" in err and str(runs_dir) in err
    (run,) = [p for p in runs_dir.iterdir() if p.is_dir()]
    _, _, _, checkpoint = load_model(run / "checkpoint.pt")
    assert json.loads((run / "summary.json").read_text())["status"] == "stopped"

    assert main(["train", "--resume", str(run), "--epochs", str(stopped_at + 1), "--json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[-1]["event"] == "finished" and events[-1]["epoch"] == stopped_at + 1 and not events[-1]["stopped"]
    assert [m["epoch"] for m in RunDir(run).read_metrics()] == list(range(1, stopped_at + 2))


def test_batch_times_steps_longer_than_the_corpus_exits_2_naming_both(small_corpus, tmp_path, capsys):
    argv = [
        "train",
        "--corpus",
        str(small_corpus),
        "--max-tokens",
        "300",
        "--batch-size",
        "32",
        "--num-steps",
        "35",
        "--device",
        "cpu",
        "--runs-dir",
        str(tmp_path / "runs"),
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "batch_size 32" in err and "num_steps 35" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()  # no run folder for a run that could not start
