"""Pictures of the runs screen grouped by sweep and of a sweep's results view (80x24, 120x40);
update with --snapshot-update. The runs are written by hand (fixed names, dates and numbers) so
the pictures are the same on every machine; tests/app/test_sweep_app.py uses a real sweep."""

from __future__ import annotations

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.core.presets import PRESETS
from lstm_tui.core.runs import RunDir
from lstm_tui.core.sweep import grid, new_record
from lstm_tui.core.sweep.record import save_record, write_tag

#: (val ppl per epoch, status, tokens/s) of the sweep's three runs (lr 0.5, 1, 2).
SWEEP_RUNS = (
    ((9.1, 7.4, 6.6, 6.1), "finished", 41200.0),
    ((8.3, 6.2, 5.4, 5.0), "finished", 40800.0),
    ((7.9, 6.9, 7.7, 9.8), "failed", 40100.0),
)
LOOSE_RUNS = (("20261202-090000-scratch", "scratch", 3.1), ("20261130-120000-concise", "concise", 4.2))


def _runs_app(tmp_path, monkeypatch) -> LstmTuiApp:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "runs"
    base = PRESETS["concise"].config.replace(epochs=4, val_split=0.1, device="cpu")
    record = new_record(root, "lr-sweep", grid(base, {"lr": "0.5,1,2"}), parallel=2)
    for run, (vals, status, speed) in zip(record.runs, SWEEP_RUNS):
        folder = RunDir(root / f"20261201-10{run.index:02d}00-{run.name}")
        folder.path.mkdir(parents=True)
        folder.write_config(run.config)
        for epoch, val in enumerate(vals, 1):
            folder.append_metric({"epoch": epoch, "perplexity": val * 0.9, "val_perplexity": val})
        summary = {"status": status, "epoch": len(vals), "epochs": 4, "perplexity": vals[-1] * 0.9}
        folder.write_summary(
            {**summary, "val_perplexity": vals[-1], "tokens_per_s": speed, "elapsed_s": 30.0, "device": "cpu"}
            | ({"reason": "loss grew past 3x its best"} if status == "failed" else {})
        )
        run.folder = folder.name
        write_tag(folder.path, record, run)
    save_record(root, record)
    for name, preset, ppl in LOOSE_RUNS:
        folder = RunDir(root / name)
        folder.path.mkdir()
        folder.write_config(PRESETS[preset].config)
        folder.write_summary({"status": "finished", "epoch": 500, "epochs": 500, "perplexity": ppl, "device": "cpu"})
    return LstmTuiApp(PRESETS["scratch"].config.replace(device="cpu", seed=0), runs_dir="runs", detect_devices=False)


async def _open_runs(pilot) -> None:
    await pilot.pause()
    await pilot.press("f2")
    await pilot.pause()
    await pilot.pause()


async def _open_results(pilot) -> None:
    await _open_runs(pilot)
    await pilot.press("v")
    await pilot.pause()
    await pilot.pause()


def test_runs_screen_grouped_by_sweep_80x24(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(_runs_app(tmp_path, monkeypatch), terminal_size=(80, 24), run_before=_open_runs)


def test_runs_screen_grouped_by_sweep_120x40(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(_runs_app(tmp_path, monkeypatch), terminal_size=(120, 40), run_before=_open_runs)


def test_sweep_results_80x24(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(_runs_app(tmp_path, monkeypatch), terminal_size=(80, 24), run_before=_open_results)


def test_sweep_results_120x40(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(_runs_app(tmp_path, monkeypatch), terminal_size=(120, 40), run_before=_open_results)
