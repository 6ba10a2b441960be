"""Pictures of lstm-tui on a real short run, saved as SVG in screenshots/.

    python scripts/screenshots.py [--data-dir DIR] [--epochs 200] [--only lens]

Runs the app headless (``App.run_test``) on real runs of the book's presets (a scratch run at
80x24, then a concise run at 120x40) and saves: mid-training with chart and samples, the
generate box answering, the gate inspector, the help screen, and the two runs compared.
``--only lens`` makes just the probability lens's picture (F4, on a finished concise run).
``--only sweeps`` makes the sweep pictures: an exercise card (gradient clipping on vs off) run
from the exercises screen (F2 e) with its verdict, the runs screen grouped by that sweep, the
sweep's results (v) and the main screen following the sweep (w).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textual.widgets import Input  # noqa: E402

from lstm_tui.app.main import LstmTuiApp  # noqa: E402
from lstm_tui.core.presets import PRESETS  # noqa: E402


async def until(pilot, predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await pilot.pause(0.1)


async def save(app, pilot, out: Path, name: str) -> None:
    await pilot.pause(0.6)  # let the chart timer and workers redraw
    app.save_screenshot(str(out / name))
    print("saved", out / name)


async def train_until(app, pilot, config, epoch: int) -> None:
    for widget in app.query(Input):
        widget.cursor_blink = False
    await pilot.press("f5")
    await until(pilot, lambda: app.status_bar.status.epoch >= epoch and app.log_view.entries >= 2, 900)


async def stop(app, pilot) -> None:
    await pilot.press("f7")
    await until(pilot, lambda: app.state in ("stopped", "finished", "failed"), 120)


async def small_terminal(config, out: Path, runs_dir: Path) -> None:
    """80x24, mid-training: everything must still be there."""
    app = LstmTuiApp(config, runs_dir=runs_dir)
    async with app.run_test(size=(80, 24)) as pilot:
        await train_until(app, pilot, config, config.epochs // 2)
        await save(app, pilot, out, "training-80x24.svg")
        await stop(app, pilot)


async def tour(config, out: Path, runs_dir: Path) -> None:
    """120x40: training, the generate box, the gate inspector, help, runs and a comparison."""
    app = LstmTuiApp(config, runs_dir=runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await train_until(app, pilot, config, config.epochs * 3 // 5)
        await save(app, pilot, out, "training-120x40.svg")
        await pilot.press("ctrl+g")
        app.query_one("#gen-length", Input).value = "120"
        app.query_one("#gen-temperature", Input).value = "0.7"
        app.query_one("#gen-top-k", Input).value = "8"
        await pilot.press("enter")
        box = app.generate_box
        await until(pilot, lambda: not box.busy and (box.generated or box.error), 60)
        await save(app, pilot, out, "generate-120x40.svg")
        await until(pilot, lambda: app.state in ("finished", "failed"), 900)
        await pilot.press("f3")
        await until(pilot, lambda: getattr(app.screen, "strip", None) is not None and app.screen.strip.trace, 60)
        await save(app, pilot, out, "gates-120x40.svg")
        await pilot.press("escape")
        await pilot.press("f1")
        await save(app, pilot, out, "help-120x40.svg")
        await pilot.press("escape")
        await pilot.press("f2")
        await pilot.pause(0.5)
        for _ in range(2):
            await pilot.press("space")
        await pilot.press("c")
        await save(app, pilot, out, "compare-120x40.svg")


async def lens(config, out: Path, runs_dir: Path) -> None:
    """120x40: the probability lens (F4) on a finished run, the cursor on a surprising character."""
    app = LstmTuiApp(config, runs_dir=runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await train_until(app, pilot, config, config.epochs)
        await until(pilot, lambda: app.state in ("finished", "failed"), 900)
        app.query_one("#gen-prefix", Input).value = ""
        await pilot.press("f4")
        screen = app.screen
        await until(pilot, lambda: getattr(screen, "reading", None) is not None or getattr(screen, "error", ""), 60)
        for widget in screen.query(Input):
            widget.cursor_blink = False
        worst = screen.reading.main.most_surprising(1)[0].index if screen.reading else 0
        for _ in range(worst):
            await pilot.press("right")
        await save(app, pilot, out, "lens-120x40.svg")


async def sweeps(config, out: Path, runs_dir: Path) -> None:
    """120x40: the clipping card run as a sweep of real train processes, then its results."""
    app = LstmTuiApp(config, runs_dir=runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        await pilot.pause(0.5)
        await pilot.press("e")
        await until(pilot, lambda: getattr(app.screen, "cards", None) is not None, 15)
        screen = app.screen
        await pilot.press("enter")
        await pilot.pause(0.5)
        await pilot.press("y")
        await until(pilot, lambda: screen.running is not None, 15)
        await until(pilot, lambda: screen.running is None and screen.view and screen.view.verdict, 1800)
        await save(app, pilot, out, "exercises-120x40.svg")
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is not screen, 10)
        await pilot.pause(1.5)  # the runs screen re-reads the folder
        await save(app, pilot, out, "runs-sweep-120x40.svg")
        await pilot.press("v")
        await until(pilot, lambda: type(app.screen).__name__ == "SweepResultsScreen", 15)
        await save(app, pilot, out, "sweep-results-120x40.svg")
        await pilot.press("w")  # follow the sweep on the main screen
        await until(pilot, lambda: len(app.chart.lines) >= 2, 30)
        await save(app, pilot, out, "following-sweep-120x40.svg")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    parser.add_argument("--only", choices=["lens", "sweeps"], help="make only these pictures")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import tempfile

    common = dict(data_dir=args.data_dir, device="cpu", seed=0, predict_every=args.epochs // 10)
    with tempfile.TemporaryDirectory() as runs:
        if args.only == "lens":
            asyncio.run(lens(PRESETS["concise"].config.replace(**common, epochs=args.epochs), out, Path(runs)))
            return 0
        asyncio.run(sweeps(PRESETS["concise"].config.replace(**common), out, Path(runs) / "sweeps"))
        if args.only == "sweeps":
            return 0
        asyncio.run(
            small_terminal(PRESETS["scratch"].config.replace(**common, epochs=args.epochs // 2), out, Path(runs))
        )
        asyncio.run(tour(PRESETS["concise"].config.replace(**common, epochs=args.epochs), out, Path(runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
