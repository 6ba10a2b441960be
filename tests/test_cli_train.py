"""``lstm-tui train`` / ``generate`` / ``runs`` end to end on a tiny config (CPU, a few seconds each)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_tui.cli import main
from lstm_tui.cli import train as train_cli
from lstm_tui.core.checkpoint import load_model

REPO = Path(__file__).resolve().parents[1]


def tiny(text_file: Path | str, *extra: str) -> list[str]:
    return [
        "--corpus",
        str(text_file),
        "--max-tokens",
        "2000",
        "--hidden",
        "32",
        "--epochs",
        "3",
        "--batch-size",
        "8",
        "--num-steps",
        "10",
        "--device",
        "cpu",
        *extra,
    ]


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def only_run(runs_dir: Path) -> Path:
    runs = [p for p in runs_dir.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


# ----------------------------------------------------------------------------- train: text mode
def test_train_prints_epochs_and_d2l_summary_then_generate_and_runs(small_corpus, tmp_path, capsys):
    runs_dir, saved = tmp_path / "runs", tmp_path / "out" / "model.pt"
    argv = ["train", *tiny(small_corpus, "--predict-every", "2"), "--runs-dir", str(runs_dir), "--save", str(saved)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    run = only_run(runs_dir)
    assert f"run folder: {run}" in lines[0]
    epoch_lines = [line for line in lines if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/3", "2/3", "3/3"]  # first, every 2nd, last
    assert all("perplexity" in line and "tokens/s" in line and "elapsed" in line for line in epoch_lines)
    after_2 = lines[lines.index(epoch_lines[1]) + 1]
    assert after_2.startswith("  time traveller")  # the epoch-2 sample, indented
    summary = next(i for i, line in enumerate(lines) if line.startswith("perplexity "))
    assert " tokens/sec on cpu" in lines[summary]
    predictions = [line for line in lines[summary + 1 :] if line.startswith(("time traveller", "traveller"))]
    assert [p.split()[0] for p in predictions] == ["time", "traveller"]
    assert all(len(p) >= len("traveller") + 50 for p in predictions)
    assert (run / "checkpoint.pt").is_file() and saved.is_file()

    # generate from the --save file and from the run's name: prefix + 20 characters, streamed
    assert main(["generate", "--checkpoint", str(saved), "--prefix", "time traveller", "--length", "20"]) == 0
    text = capsys.readouterr().out.rstrip("\n")
    assert text.startswith("time traveller") and len(text) == len("time traveller") + 20
    assert (
        main(
            ["generate", "-c", run.name, "--runs-dir", str(runs_dir), "-p", "the", "-n", "5", "-t", "1", "--seed", "1"]
        )
        == 0
    )
    assert len(capsys.readouterr().out.rstrip("\n")) == 8

    # characters the model never saw: exit 2 naming them, nothing on stdout; --unk maps them
    assert main(["generate", "--checkpoint", str(saved), "--prefix", "Time Traveller!", "--length", "5"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "'T'" in captured.err and "'!'" in captured.err and "--unk" in captured.err
    assert (
        "unknown=" not in captured.err and "try 'time traveller'" in captured.err
    )  # the CLI's words, a prefix it reads
    assert captured.err.startswith("error: --prefix: ")
    assert main(["generate", "--checkpoint", str(saved), "--prefix", "Time!", "--length", "5", "--unk"]) == 0
    assert capsys.readouterr().out.startswith("Time!")

    # the run list
    assert main(["runs", "--runs-dir", str(runs_dir)]) == 0
    listing = capsys.readouterr().out
    assert run.name in listing and "scratch" in listing and "3/3" in listing and "finished" in listing


# ----------------------------------------------------------------------------- train: JSON
def test_train_json_is_json_lines_only(small_corpus, tmp_path, capsys):
    saved = tmp_path / "model.pt"
    runs_dir = tmp_path / "runs"
    argv = ["train", *tiny(small_corpus), "--json", "--no-run-dir", "--save", str(saved), "--runs-dir", str(runs_dir)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    events = json_lines(captured.out)  # every stdout line parses
    assert all("event" in e for e in events)
    loads = [e for e in events if e["event"] == "load"]  # the corpus load's progress comes first
    assert loads and events[: len(loads)] == loads and loads[-1]["done"] == loads[-1]["total"]
    events = events[len(loads) :]
    assert events[0]["event"] == "started" and events[-1]["event"] == "finished"
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2, 3]
    for e in epochs:
        assert {"epoch", "perplexity", "tokens_per_s", "elapsed_s", "val_perplexity"} <= set(e)
    assert events[-1]["stopped"] is False
    assert saved.is_file()
    assert not runs_dir.exists() or not any(runs_dir.iterdir())  # --no-run-dir keeps nothing there


# ----------------------------------------------------------------------------- failures and bad input
def test_diverging_run_exits_1(small_corpus, tmp_path, capsys):
    assert main(["train", *tiny(small_corpus, "--lr", "1000", "--clip", "0"), "--runs-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "hint:" in err and "Traceback" not in err


def test_missing_corpus_exits_2(small_corpus, tmp_path, capsys):
    missing = tmp_path / "no-such-book.txt"
    assert main(["train", *tiny(small_corpus, "--corpus", str(missing)), "--runs-dir", str(tmp_path / "runs")]) == 2
    captured = capsys.readouterr()
    assert "corpus" in captured.err and str(missing) in captured.err and "Traceback" not in captured.err
    assert not (tmp_path / "runs").exists()  # no run folder for a run that never started


def test_unknown_prefix_characters_exit_2_before_training(small_corpus, tmp_path, capsys):
    assert main(["train", *tiny(small_corpus, "--prefix", "Time!"), "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "prefix" in err and "'T'" in err and "'!'" in err
    assert "unknown=" not in err and "--unk" not in err and "try 'time'" in err  # a config prefix has no --unk


def test_resume_rejects_flags_that_change_the_model(tmp_path, capsys):
    assert main(["train", "--resume", "x", "--hidden", "8"]) == 2
    assert "--hidden" in capsys.readouterr().err
    assert main(["train", "--resume", "x", "--preset", "deep"]) == 2
    assert "--preset" in capsys.readouterr().err
    assert main(["train", "--resume", "nope", "--runs-dir", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err


def test_generate_with_a_folder_that_is_no_run_exits_2(tmp_path, capsys):
    assert main(["generate", "--checkpoint", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "checkpoint" in err and "is not a run folder" in err and "saved none yet" not in err
    (tmp_path / "config.toml").write_text("")  # a run that saved no checkpoint yet
    assert main(["generate", "--checkpoint", str(tmp_path)]) == 2
    assert "the run saved none yet" in capsys.readouterr().err


def test_generate_prints_what_an_ascii_terminal_cannot_show_as_question_marks(small_corpus, tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    assert main(["train", *tiny(small_corpus, "--epochs", "1"), "--quiet", "--runs-dir", str(runs_dir)]) == 0
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "PYTHONPATH": str(REPO), "LSTM_TUI_RUNS_DIR": str(runs_dir)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lstm_tui",
            "generate",
            "-c",
            only_run(runs_dir).name,
            "-p",
            "na\u00efve traveller",
            "--unk",
            "-n",
            "5",
        ],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode("ascii").startswith("na?ve traveller") and b"UnicodeEncodeError" not in done.stderr


def test_runs_lists_the_epochs_a_running_or_interrupted_run_saved(tmp_path, capsys):
    from lstm_tui.core.config import RunConfig
    from lstm_tui.core.runs import RunDir

    run = RunDir.create(tmp_path, RunConfig(epochs=400))
    run.write_summary({"status": "running", "epochs": 400, "device": "cpu"})  # no live lock: interrupted
    for epoch in range(1, 30):
        run.append_metric({"epoch": epoch, "perplexity": 10.0 - epoch / 10, "tokens_per_s": 100.0, "elapsed_s": epoch})
    assert main(["runs", "--runs-dir", str(tmp_path)]) == 0
    line = [x for x in capsys.readouterr().out.splitlines() if x.startswith(run.name)][0]
    assert "29/400" in line and "7.10" in line and "interrupted" in line and "-/400" not in line


# ----------------------------------------------------------------------------- stopping and resuming
def test_sigterm_stops_with_a_checkpoint_then_resume_finishes(small_corpus, tmp_path, monkeypatch, capsys):
    runs_dir = tmp_path / "runs"
    sent = []
    original = train_cli.Printer.__call__

    def call(self, event):
        original(self, event)
        if event.kind == "epoch" and not sent:
            sent.append(event.epoch)
            os.kill(os.getpid(), signal.SIGTERM)  # handled in the main thread: trainer.stop()

    monkeypatch.setattr(train_cli.Printer, "__call__", call)
    before = signal.getsignal(signal.SIGTERM)
    assert main(["train", *tiny(small_corpus), "--runs-dir", str(runs_dir)]) == 0
    assert signal.getsignal(signal.SIGTERM) is before  # handlers are put back
    captured = capsys.readouterr()
    run = only_run(runs_dir)
    assert "SIGTERM" in captured.err
    assert "stopped after 1 of 3 epochs" in captured.out and f"--resume {run.name}" in captured.out
    assert (run / "checkpoint.pt").is_file()
    assert json.loads((run / "summary.json").read_text())["status"] == "stopped"

    monkeypatch.setattr(train_cli.Printer, "__call__", original)
    assert main(["train", "--resume", run.name, "--runs-dir", str(runs_dir), "--json"]) == 0
    events = json_lines(capsys.readouterr().out)
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [2, 3]
    assert events[-1]["event"] == "finished" and events[-1]["epoch"] == 3 and not events[-1]["stopped"]

    # a finished run can be taken further with a new total
    assert main(["train", "--resume", run.name, "--runs-dir", str(runs_dir), "--epochs", "4", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("perplexity ") and "tokens/sec" in out
    assert [m["epoch"] for m in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())] == [1, 2, 3, 4]


def test_a_second_signal_exits_at_once(monkeypatch, capsys):
    class FakeTrainer:
        stops = 0

        def stop(self):
            self.stops += 1

    exits = []

    def fake_exit(code):
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(train_cli.os, "_exit", fake_exit)
    trainer = FakeTrainer()
    handler = train_cli.StopOnSignal(trainer, train_cli.Printer(None, json_mode=True, every=1, quiet=False))
    handler._handle(signal.SIGINT, None)
    assert trainer.stops == 1 and exits == []
    with pytest.raises(SystemExit):
        handler._handle(signal.SIGINT, None)
    assert exits == [130] and trainer.stops == 1
    assert "Ctrl+C" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the closing checkpoint and --save
def files_of(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}


@pytest.fixture
def temp_root(tmp_path, monkeypatch) -> Path:
    """Where --no-run-dir's temporary run folder goes (and stays, when it is kept)."""
    import tempfile

    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture
def disk_full_at_the_third_checkpoint(monkeypatch):
    """The disk fills up when the run writes its third checkpoint (a real ENOSPC from the write)."""
    import errno

    from lstm_tui.core.runs import checkpoint_io as checkpoint_module

    real_write, calls = checkpoint_module.atomic_write_bytes, []

    def write(path, data):
        calls.append(path)
        if len(calls) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(path, data)

    monkeypatch.setattr(checkpoint_module, "atomic_write_bytes", write)


def test_a_closing_checkpoint_that_cannot_be_written_is_an_error_and_save_copies_nothing(
    small_corpus, tmp_path, capsys, disk_full_at_the_third_checkpoint
):
    runs_dir, saved = tmp_path / "runs", tmp_path / "model.pt"
    argv = [
        "train",
        *tiny(small_corpus, "--checkpoint-every", "1"),
        "--quiet",
        "--runs-dir",
        str(runs_dir),
        "--save",
        str(saved),
    ]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("perplexity ")  # the run itself trained its 3 epochs
    (line,) = [x for x in captured.err.splitlines() if x.startswith("error:")]
    assert "final checkpoint could not be written" in line and "No space left on device" in line
    assert "the run folder holds the checkpoint of epoch 2" in line
    assert "--save: nothing written" in captured.err and not saved.exists()  # not epoch 2's model
    _, _, _, checkpoint = load_model(only_run(runs_dir) / "checkpoint.pt")
    assert checkpoint.epoch == 2
    # the listing and generate say which epoch the checkpoint holds (not a silent "3/3 finished")
    assert main(["runs", "--runs-dir", str(runs_dir)]) == 0
    listing = capsys.readouterr().out
    assert "3/3" in listing and "finished (checkpoint holds epoch 2 of 3)" in listing
    run = only_run(runs_dir)
    assert main(["generate", "-c", run.name, "--runs-dir", str(runs_dir), "-n", "5"]) == 0
    captured = capsys.readouterr()
    assert "the checkpoint holds epoch 2, not the run's last epoch 3" in captured.err
    assert captured.out.startswith("time traveller")


def test_no_run_dir_keeps_its_folder_when_the_closing_checkpoint_fails(
    small_corpus, tmp_path, capsys, temp_root, disk_full_at_the_third_checkpoint
):
    argv = [
        "train",
        *tiny(small_corpus, "--checkpoint-every", "1"),
        "--quiet",
        "--no-run-dir",
        "--save",
        str(tmp_path / "model.pt"),
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "the temporary run folder holds the checkpoint of epoch 2" in err
    kept = only_run(only_run(temp_root))  # the only copy of a model is not deleted
    assert f"run folder: {kept}" in err and (kept / "checkpoint.pt").is_file()


@pytest.mark.parametrize("where", ["file/model.pt", "/proc/nope.pt"])
def test_a_save_path_that_cannot_be_written_is_refused_before_training(small_corpus, tmp_path, capsys, where):
    if where.startswith("/proc") and not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    (tmp_path / "file").write_text("a file, not a folder")
    target = where if where.startswith("/") else str(tmp_path / where)
    runs_dir = tmp_path / "runs"
    assert main(["train", *tiny(small_corpus), "--runs-dir", str(runs_dir), "--save", target]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "--save" in captured.err and target in captured.err
    assert not runs_dir.exists()  # nothing trained


def test_a_failed_copy_to_save_keeps_the_no_run_dir_checkpoint(small_corpus, tmp_path, monkeypatch, capsys, temp_root):
    out = tmp_path / "out"
    original = train_cli.Printer.__call__

    def call(self, event):
        original(self, event)
        if event.kind == "finished":
            out.write_text("now a file: the folder --save needs cannot be made")

    monkeypatch.setattr(train_cli.Printer, "__call__", call)
    assert main(["train", *tiny(small_corpus), "--quiet", "--no-run-dir", "--save", str(out / "model.pt")]) == 1
    err = capsys.readouterr().err
    checkpoint = only_run(only_run(temp_root)) / "checkpoint.pt"
    assert checkpoint.is_file() and f"--save: cannot write {out / 'model.pt'}" in err
    assert f"the checkpoint is kept in {checkpoint}" in err


# ----------------------------------------------------------------------------- resuming: refusals and paths
def test_a_resume_with_no_epochs_left_is_refused_and_writes_nothing(small_corpus, tmp_path, capsys):
    runs_dir = tmp_path / "runs"
    assert main(["train", *tiny(small_corpus, "--epochs", "2"), "--quiet", "--runs-dir", str(runs_dir)]) == 0
    run = only_run(runs_dir)
    before = files_of(run)
    capsys.readouterr()
    resume = ["train", "--resume", run.name, "--runs-dir", str(runs_dir)]
    assert main([*resume, "--epochs", "1"]) == 2
    assert f"--epochs: 1 is not more than the 2 epochs {run.name} has trained" in capsys.readouterr().err
    assert main([*resume, "--epochs", "2"]) == 2
    assert "--epochs: 2 is not more than the 2 epochs" in capsys.readouterr().err
    assert main(resume) == 2
    assert f"--epochs: {run.name} has finished its 2 epochs (ask for more than 2 epochs" in capsys.readouterr().err
    assert files_of(run) == before
    assert main(["runs", "--runs-dir", str(runs_dir)]) == 0
    assert "2/2" in capsys.readouterr().out


def test_a_resume_of_a_run_another_process_trains_is_refused_not_failed(small_corpus, tmp_path, capsys):
    import socket

    runs_dir = tmp_path / "runs"
    assert main(["train", *tiny(small_corpus, "--epochs", "1"), "--quiet", "--runs-dir", str(runs_dir)]) == 0
    run = only_run(runs_dir)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / ".training.lock").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname()}))
        before = files_of(run)
        capsys.readouterr()
        assert main(["train", "--resume", run.name, "--runs-dir", str(runs_dir), "--epochs", "2"]) == 2  # bad input
        err = capsys.readouterr().err
        assert f"is being trained by process {holder.pid}" in err and "run failed" not in err and "hint:" not in err
        assert files_of(run) == before
    finally:
        holder.kill()
        holder.wait()


def test_a_resume_checks_the_device_like_a_new_run(small_corpus, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    runs_dir = tmp_path / "runs"
    assert main(["train", *tiny(small_corpus, "--epochs", "1"), "--quiet", "--runs-dir", str(runs_dir)]) == 0
    run = only_run(runs_dir)
    before = files_of(run)
    capsys.readouterr()
    assert main(["train", *tiny(small_corpus, "--device", "cuda"), "--runs-dir", str(runs_dir)]) == 2
    new_run = capsys.readouterr().err
    assert main(["train", "--resume", run.name, "--runs-dir", str(runs_dir), "--epochs", "2", "--device", "cuda"]) == 2
    assert capsys.readouterr().err == new_run and new_run.startswith("error: device:")
    assert files_of(run) == before


def test_a_relative_corpus_is_stored_absolute_so_a_resume_works_from_elsewhere(
    small_corpus, tmp_path, monkeypatch, capsys
):
    first, second, runs_dir = tmp_path / "first", tmp_path / "second", tmp_path / "runs"
    first.mkdir()
    second.mkdir()
    book = first / "book.txt"
    book.write_bytes(small_corpus.read_bytes())
    monkeypatch.chdir(first)
    argv = ["train", *tiny("book.txt", "--epochs", "1", "--data-dir", "data"), "--quiet", "--runs-dir", str(runs_dir)]
    assert main(argv) == 0
    run = only_run(runs_dir)
    config = (run / "config.toml").read_text()
    assert f'corpus = "{book}"' in config and f'data_dir = "{first / "data"}"' in config

    monkeypatch.chdir(second)
    resume = ["train", "--resume", str(run), "--quiet"]
    assert main([*resume, "--epochs", "2"]) == 0
    assert [m["epoch"] for m in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())] == [1, 2]

    # a corpus that cannot be read on resume is bad input (2), as for a new run, and changes nothing
    book.unlink()
    before = files_of(run)
    capsys.readouterr()
    assert main([*resume, "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: corpus:") and str(book) in err and "Traceback" not in err
    assert files_of(run) == before


# ----------------------------------------------------------------------------- unexpected errors and memory
def test_an_unexpected_training_error_prints_no_library_traceback(small_corpus, tmp_path):
    code = (
        "import sys\n"
        "from lstm_tui.core.engine import epochs as trainer\n"
        "def boom(*args, **kwargs):\n"
        "    raise RuntimeError('kaboom')\n"
        "trainer.make_step = boom\n"
        "from lstm_tui.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LSTM_TUI_DEBUG"}
    done = subprocess.run(
        [sys.executable, "-c", code, "train", *tiny(small_corpus), "--runs-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "training failed" not in done.stderr
    assert done.stderr.startswith("error: RuntimeError: kaboom\nhint:")
    summary = json.loads((only_run(tmp_path) / "summary.json").read_text())
    assert "kaboom" in summary["traceback"]  # kept where the hint says


def test_debugging_prints_the_traceback_of_a_failed_run(small_corpus, tmp_path, monkeypatch, capsys):
    from lstm_tui.core.engine import epochs as trainer_module  # (the loop, which makes the step)

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(trainer_module, "make_step", boom)
    monkeypatch.setenv("LSTM_TUI_DEBUG", "1")
    assert main(["train", *tiny(small_corpus), "--runs-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "kaboom" in err


def test_running_out_of_cpu_memory_says_to_use_a_smaller_model(small_corpus, tmp_path, monkeypatch, capsys):
    import torch

    from lstm_tui.core.engine import epochs as trainer_module  # (the loop, which makes the step)

    def make_step(*args, **kwargs):
        def step(X, Y, state):
            torch.empty(2**62, dtype=torch.uint8)  # torch's CPU allocator refuses: "can't allocate memory"

        return step

    monkeypatch.setattr(trainer_module, "make_step", make_step)
    assert main(["train", *tiny(small_corpus), "--runs-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "error: out of memory on cpu" in err and "hint: use a smaller batch_size, hidden or num_steps" in err
