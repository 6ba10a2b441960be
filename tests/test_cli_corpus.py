"""``lstm-tui train`` with your own text: stdin, the corpus flags, the test split, a changed
corpus on resume, load progress in --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_tui.cli import main
from lstm_tui.cli.printer import load_line
from lstm_tui.core.events import LoadProgress

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "--max-tokens",
    "0",
    "--hidden",
    "16",
    "--epochs",
    "1",
    "--batch-size",
    "4",
    "--num-steps",
    "8",
    "--device",
    "cpu",
    "--predict-every",
    "0",
    "--checkpoint-every",
    "0",
    "--impl",
    "torch",
    "--prefix",
    "the",
]
TEXT = "the time traveller was expounding a recondite matter to us\n" * 40


@pytest.mark.parametrize(
    "flag, value, message",
    [
        ("--encoding", "klingon", "encoding: 'klingon' is not an encoding"),
        ("--errors", "ignore", "errors: 'ignore' is not allowed; expected one of strict, replace"),
        ("--min-freq", "-2", "min_freq"),
        ("--max-vocab", "1", "max_vocab"),
        ("--test-split", "0.7", "test_split"),
    ],
)
def test_bad_corpus_flags_exit_2_naming_the_field(flag, value, message, capsys, tmp_path):
    assert main(["train", flag, value, "--runs-dir", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_allow_corpus_change_needs_resume(capsys, tmp_path):
    assert main(["train", "--allow-corpus-change", "--runs-dir", str(tmp_path)]) == 2
    assert "--allow-corpus-change only applies to --resume" in capsys.readouterr().err


def test_stdin_corpus_with_a_test_split_in_json(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "lstm_tui",
            "train",
            "--corpus",
            "-",
            "--json",
            "--test-split",
            "0.1",
            "--runs-dir",
            str(tmp_path / "runs"),
            *TINY,
        ],
        input=TEXT,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert "load" in kinds and kinds.index("load") < kinds.index("started")
    finished = events[-1]
    assert finished["event"] == "finished" and finished["test_perplexity"] > 1
    run = next((tmp_path / "runs").iterdir())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["corpus_bytes"] == len(TEXT) and summary["test_perplexity"] == pytest.approx(
        finished["test_perplexity"]
    )


def test_resume_over_a_changed_corpus_exits_2_naming_both_hashes_unless_allowed(tmp_path, capsys):
    corpus, runs = tmp_path / "book.txt", tmp_path / "runs"
    corpus.write_text(TEXT)
    assert main(["train", "--corpus", str(corpus), "--runs-dir", str(runs), "--name", "r", *TINY]) == 0
    run = next(runs.iterdir())
    old = json.loads((run / "summary.json").read_text())["corpus_sha1"]
    corpus.write_text(TEXT + TEXT.splitlines()[0] + "\n")
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "2", "--runs-dir", str(runs)]) == 2
    err = capsys.readouterr().err
    assert old in err and "it is now SHA-1" in err and "--allow-corpus-change" in err
    assert main(["train", "--resume", str(run), "--epochs", "2", "--runs-dir", str(runs), "--allow-corpus-change"]) == 0
    assert "test perplexity" not in capsys.readouterr().out


def test_load_line_shows_the_stage_and_percentage():
    assert (
        load_line(LoadProgress("counting", 42_000_000, 100_000_000)) == "loading corpus: counting 42.0/100.0 MB (42%)"
    )
    assert load_line(LoadProgress("reading", 3_100_000, None)) == "loading corpus: reading 3.1 MB"


def test_ctrl_c_while_waiting_for_stdin_returns_at_once(tmp_path):
    """A pipe that sends nothing: a status says so, and Ctrl+C ends the load at once (130)."""
    import signal
    import time

    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lstm_tui",
            "train",
            "--corpus",
            "-",
            "--json",
            "--runs-dir",
            str(tmp_path / "runs"),
            *TINY,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()  # (blocks until the load has waited FIFO_WAIT_S)
        assert json.loads(line) == {"event": "status", "message": "waiting for standard input to send the corpus"}
        asked = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
        assert time.monotonic() - asked < 2
    finally:
        proc.kill()
        proc.wait()
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
