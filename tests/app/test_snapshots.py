"""Pictures of the main screen (80x24, 120x40), the help screen and the runs screen (F2); update
with --snapshot-update."""

from __future__ import annotations

from textual.widgets import Input

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.core.presets import PRESETS


def _app() -> LstmTuiApp:
    config = PRESETS["scratch"].config.replace(device="cpu", seed=0)
    return LstmTuiApp(config, runs_dir="/nonexistent-runs-dir-for-snapshots", detect_devices=False)


async def _settle(pilot) -> None:
    for widget in pilot.app.query(Input):
        widget.cursor_blink = False
    await pilot.pause()
    await pilot.pause()


def test_main_screen_80x24(snap_compare):
    assert snap_compare(_app(), terminal_size=(80, 24), run_before=_settle)


def test_main_screen_120x40(snap_compare):
    assert snap_compare(_app(), terminal_size=(120, 40), run_before=_settle)


def test_help_screen(snap_compare):
    async def open_help(pilot) -> None:
        await _settle(pilot)
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=(100, 32), run_before=open_help)


def test_too_small(snap_compare):
    assert snap_compare(_app(), terminal_size=(60, 18), run_before=_settle)


#: Runs for the runs screen's pictures: (folder, preset, summary); the renamed run's folder has
#: no stamp, so its summary records when it was created.
SNAPSHOT_RUNS = (
    (
        "20261126-183012-scratch",
        "scratch",
        dict(
            status="finished",
            epoch=500,
            perplexity=1.21,
            val_perplexity=None,
            generation_perplexity=3.4,
            tokens_per_s=41234.0,
            elapsed_s=812.0,
        ),
    ),
    (
        "20261126-191544-concise",
        "concise",
        dict(
            status="finished",
            epoch=500,
            perplexity=1.08,
            val_perplexity=5.92,
            generation_perplexity=2.9,
            tokens_per_s=98110.0,
            elapsed_s=301.5,
        ),
    ),
    (
        "20261126-203010-deep",
        "deep",
        dict(status="stopped", epoch=37, perplexity=6.77, val_perplexity=7.1, tokens_per_s=55000.0, elapsed_s=95.0),
    ),
    (
        "20261127-014712-bidirectional",
        "bidirectional",
        dict(status="running", epoch=5, perplexity=18.58, tokens_per_s=61000.0, elapsed_s=40.0),
    ),
    (
        "my-first-run-with-a-much-longer-name",
        "scratch",
        dict(status="failed", epoch=2, perplexity=25.4, elapsed_s=12.0, created="2026-11-25T09:30:00"),
    ),
)


def _runs_app(tmp_path, monkeypatch) -> LstmTuiApp:
    """The app on a runs folder named relatively (``runs``), so the title is the same on every machine."""
    from lstm_tui.core.runs import LOCK_FILE, RunDir

    monkeypatch.chdir(tmp_path)
    for name, preset, summary in SNAPSHOT_RUNS:
        run = RunDir(tmp_path / "runs" / name)
        run.path.mkdir(parents=True)
        run.write_config(PRESETS[preset].config)
        run.write_summary({"epochs": 500, "device": "cuda:0 (NVIDIA H100)", **summary})
        if summary["status"] == "running":  # its trainer's lock (on the GPU server it trains on)
            (run.path / LOCK_FILE).write_text('{"pid": 4242, "host": "gpu-server"}')
    config = PRESETS["scratch"].config.replace(device="cpu", seed=0)
    return LstmTuiApp(config, runs_dir="runs", detect_devices=False)


async def _open_runs(pilot) -> None:
    await _settle(pilot)
    await pilot.press("f2")
    await pilot.pause()
    await pilot.pause()


def test_runs_screen_80x24(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(_runs_app(tmp_path, monkeypatch), terminal_size=(80, 24), run_before=_open_runs)


def test_runs_screen_120x40(snap_compare, tmp_path, monkeypatch):
    assert snap_compare(_runs_app(tmp_path, monkeypatch), terminal_size=(120, 40), run_before=_open_runs)
