"""The probability lens (F4), its time-lapse, the flip-book and the gradient through time, driven
through Pilot on the trained fixture runs and on built models."""

from __future__ import annotations

import pytest
from app_helpers import wait_for
from textual.widgets import Input

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.messages import RunLoaded
from lstm_tui.app.screens.flipbook import LENGTH, FlipBookScreen
from lstm_tui.app.screens.gates import DEFAULT_TEXT
from lstm_tui.app.screens.gradient import GradientScreen, steps_for
from lstm_tui.app.screens.lens import NO_MODEL, LensScreen
from lstm_tui.app.screens.load_run import LoadRunScreen
from lstm_tui.app.session import LoadedRun
from lstm_tui.core.checkpoint import load_model
from lstm_tui.core.gradient_time import gradient_through_time
from lstm_tui.core.models import build_model
from lstm_tui.core.presets import PRESETS
from lstm_tui.core.score import compare_scores, score_text
from lstm_tui.core.timelapse import flip_book, list_snapshots, load_snapshot_with_vocab


def make_app(runs_dir="/nonexistent-runs-dir-for-lens-tests") -> LstmTuiApp:
    config = PRESETS["scratch"].config.replace(device="cpu", seed=0)
    return LstmTuiApp(config, runs_dir=runs_dir, detect_devices=False)


def run_folder(root, name: str):
    (folder,) = root.glob(f"*-{name}")
    return folder


def load_run(root, name: str):
    folder = run_folder(root, name)
    model, vocab, config, _ = load_model(folder / "checkpoint.pt")
    return model, vocab, config, folder


async def post_model(pilot, model, vocab, config, path) -> None:
    pilot.app.post_message(RunLoaded(LoadedRun(model, vocab, config, str(path))))
    await wait_for(
        pilot, lambda: pilot.app.state == "loaded" and pilot.app.session.loaded.model is model, 5, "the model to load"
    )


async def settle(pilot, screen) -> None:
    await wait_for(pilot, lambda: screen.is_mounted and not screen.computing, 20, "the reading")


async def open_lens(pilot, text: str = DEFAULT_TEXT) -> LensScreen:
    pilot.app.query_one("#gen-prefix", Input).value = text
    await pilot.press("f4")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, LensScreen), 5, "the lens")
    screen = pilot.app.screen
    await settle(pilot, screen)
    return screen


def row(screen, label):
    return next(r for r in screen.strip.lens_rows if r.label == label)


def assert_row(values, expected) -> None:
    assert values[0] is None  # the first character has no prediction
    assert list(values[1:]) == pytest.approx([p.bits for p in expected.positions], abs=1e-9)


async def test_lens_shades_the_loaded_run_with_top5_totals_and_surprises(trained_runs_root):
    model, vocab, config, folder = load_run(trained_runs_root, "small")
    expected = score_text(model, vocab, DEFAULT_TEXT)
    async with make_app().run_test(size=(80, 24)) as pilot:
        await post_model(pilot, model, vocab, config, folder)
        screen = await open_lens(pilot)
        assert screen.error == ""
        assert screen.strip.cell_count == len(DEFAULT_TEXT)
        assert [r.label for r in screen.strip.lens_rows] == ["a"]
        assert_row(row(screen, "a").values, expected)
        totals = str(screen.query_one("#lens-totals").render())
        assert f"{expected.bits_per_char:.3f} bits/char" in totals and f"{expected.perplexity:.2f}" in totals
        worst = expected.most_surprising(10)
        surprising = str(screen.query_one("#lens-surprising").render())
        assert f"{worst[0].bits:.1f}" in surprising and surprising.count(".") >= 10
        await pilot.press("right", "right")  # character 2: its five likeliest predecessors' guesses
        assert screen.strip.cursor == 2
        detail = str(screen.query_one("#lens-detail").render())
        top = expected.positions[1].top
        assert len(top) == 5 and f"{top[0][1]:.0%}" in detail and "3/" in detail
        await pilot.press("home")
        assert "no prediction" in str(screen.query_one("#lens-detail").render())
        await pilot.press("escape")
        assert not isinstance(pilot.app.screen, LensScreen)


async def test_second_run_side_by_side_and_dropped(trained_runs_root):
    model, vocab, config, folder = load_run(trained_runs_root, "small")
    other_model, other_vocab, _, other = load_run(trained_runs_root, "held-out")
    a = score_text(model, vocab, DEFAULT_TEXT)
    b = score_text(other_model, other_vocab, DEFAULT_TEXT)
    async with make_app(trained_runs_root).run_test(size=(120, 40)) as pilot:
        await post_model(pilot, model, vocab, config, folder)
        screen = await open_lens(pilot)
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, LoadRunScreen), 5, "the run picker")
        pilot.app.screen.dismiss(str(other))
        await wait_for(pilot, lambda: screen.reading is not None and len(screen.reading.scores) == 2, 20, "b")
        await settle(pilot, screen)
        assert [r.label for r in screen.strip.lens_rows] == ["a", "b", "b - a"]
        assert_row(row(screen, "b").values, b)
        diff = row(screen, "b - a")
        assert diff.kind == "diff"
        assert list(diff.values[1:]) == pytest.approx(compare_scores(a, b).diff, abs=1e-9)
        assert other.name in str(screen.query_one("#lens-runs").render())
        await pilot.press("x")
        await wait_for(pilot, lambda: len(screen.reading.scores) == 1, 20, "b dropped")


async def test_bidirectional_model_shows_train_and_write_mode():
    config = PRESETS["bidirectional"].config.replace(device="cpu", hidden=16, seed=0)
    model = build_model(config, 28).eval()
    from lstm_tui.core.data import Vocab

    vocab = Vocab(list(" abcdefghijklmnopqrstuvwxyz"))
    async with make_app().run_test(size=(80, 24)) as pilot:
        await post_model(pilot, model, vocab, config, "/runs/bidi")
        screen = await open_lens(pilot)
        assert [r.label for r in screen.strip.lens_rows] == ["train", "write"]
        assert_row(row(screen, "train").values, score_text(model, vocab, DEFAULT_TEXT, mode="train"))
        assert_row(row(screen, "write").values, score_text(model, vocab, DEFAULT_TEXT, mode="write"))


async def test_timelapse_steps_through_the_snapshots_and_back_to_latest(trained_runs_root):
    model, vocab, config, folder = load_run(trained_runs_root, "small")
    epochs = [info.epoch for info in list_snapshots(folder)]
    assert epochs == [1, 2]
    old_model, old_vocab, _ = load_snapshot_with_vocab(folder, 1)
    async with make_app().run_test(size=(80, 24)) as pilot:
        await post_model(pilot, model, vocab, config, folder)
        screen = await open_lens(pilot)
        await pilot.press("[", "[")
        await settle(pilot, screen)
        assert screen.timelapse.epoch == 1
        assert "as of epoch 1" in screen.query_one("#lens-dialog").border_subtitle
        assert_row(row(screen, "a").values, score_text(old_model, old_vocab, DEFAULT_TEXT))
        await pilot.press("[")  # the oldest stays
        assert screen.timelapse.epoch == 1
        await pilot.press("]", "]")
        await settle(pilot, screen)
        assert screen.timelapse.epoch is None and "latest" in screen.query_one("#lens-dialog").border_subtitle
        assert_row(row(screen, "a").values, score_text(model, vocab, DEFAULT_TEXT))


async def test_followed_run_folder_and_no_model(trained_runs_root):
    model, vocab, _, folder = load_run(trained_runs_root, "held-out")
    async with make_app().run_test(size=(80, 24)) as pilot:
        screen = await open_lens(pilot)
        assert screen.error == NO_MODEL and screen.strip.chars is None
        await pilot.press("escape")
        pilot.app.action_lens(run_path=str(folder))  # the follower hands the app a run folder
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, LensScreen), 5, "the lens")
        screen = pilot.app.screen
        await settle(pilot, screen)
        assert screen.error == "" and folder.name in screen.query_one("#lens-dialog").border_subtitle
        assert_row(row(screen, "a").values, score_text(model, vocab, DEFAULT_TEXT))


async def test_flip_book_and_gradient_from_the_lens(trained_runs_root):
    model, vocab, config, folder = load_run(trained_runs_root, "small")
    async with make_app().run_test(size=(120, 40)) as pilot:
        await post_model(pilot, model, vocab, config, folder)
        lens = await open_lens(pilot)
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FlipBookScreen), 5, "the flip-book")
        book = pilot.app.screen
        await wait_for(pilot, lambda: not book.computing, 20, "the pages")
        prefix = DEFAULT_TEXT[:40]
        assert book.pages == flip_book(folder, prefix, LENGTH)
        assert [epoch for epoch, _ in book.pages] == [1, 2]  # newest last
        shown = str(book.query_one("#flipbook-pages").render())
        assert shown.index("epoch 1") < shown.index("epoch 2")
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is lens, 5, "back to the lens")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, GradientScreen), 5, "the gradient")
        grad = pilot.app.screen
        await wait_for(pilot, lambda: not grad.computing, 30, "the gradient")
        expected = gradient_through_time(model, vocab, DEFAULT_TEXT, steps_for(DEFAULT_TEXT))
        assert len(grad.series) == 1 and grad.series[0][1] == pytest.approx(expected, rel=1e-6)
        assert len(expected) == 51
        xs, ys = grad.chart.points(grad.series[0][1])
        assert xs[0] == 0 and len(xs) == len([v for v in expected if v > 0])


async def test_flip_book_without_a_run_folder_says_so():
    async with make_app().run_test(size=(80, 24)) as pilot:
        pilot.app.push_screen(FlipBookScreen(None, "time traveller"))
        await pilot.pause()
        assert "no run folder" in pilot.app.screen.error


def test_lens_snapshot_80x24(snap_compare, book_trained_runs_root):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_snapshot_setup(book_trained_runs_root))


def test_lens_snapshot_120x40(snap_compare, book_trained_runs_root):
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=_snapshot_setup(book_trained_runs_root))


def _snapshot_setup(root):
    model, vocab, config, _ = load_run(root, "held-out")

    async def open_it(pilot) -> None:
        await post_model(pilot, model, vocab, config, "/runs/held-out")
        screen = await open_lens(pilot)
        for widget in pilot.app.screen.query(Input):
            widget.cursor_blink = False
        await pilot.press("right", "right", "right")
        await settle(pilot, screen)

    return open_it


def _flip_book_setup(root):
    folder = run_folder(root, "held-out")

    async def open_it(pilot) -> None:
        screen = FlipBookScreen(str(folder), "time traveller")
        pilot.app.push_screen(screen)
        await wait_for(pilot, lambda: screen.is_mounted and not screen.computing, 20, "the pages")
        await pilot.pause()

    return open_it


def _gradient_setup(root):
    model, vocab, config, _ = load_run(root, "held-out")
    small_model, small_vocab, small_config, _ = load_run(root, "small")

    async def open_it(pilot) -> None:
        await post_model(pilot, model, vocab, config, "/runs/held-out")
        sources = [
            ("run held-out", LoadedRun(model, vocab, config, "/runs/held-out")),
            ("run small", LoadedRun(small_model, small_vocab, small_config, "/runs/small")),
        ]
        screen = GradientScreen(sources, DEFAULT_TEXT)
        pilot.app.push_screen(screen)
        await wait_for(pilot, lambda: screen.is_mounted and not screen.computing, 30, "the gradient")
        await pilot.pause()

    return open_it


def test_flip_book_snapshot_80x24(snap_compare, book_trained_runs_root):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_flip_book_setup(book_trained_runs_root))


def test_flip_book_snapshot_120x40(snap_compare, book_trained_runs_root):
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=_flip_book_setup(book_trained_runs_root))


def test_gradient_snapshot_80x24(snap_compare, book_trained_runs_root):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=_gradient_setup(book_trained_runs_root))


def test_gradient_snapshot_120x40(snap_compare, book_trained_runs_root):
    assert snap_compare(make_app(), terminal_size=(120, 40), run_before=_gradient_setup(book_trained_runs_root))
