"""``lstm-tui score``, ``generate --epoch`` and a bidirectional model's samples on the command line."""

from __future__ import annotations

import json

import pytest

from lstm_tui.cli import main
from lstm_tui.core.checkpoint import load_model
from lstm_tui.core.config import BIDIRECTIONAL_WARNING, RunConfig
from lstm_tui.core.engine import Trainer
from lstm_tui.core.events import Finished
from lstm_tui.core.generate import predict
from lstm_tui.core.runs import RunDir
from lstm_tui.core.score import score_text
from lstm_tui.core.timelapse import load_snapshot_with_vocab

TEXT = "the time traveller for so it will be convenient to speak of him"
BASE = dict(
    hidden=16,
    epochs=4,
    batch_size=8,
    num_steps=10,
    max_tokens=2000,
    predict_every=2,
    checkpoint_every=0,
    device="cpu",
    predict_length=10,
    snapshot_every=2,
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, shared_data_dir):
    root = tmp_path_factory.mktemp("score-runs")
    made = {}
    for name, changes in {
        "uni": {},
        "other": dict(cell="gru", seed=3),
        "bi": dict(impl="torch", bidirectional=True),
    }.items():
        config = RunConfig.from_mapping({**BASE, "data_dir": str(shared_data_dir), **changes})
        run = RunDir.create(root, config, name=name)
        assert isinstance(Trainer(config, run_dir=run).run(), Finished)
        made[name] = run
    return made


def _json(capsys, *argv):
    assert main(["score", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_score_json_has_a_row_per_character_and_the_cores_numbers(runs, capsys):
    data = _json(capsys, "-c", str(runs["uni"].path), "--text", TEXT)
    model, vocab, _, _ = load_model(runs["uni"].checkpoint_path)
    want = score_text(model, vocab, TEXT)
    assert data["bits_per_char"] == pytest.approx(want.bits_per_char, rel=1e-12)
    assert data["perplexity"] == pytest.approx(want.perplexity, rel=1e-12)
    assert len(data["positions"]) == len(TEXT) - 1 == data["scored"]
    row = data["positions"][0]
    assert row["index"] == 1 and row["char"] == "h" and len(row["top"]) == 5
    assert len(data["most_surprising"]) == 10 and "write" not in data


def test_score_text_prints_bpc_perplexity_and_the_ten_most_surprising(runs, capsys):
    assert main(["score", "-c", str(runs["uni"].path), "--text", TEXT]) == 0
    out = capsys.readouterr().out
    model, vocab, _, _ = load_model(runs["uni"].checkpoint_path)
    want = score_text(model, vocab, TEXT)
    assert f"bits per character {want.bits_per_char:.3f}  perplexity {want.perplexity:.2f}" in out
    worst = want.most_surprising(1)[0]
    rows = [line for line in out.splitlines() if "  expected " in line]
    assert len(rows) == 10 and f"[{worst.token}]" in rows[0] and f"{worst.bits:6.2f}" in rows[0]


def test_a_bidirectional_model_is_scored_both_ways(runs, capsys):
    data = _json(capsys, "-c", str(runs["bi"].path), "--text", TEXT)
    assert data["mode"] == "train" and data["write"]["mode"] == "write"
    assert len(data["write"]["diff"]) == len(TEXT) - 1
    assert main(["score", "-c", str(runs["bi"].path), "--text", TEXT]) == 0
    out = capsys.readouterr().out
    assert "training mode" in out and "write mode" in out and BIDIRECTIONAL_WARNING in out


def test_compare_two_runs_on_the_same_text(runs, capsys):
    data = _json(capsys, "-c", str(runs["uni"].path), "--text", TEXT, "--compare", str(runs["other"].path))
    diff = data["compare"]["diff"]
    assert len(diff) == len(TEXT) - 1
    assert diff[5] == pytest.approx(data["compare"]["positions"][5]["bits"] - data["positions"][5]["bits"])
    assert data["compare"]["mean_diff"] == pytest.approx(data["compare"]["bits_per_char"] - data["bits_per_char"])


def test_a_file_is_cleaned_like_the_corpus_unless_as_is(runs, capsys, tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("The Time-Traveller!\n", encoding="utf-8")
    data = _json(capsys, "-c", str(runs["uni"].path), "--file", str(path))
    assert "".join(p["char"] for p in data["positions"]) == "he time traveller"
    assert main(["score", "-c", str(runs["uni"].path), "--file", str(path), "--as-is"]) == 2
    err = capsys.readouterr().err
    assert "--file" in err and "--unk" in err and "Traceback" not in err


def test_score_an_epochs_snapshot(runs, capsys):
    data = _json(capsys, "-c", str(runs["uni"].path), "--text", TEXT, "--epoch", "2")
    model, vocab, _ = load_snapshot_with_vocab(runs["uni"], 2)
    assert data["bits_per_char"] == pytest.approx(score_text(model, vocab, TEXT).bits_per_char, rel=1e-12)
    assert main(["score", "-c", str(runs["uni"].path), "--text", TEXT, "--epoch", "3"]) == 2
    assert "no snapshot of epoch 3" in capsys.readouterr().err


def test_generate_from_a_snapshot(runs, capsys):
    assert main(["generate", "-c", str(runs["uni"].path), "--epoch", "2", "-p", "time", "-n", "15"]) == 0
    model, vocab, _ = load_snapshot_with_vocab(runs["uni"], 2)
    assert capsys.readouterr().out == predict(model, vocab, "time", 15) + "\n"


def test_generate_with_a_bidirectional_model_writes_with_a_warning(runs, capsys):
    assert main(["generate", "-c", str(runs["bi"].path), "-p", "time", "-n", "15"]) == 0
    captured = capsys.readouterr()
    model, vocab, _, _ = load_model(runs["bi"].checkpoint_path)
    assert captured.out == predict(model, vocab, "time", 15) + "\n"
    assert BIDIRECTIONAL_WARNING in captured.err


def test_bidirectional_samples_appear_in_the_json_events_and_the_log(runs, capsys, shared_data_dir, tmp_path):
    argv = [
        "train",
        "--json",
        "--runs-dir",
        str(tmp_path),
        "--name",
        "bi",
        "--impl",
        "torch",
        "--bidirectional",
        "--hidden",
        "16",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--num-steps",
        "10",
        "--max-tokens",
        "2000",
        "--predict-every",
        "1",
        "--predict-length",
        "5",
        "--data-dir",
        str(shared_data_dir),
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    samples = [e for e in events if e["event"] == "sample"]
    assert samples and all(e["warning"] == BIDIRECTIONAL_WARNING for e in samples)
    epochs = [e for e in events if e["event"] == "epoch"]
    assert all(e["grad_norm"] > 0 and 0 <= e["clipped_share"] <= 1 for e in epochs)
    logged = _only_run(tmp_path).read_samples()
    assert logged and all(r["warning"] == BIDIRECTIONAL_WARNING for r in logged)


def test_the_epoch_line_shows_the_gradient_norm(runs, capsys, shared_data_dir, tmp_path):
    argv = [
        "train",
        "--runs-dir",
        str(tmp_path),
        "--hidden",
        "16",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--num-steps",
        "10",
        "--max-tokens",
        "2000",
        "--clip",
        "0.01",
        "--data-dir",
        str(shared_data_dir),
        "--device",
        "cpu",
    ]
    assert main(argv) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("epoch"))
    assert "grad " in line and "(100% clipped)" in line


def _only_run(root):
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    return RunDir(folder)
