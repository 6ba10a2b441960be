"""Pictures of lstm-tui on a real short run, saved as SVG in screenshots/.

    python scripts/screenshots.py [--data-dir DIR] [--epochs 30]

Runs the app headless (``App.run_test``) on the concise preset (hidden 64, 10,000 characters),
and saves: mid-training with chart and samples, the generate box answering, the help screen
(120x40), and mid-training at 80x24.
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


async def shoot(size: tuple[int, int], config, out: Path, runs_dir: Path, full: bool) -> None:
    app = LstmTuiApp(config, runs_dir=runs_dir)
    tag = f"{size[0]}x{size[1]}"
    async with app.run_test(size=size) as pilot:
        for widget in app.query(Input):
            widget.cursor_blink = False
        await pilot.press("f5")
        await until(pilot, lambda: app.status_bar.status.epoch >= config.epochs // 2 and app.log_view.entries >= 2, 600)
        await pilot.pause(0.6)  # let the chart timer redraw
        app.save_screenshot(str(out / f"training-{tag}.svg"))
        print("saved", out / f"training-{tag}.svg")
        if not full:
            await pilot.press("f7")
            await until(pilot, lambda: app.state in ("stopped", "finished", "failed"), 120)
            return
        await pilot.press("ctrl+g")
        app.query_one("#gen-length", Input).value = "120"
        app.query_one("#gen-temperature", Input).value = "0.7"
        app.query_one("#gen-top-k", Input).value = "8"
        await pilot.press("enter")
        box = app.generate_box
        await until(pilot, lambda: not box.busy and (box.generated or box.error), 60)
        await pilot.pause(0.6)
        app.save_screenshot(str(out / f"generate-{tag}.svg"))
        print("saved", out / f"generate-{tag}.svg")
        await pilot.press("f1")
        await pilot.pause(0.3)
        app.save_screenshot(str(out / f"help-{tag}.svg"))
        print("saved", out / f"help-{tag}.svg")
        await pilot.press("escape")
        await pilot.press("f7")
        await until(pilot, lambda: app.state in ("stopped", "finished", "failed"), 120)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    import tempfile

    config = PRESETS["concise"].config.replace(data_dir=args.data_dir, hidden=64, epochs=args.epochs,
                                              max_tokens=10_000, predict_every=5, device="cpu", seed=0)
    with tempfile.TemporaryDirectory() as runs:
        asyncio.run(shoot((120, 40), config, out, Path(runs), full=True))
        asyncio.run(shoot((80, 24), config, out, Path(runs), full=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
