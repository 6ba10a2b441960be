"""The status line draws numbers once a second and state changes at once."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import ProgressBar

from lstm_tui.app.widgets.status_bar import StatusBar, StatusText


class StatusApp(App):
    def compose(self) -> ComposeResult:
        yield StatusBar()


async def test_numbers_are_drawn_on_the_next_flush_and_a_state_change_at_once(monkeypatch):
    app = StatusApp()
    async with app.run_test(size=(100, 3)) as pilot:
        bar = app.query_one(StatusBar)
        text = app.query_one(StatusText)
        refreshes = []
        monkeypatch.setattr(text, "refresh", lambda *a, **k: refreshes.append(1))
        bar.set_progress(0, 10)  # a new run: at once
        assert app.query_one(ProgressBar).total == 10
        for epoch in range(1, 6):  # five fast epochs
            bar.update_status(epoch=epoch, perplexity=20.0 - epoch, tokens_per_s=1000.0 * epoch)
            bar.set_progress(epoch, 10)
        assert refreshes == [] and app.query_one(ProgressBar).progress == 0  # not drawn yet
        assert bar.status.epoch == 5  # the data is current; only the drawing waits
        bar.flush()
        assert len(refreshes) == 1 and app.query_one(ProgressBar).progress == 5  # one redraw for five updates
        bar.update_status(state="paused")
        assert len(refreshes) == 2  # a state change shows at once
        await pilot.pause()
        assert "paused" in bar.text


async def test_a_progress_step_too_small_to_see_costs_no_redraw():
    """Epoch 8 of a million shows as 0% with an empty bar, as epoch 7 did: the bar is not
    redrawn; a step that shows (a tenth of a percent or more) is."""
    app = StatusApp()
    async with app.run_test(size=(100, 3)):
        bar = app.query_one(StatusBar)
        progress = app.query_one(ProgressBar)
        bar.set_progress(0, 1_000_000)
        updates = []
        original = progress.update
        progress.update = lambda **kw: (updates.append(kw), original(**kw))  # type: ignore[method-assign]
        for epoch in (7, 8, 900):
            bar.set_progress(epoch, 1_000_000)
            bar.flush()
        assert updates == [] and progress.progress == 0
        bar.set_progress(1_000, 1_000_000)  # 0.1%
        bar.flush()
        assert updates[:1] == [{"total": 1_000_000, "progress": 1_000}] and progress.percentage == 0.001
        bar.set_progress(3, 10)  # a new total: at once, as always
        assert progress.total == 10 and progress.progress == 3


def _line(width: int, **status) -> str:
    text = StatusText()
    for key, value in status.items():
        setattr(text.status, key, value)
    line = text.line(width)
    assert line.cell_len <= width
    return line.plain


TRAINING = dict(
    state="training",
    epoch=3,
    epochs=10,
    perplexity=8.0,
    val_perplexity=9.5,
    tokens_per_s=12_345.0,
    elapsed_s=12.0,
    eta_s=30.0,
    device="cpu",
    vocab_size=28,
)


def test_bits_per_character_sit_beside_the_perplexity_and_the_vocabulary_shows_where_it_fits():
    wide = _line(200, **TRAINING)
    assert "ppl 8.00 3.00 bpc val 9.50" in wide and "vocab 28" in wide  # log2(8) = 3
    narrow = _line(80, **TRAINING)
    assert "ppl 8.00 3.00 bpc" in narrow and "vocab" not in narrow  # the vocabulary goes first
    assert "bits/word" in _line(200, **{**TRAINING, "bits_unit": "bits/word"})
    assert "test 7.25" in _line(200, **{**TRAINING, "state": "finished", "test_perplexity": 7.25})
    assert "inf bpc" not in _line(200, **{**TRAINING, "perplexity": float("inf")})  # ('-': no number)


def test_a_long_message_of_wide_characters_is_cut_by_cells_not_dropped():
    line = _line(60, state="preparing", device="cpu", message="run folder: /tmp/語料/" + "長い名前" * 10)
    assert "語料" in line and line.endswith("…")


async def test_a_huge_perplexity_is_drawn_in_e_notation_in_the_app():
    """An early word-level epoch (perplexity ~1e5) fits the line as '1.23e+05', not 123456.79;
    its bits beside it and the validation value too, and the drawn line shows them."""
    app = StatusApp()
    async with app.run_test(size=(100, 3)) as pilot:
        bar = app.query_one(StatusBar)
        bar.update_status(state="training", epoch=1, epochs=5, perplexity=123_456.789, val_perplexity=2.5e6)
        bar.flush()
        await pilot.pause()
        drawn = "".join(segment.text for segment in app.screen._compositor.render_strips()[0])
        assert "ppl 1.23e+05 16.91 bpc val 2.5e+06" in drawn
        assert "123456" not in drawn
