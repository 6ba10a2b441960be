"""Metrics exports (CSV, JSON) and the markdown comparison report, on real (tiny) training runs."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from lstm_tui.core.compare import format_cell, run_row
from lstm_tui.core.export import (
    METRIC_COLUMNS,
    comparison_report,
    export_run,
    final_samples,
    metrics_to_csv,
    metrics_to_json,
)
from lstm_tui.core.runs import RunDir, RunError, list_runs


@pytest.fixture
def runs(trained_runs_root):
    """The two shared tiny runs (one with validation data)."""
    return list_runs(trained_runs_root)


def test_csv_and_json_hold_the_runs_metrics(runs, tmp_path):
    for info in runs:
        metrics = info.open().read_metrics()
        csv_path, json_path = export_run(info.open(), tmp_path / "out")
        assert (csv_path.name, json_path.name) == (f"{info.name}-metrics.csv", f"{info.name}-metrics.json")
        with open(csv_path, newline="") as handle:
            table = list(csv.reader(handle))
        assert table[0] == list(METRIC_COLUMNS) and len(table) == len(metrics) + 1
        for line, record in zip(table[1:], metrics):
            assert [float(v) if v else None for v in line] == [record.get(c) for c in METRIC_COLUMNS]
        assert json.loads(json_path.read_text()) == [{c: r.get(c) for c in METRIC_COLUMNS} for r in metrics]
    # the run without validation data has empty val_perplexity cells
    scratch = next(i for i in runs if i.preset == "scratch")
    with open(tmp_path / "out" / f"{scratch.name}-metrics.csv", newline="") as handle:
        assert {row["val_perplexity"] for row in csv.DictReader(handle)} == {""}


def test_missing_values_and_non_finite_numbers(tmp_path):
    rows = [{"epoch": 1, "perplexity": 20.5, "extra": "ignored"}, {"epoch": 2, "perplexity": float("nan")}]
    text = metrics_to_csv(rows, tmp_path / "m.csv").read_text()
    assert text.splitlines() == [",".join(METRIC_COLUMNS), "1,20.5,,,", "2,nan,,,"]
    data = json.loads(metrics_to_json(rows, tmp_path / "deep" / "m.json").read_text())
    assert data[1] == {"epoch": 2, "perplexity": None, "val_perplexity": None, "tokens_per_s": None, "elapsed_s": None}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_export_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(RunError, match="not a run folder"):
        export_run(tmp_path, tmp_path / "out")


def test_comparison_report_has_a_row_and_the_final_samples_per_run(runs, tmp_path):
    path = comparison_report(runs, tmp_path / "report.md")
    text = path.read_text()
    lines = text.splitlines()
    assert lines[0] == "# Run comparison"
    header = next(i for i, line in enumerate(lines) if line.startswith("| name |"))
    table = lines[header + 2 : header + 2 + len(runs)]
    assert "wall time" in lines[header] and "gen ppl" in lines[header]
    for info, line in zip(runs, table):
        row = run_row(info)
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == info.name and cells[1] == info.preset
        assert cells[6] == f"{row.epochs_done}/{row.epochs}"
        assert cells[7] == format_cell(row, "train_ppl") and cells[9] == format_cell(row, "gen_ppl")
        epoch, samples = final_samples(info)
        assert epoch == row.epochs and samples
        assert f"### {info.name} (epoch {epoch})" in text
        for sample in samples:
            assert f"```text\n{sample['text']}\n```" in text
    scratch_line = next(line for line in table if "| scratch |" in line)
    assert "| n/a |" in scratch_line  # no validation data


def test_report_of_a_run_without_summary_metrics_or_samples(runs, tmp_path):
    copy = shutil.copytree(runs[0].path, tmp_path / "bare")
    for name in ("summary.json", "metrics.jsonl", "samples.jsonl"):
        (copy / name).unlink()
    text = comparison_report([RunDir(copy)], tmp_path / "bare.md").read_text()
    row_line = next(line for line in text.splitlines() if line.startswith("| bare |"))
    assert row_line.count("n/a") >= 6  # perplexities, tokens/s, wall time, device
    assert "| 0/" in row_line
    assert "### bare\n\nn/a (no samples)" in text


def test_final_samples_are_the_latest_ones_a_stop_inside_an_epoch_comes_last(tmp_path):
    from lstm_tui.core.config import RunConfig

    run = RunDir.create(tmp_path, RunConfig(epochs=20))
    run.append_sample({"epoch": 6, "prefix": "time traveller", "text": "time traveller old"})
    run.append_sample({"epoch": 7, "prefix": "time traveller", "text": "time traveller at epoch 7"})
    run.append_sample({"epoch": 7, "prefix": "traveller", "text": "traveller stopped", "final": True, "batch": 3})
    assert final_samples(run) == (
        7,
        [{"epoch": 7, "prefix": "traveller", "text": "traveller stopped", "final": True, "batch": 3}],
    )
    run.append_sample({"epoch": 8, "prefix": "time traveller", "text": "time traveller at epoch 8"})
    assert final_samples(run)[1][0]["text"] == "time traveller at epoch 8"
