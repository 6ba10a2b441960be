"""Wide characters (CJK, emoji: two terminal columns each) stay aligned: the prediction log, the
generate box and the gate inspector, on a tiny model trained on a generated raw CJK corpus; and
a picture of the log with CJK samples at 80x24."""

from __future__ import annotations

import random
from pathlib import Path

from app_helpers import DONE, wait_for
from rich.cells import cell_len
from textual.geometry import Region
from textual.widgets import Input, Static

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens.gates import GateScreen
from lstm_tui.app.widgets.gate_strip import LABEL_WIDTH, GateStrip
from lstm_tui.core.gates import GateTrace
from lstm_tui.core.presets import PRESETS

COMMON = "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用"
EMOJI = "😀🎉🐍🌏🚀🍎"  # one code point each, two columns each
PREFIXES = ("我们", "时间")


def cjk_text(chars: int = 6000, seed: int = 0) -> str:
    """A few thousand characters cycling through common CJK characters and some emoji (mostly
    in order, so a tiny model learns something of it quickly), a line break now and then."""
    rng = random.Random(seed)
    symbols = COMMON + EMOJI
    out, index = [], 0
    while len(out) < chars:
        index = (index + rng.choice((1, 1, 1, 2, 7))) % len(symbols)
        out.append(symbols[index])
        if len(out) % 201 == 200:
            out.append("。\n")
    return "".join(PREFIXES) + "".join(out)


def cjk_config(tmp_path: Path, tiny_config):
    corpus = tmp_path / "cjk.txt"
    corpus.write_text(cjk_text(), encoding="utf-8")
    return tiny_config.replace(
        corpus=str(corpus), raw=True, max_tokens=0, prefix=PREFIXES, predict_length=40, epochs=4, predict_every=2
    )


def strip_text(strips) -> str:
    return "".join(strip.text for strip in strips)


def assert_log_lines_fit(app: LstmTuiApp) -> None:
    log = app.log_view
    width = log.scrollable_content_region.width
    assert width > 0
    for strip in log.lines:
        assert strip.cell_length <= width, (strip.text, strip.cell_length, width)
    shown = strip_text(log.lines).replace(" ", "")
    for line in log._lines:  # every entry is there in full, none of its characters cut at a line end
        assert line.plain.replace(" ", "") in shown


def column_of(line: str, index: int) -> int:
    """The terminal column where character ``index`` of ``line`` starts."""
    return cell_len(line[:index])


def assert_strip_aligned(strip: GateStrip) -> None:
    """Every row of the strip has the same width in cells, and the cursor's ▼ stands over the
    cursor's character in every row."""
    lines = strip.render().plain.split("\n")
    trace = strip.trace
    rows = [line for line in lines[1:] if not line.startswith("hidden")]
    widths = {cell_len(line) for line in rows}
    assert len(widths) == 1, [(line, cell_len(line)) for line in rows]
    assert cell_len(lines[0]) == widths.pop()  # the marker row too
    marker = lines[0]
    cursor_column = column_of(marker, marker.index("▼"))
    first = strip.scroll_start
    shown = [strip.cell_text(char) for char in trace.chars[first : strip.cursor]]
    assert cursor_column == LABEL_WIDTH + sum(cell_len(text) for text in shown)
    for line in rows:
        body = line[LABEL_WIDTH:]
        at = 0
        for text in shown:
            assert body[at : at + len(text)] == text
            at += len(text)
        assert body[at:].startswith(strip.cell_text(trace.chars[strip.cursor]))


def fake_trace(chars: list[str]) -> GateTrace:
    n = len(chars)
    values = [k / max(n - 1, 1) for k in range(n)]
    return GateTrace(
        chars=chars,
        input_gate=values,
        forget_gate=values[::-1],
        output_gate=values,
        units=[0, 1],
        unit_values=[[2 * v - 1 for v in values], values],
        note="",
        layer=0,
    )


async def test_a_tiny_model_on_a_cjk_corpus_keeps_log_generate_box_and_gates_aligned(tiny_config, runs_dir, tmp_path):
    config = cjk_config(tmp_path, tiny_config)
    app = LstmTuiApp(config, runs_dir=runs_dir, detect_devices=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state in DONE, 90, "the CJK run")
        assert app.state == "finished", app.log_view.plain
        assert app.log_view.entries >= 2 and "我们" in app.log_view.plain
        assert any(char in app.log_view.plain.split("epoch 2", 1)[1] for char in COMMON)  # CJK samples
        assert_log_lines_fit(app)
        # the generate box, from a CJK prefix
        await pilot.press("ctrl+g")
        app.query_one("#gen-prefix", Input).value = "我们"
        app.query_one("#gen-length", Input).value = "120"
        await pilot.press("enter")
        box = app.generate_box
        await wait_for(pilot, lambda: not box.busy and (box.generated or box.error), 30, "generation")
        assert len(box.generated) == 120, box.error
        await pilot.pause()
        output = app.query_one("#gen-output", Static)
        strips = output.render_lines(Region(0, 0, output.size.width, output.size.height))
        assert strips and all(strip.cell_length == output.size.width for strip in strips)  # every row as wide
        written = (box.prefix + box.generated).replace("\n", "").replace(" ", "")
        assert cell_len(written) > 2 * output.size.width  # (it wraps)
        assert written in strip_text(strips).replace(" ", "")  # in full: no wide character cut at a row's end
        # the gate inspector, on a CJK text with emoji
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, GateScreen), 5, "the inspector")
        screen = app.screen
        text = "我们的时间😀在这里🎉大家好" * 3
        screen.query_one("#gates-text", Input).value = text
        strip = screen.query_one(GateStrip)
        await wait_for(pilot, lambda: strip.trace is not None and "".join(strip.trace.chars) == text, 20, "the gates")
        await pilot.pause()
        assert_strip_aligned(strip)
        strip.focus()
        for key in ("right", "right", "right", "end", "left", "home", "pagedown"):
            await pilot.press(key)
            await pilot.pause()
            assert_strip_aligned(strip)  # and where the strip scrolled to keep the cursor in view


async def test_a_sample_with_line_breaks_is_one_entry_of_the_log(tiny_config, runs_dir):
    app = LstmTuiApp(tiny_config, runs_dir=runs_dir, detect_devices=False)
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.log_view
        before = len(log.lines)
        log.sample(2, 30.0, None, "我们", "我们\n\n\n的\r\n时间")
        await pilot.pause()
        assert (
            log._lines[-1].plain == "  我们↵↵↵的↵时间" and len(log.lines) == before + 2
        )  # the epoch's head, the sample


async def test_the_gate_strip_measures_cells_not_characters():
    """Unit level: one strip row is as wide as the characters' cells; the cursor's marker too."""
    from textual.app import App, ComposeResult

    class StripApp(App):
        def compose(self) -> ComposeResult:
            yield GateStrip()

    app = StripApp()
    async with app.run_test(size=(60, 12)) as pilot:
        strip = app.query_one(GateStrip)
        chars = list("大家好😀 a\n中文")  # wide, narrow, a space and a newline (shown as stand-ins)
        strip.set_trace(fake_trace(chars))
        strip.cursor = 4
        await pilot.pause()
        assert_strip_aligned(strip)
        row = strip.render().plain.split("\n")[2]  # the forget row
        assert cell_len(row) == LABEL_WIDTH + 2 * 6 + 3  # six wide, "·", "a", "↵"
        strip.set_trace(fake_trace(list("时间旅行者" * 20)))  # longer than the strip: it scrolls
        strip.cursor = 70
        await pilot.pause()
        assert_strip_aligned(strip)
        assert all(cell_len(line) <= strip.size.width for line in strip.render().plain.split("\n"))


SNAPSHOT_SAMPLES = (
    (
        2,
        41.72,
        "我们",
        "我们的时间在这里大家好😀中国人民是不了我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会",
    ),
    (2, 41.72, "时间", "时间旅行者🎉来了。\n他说我们都然没日于起还发成事只作当想看文无开手十用🐍🌏🚀"),
    (4, 18.05, "我们", "我们是中国人，我们在这里。大家好🍎好都然没日于起"),
)


def test_the_log_and_the_generate_box_with_cjk_samples_80x24(snap_compare):
    config = PRESETS["scratch"].config.replace(device="cpu", seed=0)
    app = LstmTuiApp(config, runs_dir="/nonexistent-runs-dir-for-snapshots", detect_devices=False)

    async def fill(pilot) -> None:
        for widget in pilot.app.query(Input):
            widget.cursor_blink = False
        await pilot.pause()
        log = pilot.app.log_view
        for epoch, ppl, prefix, text in SNAPSHOT_SAMPLES:
            log.sample(epoch, ppl, None, prefix, text)
        box = pilot.app.generate_box
        box.begin("我们")
        box.append(
            "的时间在这里😀大家好，中国人民是不了我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过"
        )
        box.done()
        await pilot.pause()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=fill)
