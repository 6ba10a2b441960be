"""Runs-screen rows, sorting, curves, rename and delete, on real (tiny) training runs."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from datetime import datetime

import pytest

from lstm_tui.core.compare import (
    COLUMNS,
    Curve,
    RunRow,
    curves,
    delete_run,
    format_cell,
    format_duration,
    rename_run,
    run_row,
    run_rows,
    sort_rows,
)
from lstm_tui.core.config import RunConfig
from lstm_tui.core.runs import RunDir, RunError, RunLock, list_runs


@pytest.fixture
def root(trained_runs_root, tmp_path):
    """A copy of the trained runs that a test may change."""
    return shutil.copytree(trained_runs_root, tmp_path / "runs")


def by_name(rows, suffix):
    return next(row for row in rows if row.name.endswith(suffix))


def test_rows_carry_the_numbers_of_their_summaries(trained_runs_root, trained_runs_spec):
    rows = run_rows(trained_runs_root)
    assert [row.name for row in rows] == [info.name for info in list_runs(trained_runs_root)]
    for suffix, changes in trained_runs_spec.items():
        row = by_name(rows, suffix)
        summary = RunDir(row.path).read_summary()
        assert (row.preset, row.impl, row.cell, row.hidden, row.layers) == (
            changes["preset"],
            changes["impl"],
            "lstm",
            changes["hidden"],
            1,
        )
        assert row.epochs_done == row.epochs == changes["epochs"] == summary["epoch"]
        assert row.train_ppl == summary["perplexity"] and row.tokens_per_s == summary["tokens_per_s"]
        assert row.gen_ppl == summary["generation_perplexity"] and row.wall_s == summary["elapsed_s"]
        assert row.device == summary["device"]
        assert row.status == "finished" and isinstance(row.created, datetime)
    assert by_name(rows, "held-out").val_ppl == RunDir(by_name(rows, "held-out").path).read_summary()["val_perplexity"]
    assert by_name(rows, "small").val_ppl is None


def test_a_run_without_summary_falls_back_to_its_metrics(root):
    row = by_name(run_rows(root), "held-out")
    (row.path / "summary.json").unlink()
    bare = run_row(RunDir(row.path))
    last = RunDir(row.path).read_metrics()[-1]
    assert bare.status == "unknown" and bare.gen_ppl is None and bare.device is None
    assert (bare.train_ppl, bare.val_ppl, bare.epochs_done, bare.wall_s) == (
        last["perplexity"],
        last["val_perplexity"],
        last["epoch"],
        last["elapsed_s"],
    )
    assert bare.epochs == 3  # from the config
    assert format_cell(bare, "gen_ppl") == "n/a"


def test_listing_rows_does_not_import_torch(trained_runs_root):
    code = (
        "import sys; from lstm_tui.core.compare import run_rows, curves; "
        f"rows = run_rows({str(trained_runs_root)!r}); curves(rows); assert len(rows) == 2; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def make_row(name, **values) -> RunRow:
    fields = {f: None for f in COLUMNS}
    fields.update(name=name, epochs_done=0, created=datetime(2026, 1, 1), status="finished", **values)
    return RunRow(**fields)


def test_sort_rows_by_any_column_with_missing_values_last():
    rows = [make_row("b", train_ppl=3.0), make_row("a", train_ppl=None), make_row("C", train_ppl=1.5)]
    assert [r.name for r in sort_rows(rows, "train_ppl")] == ["C", "b", "a"]
    assert [r.name for r in sort_rows(rows, "train_ppl", reverse=True)] == ["b", "C", "a"]
    assert [r.name for r in sort_rows(rows, "name")] == ["a", "b", "C"]  # case-insensitive
    with pytest.raises(ValueError, match="cannot sort by 'speed'"):
        sort_rows(rows, "speed")


def test_sort_real_rows_by_perplexity(trained_runs_root):
    rows = run_rows(trained_runs_root)
    ordered = sort_rows(rows, "train_ppl")
    assert [r.train_ppl for r in ordered] == sorted(r.train_ppl for r in rows)


def test_format_cell_and_duration():
    row = make_row("x", train_ppl=12.3456, tokens_per_s=12345.6, wall_s=75.0, layers=2)
    assert [format_cell(row, c) for c in ("train_ppl", "tokens_per_s", "wall_s", "layers", "val_ppl", "created")] == [
        "12.35",
        "12,346",
        "1 min 15 s",
        "2",
        "n/a",
        "2026-01-01 00:00",
    ]
    assert (format_duration(4.25), format_duration(7322)) == ("4.2 s", "2 h 02 min")


def test_curves_by_epoch_and_by_time(trained_runs_root):
    runs = list_runs(trained_runs_root)
    by_epoch = {c.name: c for c in curves(runs)}
    by_time = {c.name: c for c in curves(runs, x="time")}
    for info in runs:
        metrics = info.open().read_metrics()
        epoch_curve, time_curve = by_epoch[info.name], by_time[info.name]
        assert isinstance(epoch_curve, Curve)
        assert epoch_curve.xs == [m["epoch"] for m in metrics]
        assert time_curve.xs == [m["elapsed_s"] for m in metrics] and time_curve.xs == sorted(time_curve.xs)
        assert epoch_curve.ys == time_curve.ys == [m["perplexity"] for m in metrics]
    held_out = next(c for name, c in by_epoch.items() if name.endswith("held-out"))
    assert held_out.val_ys is not None and len(held_out.val_ys) == 3 and all(v > 1 for v in held_out.val_ys)
    assert next(c for name, c in by_epoch.items() if name.endswith("small")).val_ys is None
    with pytest.raises(ValueError, match="'epoch' or 'time'"):
        curves(runs, x="tokens")


def test_rename_run_and_refusals(root):
    small, held = (by_name(run_rows(root), s) for s in ("small", "held-out"))
    renamed = rename_run(root, small.name, "my best run!")
    assert renamed.name == "my-best-run" and renamed.path.is_dir() and not small.path.exists()
    assert renamed.read_config().hidden == 16 and "my-best-run" in [r.name for r in run_rows(root)]
    with pytest.raises(RunError, match="taken"):
        rename_run(root, held.name, "my-best-run")
    with pytest.raises(RunError, match="no run named"):
        rename_run(root, "nope", "other")

    RunDir(held.path).write_summary({**RunDir(held.path).read_summary(), "status": "running"})
    lock = RunLock.acquire(held.path)  # a trainer holds it
    with pytest.raises(RunError, match="training"):
        rename_run(root, held.name, "other")
    assert rename_run(root, held.name, "other", force=True).name == "other"
    lock.release()


def test_a_renamed_run_keeps_its_creation_time(root):
    """The stamp of the folder name is recorded in the summary before a rename drops it, and
    kept when the trainer writes the summary afresh; the config file's time plays no part."""
    import os

    small = by_name(run_rows(root), "small")
    later = datetime.now().timestamp() + 3 * 86400  # as if a resume rewrote the config
    os.utime(small.path / "config.toml", (later, later))
    renamed = rename_run(root, small.name, "renamed")
    assert renamed.created == small.created == run_row(renamed).created
    renamed.write_summary({"status": "finished", "epoch": 9})  # a resumed run's summary
    assert renamed.read_summary()["created"] == small.created.isoformat(timespec="seconds")
    again = rename_run(root, "renamed", "again")
    assert again.created == small.created and [r.created for r in list_runs(root) if r.name == "again"] == [
        small.created
    ]


def test_keep_created_on_runs_without_a_readable_summary(tmp_path):
    fresh = RunDir.create(tmp_path, RunConfig())  # no summary yet: one with the time alone
    fresh.keep_created()
    assert set(fresh.read_summary()) == {"created"} and list_runs(tmp_path)[0].status == "unknown"
    damaged = RunDir.create(tmp_path, RunConfig(), name="damaged")
    damaged.summary_path.write_text("{torn")
    damaged.keep_created()  # left alone, never replaced
    assert damaged.summary_path.read_text() == "{torn"
    newer = RunDir.create(tmp_path, RunConfig(), name="newer")
    newer.summary_path.write_text('{"status": "interrupted"}')  # from another version
    newer.keep_created()
    assert newer.read_summary() == {"status": "interrupted"}


def test_delete_run_and_refusals(root, tmp_path):
    small, held = (by_name(run_rows(root), s) for s in ("small", "held-out"))
    assert delete_run(root, small.name) == small.path
    assert not small.path.exists() and [r.name for r in run_rows(root)] == [held.name]
    assert [p.name for p in root.iterdir()] == [held.name]  # nothing left behind

    outside = RunDir.create(tmp_path / "elsewhere", RunConfig())
    for bad in ("../elsewhere/" + outside.name, str(outside.path), "..", ""):
        with pytest.raises(RunError):
            delete_run(root, bad)
    with pytest.raises(RunError, match="not inside"):
        delete_run(root, outside)
    (root / "link").symlink_to(outside.path)
    with pytest.raises(RunError, match="link"):
        delete_run(root, "link")
    (root / "not-a-run").mkdir()
    with pytest.raises(RunError, match="not a run folder"):
        delete_run(root, "not-a-run")
    assert outside.path.is_dir() and (root / "not-a-run").is_dir()

    RunDir(held.path).write_summary({"status": "running"})
    lock = RunLock.acquire(held.path)  # a trainer holds it
    with pytest.raises(RunError, match="training"):
        delete_run(root, held.name)
    lock.release()
    assert next(r for r in run_rows(root) if r.name == held.name).status == "interrupted"  # it can go unforced
    delete_run(root, held.name)
    assert [r.name for r in run_rows(root)] == ["link"]  # the linked run is listed, never deleted


def test_rows_are_plain_data():
    row = make_row("x")
    assert dataclasses.is_dataclass(row) and tuple(f.name for f in dataclasses.fields(row)) == COLUMNS
