"""The corpus in the app: the load's progress on the status line, F7 / ctrl+q while it loads,
a resume over a changed corpus (both SHA-1s shown, "resume anyway"), the vocabulary size,
bits per character and the test perplexity, and the corpus fields of the form."""

from __future__ import annotations

import hashlib
import re
import shutil
import time
from pathlib import Path

from app_helpers import DONE, wait_for
from textual.widgets import Input, ProgressBar, Select

from lstm_tui.app.main import LstmTuiApp
from lstm_tui.app.screens import ConfirmQuit
from lstm_tui.app.screens.confirm import Confirm

BIG_MB = 30
STEP_DELAY_S = 0.1  # each chunk of the load waits this long: a slow disk, so F7 surely lands mid-load


def make_app(config, runs_dir, **kwargs) -> LstmTuiApp:
    return LstmTuiApp(config, runs_dir=runs_dir, detect_devices=False, **kwargs)


def big_corpus(folder: Path, megabytes: int = BIG_MB) -> Path:
    """A generated plain-text file of about ``megabytes`` MB (read raw)."""
    line = "the time traveller for so it will be convenient to speak of him was expounding a recondite matter to us\n"
    path = folder / "big.txt"
    path.write_text(line * (megabytes * 1_000_000 // len(line)), encoding="utf-8")
    return path


def slow_load(monkeypatch) -> list[str]:
    """Every chunk of the load (1 MiB) waits STEP_DELAY_S: a 30 MB file then takes some 6 s to
    load instead of about 0.4 s, so a key pressed during it lands while it still loads. The
    stages seen (in order) are returned, to tell a cancelled load from a finished one."""
    from lstm_tui.core.data import hooks, sources

    monkeypatch.setattr(sources, "READ_CHUNK", 1 << 20)
    stages: list[str] = []
    step = hooks.LoadHooks.step

    def slow_step(self, stage: str, done: int, total: int | None) -> None:
        stages.append(stage)
        time.sleep(STEP_DELAY_S)
        step(self, stage, done, total)

    monkeypatch.setattr(hooks.LoadHooks, "step", slow_step)
    return stages


def run_folders(runs_dir: Path) -> list[Path]:
    return [p for p in runs_dir.iterdir() if p.is_dir()] if runs_dir.exists() else []


async def test_the_status_line_shows_the_load_and_f7_cancels_it_at_once(tiny_config, runs_dir, tmp_path, monkeypatch):
    corpus = big_corpus(tmp_path)
    stages = slow_load(monkeypatch)
    app = make_app(tiny_config.replace(corpus=str(corpus), raw=True, max_tokens=0), runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: "loading corpus: reading" in app.status_bar.text, 30, "the load's progress")
        await wait_for(
            pilot,
            lambda: re.search(r"reading [1-9]\d*\.\d/\d+\.\d MB \(\d+%\)", app.status_bar.text),
            10,
            "done/total and a percentage",
        )
        assert app.state == "preparing"
        bar = app.query_one(ProgressBar)
        assert bar.total == corpus.stat().st_size and 0 < bar.progress < bar.total  # the bar follows the bytes
        pressed = time.monotonic()
        await pilot.press("f7")
        await wait_for(pilot, lambda: app.state == "idle", 2.0, "the app idle again after F7")
        assert time.monotonic() - pressed < 2.0
        assert "loading cancelled" in app.status_bar.text and "loading cancelled" in app.log_view.plain
        assert "✗" not in app.log_view.plain and "failed" not in app.status_bar.text  # not an error
        assert app.session.trainer is None and not app.form.disabled
        await app.workers.wait_for_complete()
        assert "indexing" not in stages  # the load stopped where it was, it did not run to its end
        assert run_folders(runs_dir) == []  # the folder is made after the load: none was started
        # and the app starts again as usual
        monkeypatch.undo()
        app.query_one("#field-corpus", Input).value = tiny_config.corpus
        app.query_one("#field-max_tokens", Input).value = "2000"
        await pilot.pause()
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the next run")
        assert app.state == "finished", app.log_view.plain


async def test_ctrl_q_while_loading_quits_at_once(tiny_config, runs_dir, tmp_path, monkeypatch):
    corpus = big_corpus(tmp_path)
    slow_load(monkeypatch)
    app = make_app(tiny_config.replace(corpus=str(corpus), raw=True, max_tokens=0), runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: "loading corpus:" in app.status_bar.text, 30, "the load")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmQuit)
        pressed = time.monotonic()
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, 3.0, "the app to exit")
        assert time.monotonic() - pressed < 3.0
    assert app.return_code == 0 and run_folders(runs_dir) == []


async def test_a_resume_over_a_changed_corpus_names_both_hashes_and_can_go_on(tiny_config, runs_dir, tmp_path):
    corpus = tmp_path / "mine.txt"
    shutil.copyfile(tiny_config.corpus, corpus)
    old_sha = hashlib.sha1(corpus.read_bytes()).hexdigest()
    app = make_app(tiny_config.replace(corpus=str(corpus), epochs=1, predict_every=0), runs_dir)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the first run")
        assert app.state == "finished", app.log_view.plain
        corpus.write_text(corpus.read_text() * 2)  # the same vocabulary, another text
        new_sha = hashlib.sha1(corpus.read_bytes()).hexdigest()
        app.query_one("#field-epochs", Input).value = "2"
        await pilot.pause()
        await pilot.press("f8")
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), 60, "the question")
        dialog = app.screen
        assert old_sha in dialog.message and new_sha in dialog.message
        assert old_sha in app.log_view.plain and new_sha in app.log_view.plain
        assert app.state == "finished"  # not failed: the run is as it was
        await pilot.press("n")
        await pilot.pause()
        assert app.state == "finished" and app.session.trainer is None
        await pilot.press("f8")  # again, and this time resume anyway
        await wait_for(pilot, lambda: isinstance(app.screen, Confirm), 60, "the question again")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.state == "training" or app.state in DONE, 60, "the resume")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the resumed run")
        assert app.state == "finished" and app.status_bar.status.epoch == 2, app.log_view.plain
    from lstm_tui.core.runs import RunDir

    (run,) = run_folders(runs_dir)
    assert RunDir(run).summary().corpus_sha1 == new_sha  # the run records the text it trained on now


async def test_the_status_line_shows_vocab_bits_per_character_and_the_test_perplexity(tiny_config, runs_dir):
    app = make_app(tiny_config.replace(val_split=0.1, test_split=0.1, epochs=2), runs_dir)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state == "training" or app.state in DONE, 60, "the start")
        vocab = re.search(r"vocabulary (\d+)", app.log_view.plain).group(1)
        assert f"vocab {vocab}" in app.status_bar.text
        await wait_for(pilot, lambda: app.state in DONE, 60, "the end")
        status = app.status_bar.status
        assert app.state == "finished" and status.test_perplexity is not None
        text = app.status_bar.text
        import math

        assert f"ppl {status.perplexity:.2f} {math.log2(status.perplexity):.2f} bpc" in text
        assert f"test {status.test_perplexity:.2f}" in text
        assert (
            f"test perplexity {status.test_perplexity:.2f} ({math.log2(status.test_perplexity):.2f} bpc)"
            in app.log_view.plain
        )


async def test_the_corpus_fields_are_in_the_form_and_validate(tiny_config, runs_dir):
    app = make_app(tiny_config, runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        form = app.form
        for name in ("encoding", "errors", "min_freq", "max_vocab", "test_split"):
            assert name in form.editors
        assert isinstance(form.editors["errors"], Select)
        bad = {"encoding": "no-such-codec", "min_freq": "-1", "max_vocab": "1", "test_split": "0.7"}
        for name, value in bad.items():
            app.query_one(f"#field-{name}", Input).value = value
        await pilot.pause()
        assert set(bad) <= set(form.errors), form.errors
        assert "encoding" in form.errors["encoding"] or "no-such-codec" in form.errors["encoding"]
        await pilot.press("f5")
        await pilot.pause()
        assert app.state == "idle" and app.session.run_id == 0
        for name, value in {"encoding": "latin-1", "min_freq": "2", "max_vocab": "50", "test_split": "0.1"}.items():
            app.query_one(f"#field-{name}", Input).value = value
        await pilot.pause()
        assert not set(bad) & set(form.errors)
        config = form.build_config()
        assert (config.encoding, config.min_freq, config.max_vocab, config.test_split) == ("latin-1", 2, 50, 0.1)
        app.query_one("#field-corpus", Input).focus()
        await pilot.pause()
        help_text = str(app.query_one("#field-help").render())
        assert "folder" in help_text and "glob" in help_text


async def test_a_corpus_the_cleaning_would_mostly_drop_is_a_warning_that_suggests_raw(tiny_config, runs_dir, tmp_path):
    corpus = tmp_path / "mixed.txt"
    corpus.write_text(("the time machine 时间旅行者来了我们都在这里大家好中国人民 " * 400), encoding="utf-8")
    app = make_app(tiny_config.replace(corpus=str(corpus), epochs=1, predict_every=0, prefix=("the time",)), runs_dir)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.state in DONE, 60, "the run")
        assert app.state == "finished", app.log_view.plain  # it trains on what is left ...
        assert "drops" in app.log_view.plain and "raw=true" in app.log_view.plain  # ... and says so
        toasts = [n for n in app._notifications if n.title == "About the corpus"]
        assert toasts and "raw=true" in toasts[0].message and toasts[0].severity == "warning"
