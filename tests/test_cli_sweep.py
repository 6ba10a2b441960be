"""``lstm-tui sweep`` with real ``train`` processes: a 2x2 grid with --parallel 2, bad values (exit 2
before anything starts), Ctrl+C mid-sweep (every run checkpointed, no process left) and --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lstm_tui.cli import main
from lstm_tui.core.runs import LOCK_FILE, RunDir, read_lock
from lstm_tui.core.runs.files import SWEEP_TAG_FILE, SWEEPS_DIR
from lstm_tui.core.sweep import load_record

REPO = Path(__file__).resolve().parents[1]
TINY = [
    "--preset",
    "concise",
    "--hidden",
    "16",
    "--max-tokens",
    "2000",
    "--batch-size",
    "8",
    "--num-steps",
    "10",
    "--device",
    "cpu",
    "--predict-every",
    "0",
    "--checkpoint-every",
    "0",
]


def _tiny(data_dir: Path, runs: Path, *extra: str) -> list[str]:
    return ["sweep", *TINY, "--data-dir", str(data_dir), "--runs-dir", str(runs), *extra]


def test_a_2x2_grid_trains_4_tagged_runs_in_parallel_and_sorts_by_val_ppl(shared_data_dir, tmp_path, capsys):
    runs = tmp_path / "runs"
    argv = _tiny(
        shared_data_dir,
        runs,
        "--epochs",
        "2",
        "--val-split",
        "0.1",
        "--lr",
        "0.5,2",
        "--layers",
        "1,2",
        "--parallel",
        "2",
        "--name",
        "grid",
        "--json",
    )
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sweep"] == "grid" and out["varying"] == ["layers", "lr"] and out["sort"] == "val_ppl"
    rows = out["results"]
    assert sorted((r["values"]["layers"], r["values"]["lr"]) for r in rows) == [(1, 0.5), (1, 2.0), (2, 0.5), (2, 2.0)]
    vals = [r["val_ppl"] for r in rows]
    assert all(v is not None for v in vals) and vals == sorted(vals)
    assert all(r["status"] == "finished" and r["epochs_done"] == 2 for r in rows)
    record = load_record(runs, "grid")
    folders = {run.folder for run in record.runs}
    assert len(folders) == 4 and None not in folders
    for run in record.runs:
        tag = json.loads((runs / run.folder / SWEEP_TAG_FILE).read_text())
        assert tag == {"sweep": "grid", "index": run.index, "values": run.values}
        config = RunDir(runs / run.folder).read_config()
        assert (config.layers, config.lr, config.hidden, config.threads) == (
            run.values["layers"],
            run.values["lr"],
            16,
            max(1, len(os.sched_getaffinity(0)) // 2),
        )
    # --results prints the same table again, as markdown by default
    assert main(["sweep", "--results", "grid", "--runs-dir", str(runs)]) == 0
    table = capsys.readouterr().out
    assert "| run | layers | lr | val ppl |" in table
    lines = [line for line in table.splitlines() if line.startswith("| 2")]
    assert [line.split(" | ")[0].lstrip("| ") for line in lines] == [r["run"] for r in rows]


def test_a_bad_value_exits_2_naming_the_field_and_starts_nothing(tmp_path, capsys):
    runs = tmp_path / "runs"
    assert main(["sweep", "--runs-dir", str(runs), "--lr", "0.5,-1"]) == 2
    err = capsys.readouterr().err
    assert "--lr" in err and "-1" in err and "1e-08 to 1,000" in err
    assert main(["sweep", "--runs-dir", str(runs), "--hidden", "16,", "--lr", "1"]) == 2
    assert "--hidden" in capsys.readouterr().err
    assert main(["sweep", "--runs-dir", str(runs), "--cell", "lstm,gruu"]) == 2
    assert "one of lstm, gru, rnn" in capsys.readouterr().err
    assert main(["sweep", "--runs-dir", str(runs), "--zip", "--lr", "0.5,1", "--hidden", "16,32,64"]) == 2
    err = capsys.readouterr().err
    assert "--zip" in err and "lr has 2 values, hidden has 3" in err
    assert main(["sweep", "--runs-dir", str(runs), "--devices", "cpu,gpu7", "--lr", "1,2"]) == 2
    assert "--devices" in capsys.readouterr().err
    assert not runs.exists()  # nothing recorded, nothing started


def test_zip_pairs_the_lists(tmp_path):
    from lstm_tui.cli import build_parser
    from lstm_tui.cli.sweep import build_spec

    ns = build_parser().parse_args(["sweep", "--zip", "--lr", "0.5,1,2", "--hidden", "16,32,64", "--parallel", "3"])
    spec = build_spec(ns)
    assert [(p.config.lr, p.config.hidden) for p in spec.points] == [(0.5, 16), (1.0, 32), (2.0, 64)]
    ns = build_parser().parse_args(["sweep", "--lr", "0.5,1,2", "--hidden", "16,32,64"])
    assert len(build_spec(ns).points) == 9


def _locked_pids(runs: Path, count: int, timeout: float = 120.0) -> list[int]:
    """Wait until ``count`` run folders are training (a lock and a first metrics line); their pids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [
            p
            for p in runs.glob("2*")
            if (p / LOCK_FILE).is_file()
            and (p / "metrics.jsonl").is_file()
            and (p / "metrics.jsonl").read_text().strip()
        ]
        if len(busy) >= count:
            return [read_lock(p / LOCK_FILE)["pid"] for p in busy]
        time.sleep(0.2)
    raise AssertionError(f"{count} runs did not start training in {timeout} s")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ctrl_c_stops_every_run_with_a_checkpoint_and_resume_finishes_them(shared_data_dir, tmp_path, capsys):
    runs = tmp_path / "runs"
    # enough epochs that the signal lands while both train, few enough that the resume is quick
    argv = _tiny(shared_data_dir, runs, "--epochs", "100", "--lr", "0.5,1,2", "--parallel", "2", "--name", "stopme")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstm_tui", *argv], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        pids = _locked_pids(runs, 2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "--resume stopme" in err and "Traceback" not in err
    assert not any(_alive(pid) for pid in pids)  # every train process has ended
    record = load_record(runs, "stopme")
    started = [run for run in record.runs if run.folder]
    assert len(started) == 2 and record.runs[2].folder is None  # the third never started
    for run in started:
        folder = RunDir(runs / run.folder)
        summary = folder.summary()
        assert summary.status == "stopped" and folder.has_checkpoint() and not (folder.path / LOCK_FILE).exists()
        assert summary.epoch < 100
    assert "not started" in out

    assert main(["sweep", "--resume", "stopme", "--runs-dir", str(runs), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert [r["status"] for r in rows] == ["finished"] * 3 and all(r["epochs_done"] == 100 for r in rows)
    record = load_record(runs, "stopme")
    assert [r.folder for r in record.runs[:2]] == [r.folder for r in started]  # resumed in place
    for run in record.runs:
        epochs = [m["epoch"] for m in RunDir(runs / run.folder).read_metrics()]
        assert epochs == list(range(1, 101))
    assert len([p for p in runs.iterdir() if p.name != SWEEPS_DIR]) == 3  # no extra folders
    # a second resume has nothing left to do
    assert main(["sweep", "--resume", "stopme", "--runs-dir", str(runs)]) == 0
    assert "0 of 3 runs to train" in capsys.readouterr().err


def test_sigterm_stops_the_sweep_with_143_and_the_run_checkpointed(shared_data_dir, tmp_path):
    runs = tmp_path / "runs"
    argv = _tiny(shared_data_dir, runs, "--epochs", "5000", "--lr", "1", "--name", "term")
    proc = subprocess.Popen(
        [sys.executable, "-m", "lstm_tui", *argv], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        (pid,) = _locked_pids(runs, 1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert not _alive(pid)
    (run,) = load_record(runs, "term").runs
    folder = RunDir(runs / run.folder)
    assert folder.summary().status == "stopped" and folder.has_checkpoint()


def test_book_and_exercise_sweeps_from_the_command_line(shared_data_dir, tmp_path, capsys):
    from lstm_tui.cli import build_parser
    from lstm_tui.cli.sweep import build_spec

    ns = build_parser().parse_args(["sweep", "--book", "--seed", "4", "--data-dir", "/d", "--epochs", "3"])
    spec = build_spec(ns)
    assert [p.values["preset"] for p in spec.points] == ["scratch", "concise", "deep", "bidirectional"]
    assert {(p.config.seed, p.config.data_dir, p.config.epochs) for p in spec.points} == {(4, "/d", 3)}
    assert main(["sweep", "--book", "--lr", "1,2"]) == 2
    assert "one value per field" in capsys.readouterr().err
    assert main(["sweep", "--exercise", "nope"]) == 2
    assert "clipping" in capsys.readouterr().err  # names the cards there are
    assert main(["sweep", "--list-exercises"]) == 0
    assert "clipping" in capsys.readouterr().out

    runs = tmp_path / "runs"
    argv = [
        "sweep",
        "--exercise",
        "sampling",
        "--hidden",
        "16",
        "--epochs",
        "2",
        "--max-tokens",
        "2000",
        "--batch-size",
        "8",
        "--num-steps",
        "10",
        "--device",
        "cpu",
        "--predict-every",
        "0",
        "--checkpoint-every",
        "0",
        "--data-dir",
        str(shared_data_dir),
        "--runs-dir",
        str(runs),
        "--parallel",
        "2",
        "--name",
        "card",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| run | sampling | val ppl |" in out
    (verdict,) = [line for line in out.splitlines() if line.startswith("verdict: ")]
    assert verdict.startswith("verdict: against sampling sequential: sampling random: ")


def test_switches_take_a_list_too():
    from lstm_tui.cli import build_parser
    from lstm_tui.cli.sweep import build_spec

    ns = build_parser().parse_args(["sweep", "--fused", "true,false", "--no-graphs", "--raw", "--prefix", "a, b"])
    spec = build_spec(ns)
    assert spec.varying == ("fused",)
    assert [(p.config.fused, p.config.graphs, p.config.raw, p.config.prefix) for p in spec.points] == [
        (True, False, True, ("a, b",)),
        (False, False, True, ("a, b",)),
    ]
