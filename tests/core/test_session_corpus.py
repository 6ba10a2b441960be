"""The corpus in a run's life: its SHA-1 and length recorded, a resume over another text
refused (or allowed), the test split's perplexity once at the end, warnings, cancel."""

from __future__ import annotations

import hashlib

import pytest
import torch

from lstm_tui.core.config import ConfigError, RunConfig
from lstm_tui.core.data import load_corpus, split_corpus
from lstm_tui.core.data.dataset import split_parts, vocab_warning
from lstm_tui.core.events import Finished, LoadProgress, Status
from lstm_tui.core.session import CORPUS_CHANGED, PreparedRun, Refusal, prepare_resume, prepare_run

BASE = dict(
    device="cpu",
    impl="torch",
    hidden=16,
    batch_size=4,
    num_steps=8,
    max_tokens=0,
    epochs=1,
    predict_every=0,
    checkpoint_every=1,
    predict_length=5,
    prefix=("the",),
    lr=1.0,
    seed=0,
)


def book(path, text: str = "the time traveller was expounding a recondite matter to us\n" * 40):
    path.write_text(text)
    return path


def train(config: RunConfig, root) -> PreparedRun:
    events = []
    prepared = prepare_run(config, root, on_event=events.append)
    assert isinstance(prepared, PreparedRun), prepared
    result = prepared.trainer.run()
    assert isinstance(result, Finished), result
    prepared.events = events + [result]  # type: ignore[attr-defined]
    return prepared


def test_the_run_records_its_corpus_and_a_changed_corpus_is_refused_on_resume(tmp_path):
    corpus = book(tmp_path / "book.txt")
    first = train(RunConfig.from_mapping({**BASE, "corpus": str(corpus)}), tmp_path / "runs")
    summary = first.run.summary()
    assert summary.corpus_sha1 == hashlib.sha1(corpus.read_bytes()).hexdigest()
    assert summary.corpus_bytes == corpus.stat().st_size
    same = prepare_resume(first.run.path, {"epochs": 2})
    assert isinstance(same, PreparedRun)
    old_sha = summary.corpus_sha1
    book(corpus, "the time traveller was expounding a recondite matter to us\n" * 41)  # same vocabulary
    new_sha = hashlib.sha1(corpus.read_bytes()).hexdigest()
    refusal = prepare_resume(first.run.path, {"epochs": 2})
    assert isinstance(refusal, Refusal) and refusal.field == "corpus"
    assert old_sha in refusal.reason and new_sha in refusal.reason and "--allow-corpus-change" in refusal.hint
    assert refusal.code == CORPUS_CHANGED  # (the app offers "resume anyway" on this code)
    allowed = prepare_resume(first.run.path, {"epochs": 2}, allow_corpus_change=True)
    assert isinstance(allowed, PreparedRun)
    assert isinstance(allowed.trainer.run(), Finished)
    assert first.run.summary().corpus_sha1 == new_sha  # the text it has now trained on


def test_a_direct_trainer_resume_over_a_changed_corpus_fails_naming_both_hashes(tmp_path):
    from lstm_tui.core.engine import Trainer
    from lstm_tui.core.events import Failed

    corpus = book(tmp_path / "book.txt")
    first = train(RunConfig.from_mapping({**BASE, "corpus": str(corpus)}), tmp_path / "runs")
    old_sha = first.run.summary().corpus_sha1
    metrics = first.run.metrics_path.read_text()
    book(corpus, "the time traveller was expounding a recondite matter to us\n" * 41)
    new_sha = hashlib.sha1(corpus.read_bytes()).hexdigest()
    failed = Trainer.resume_from(first.run.path, epochs=2).run()  # not through prepare_resume
    assert isinstance(failed, Failed) and old_sha in failed.reason and new_sha in failed.reason
    assert "--allow-corpus-change" in failed.hint
    assert first.run.metrics_path.read_text() == metrics and first.run.summary().corpus_sha1 == old_sha
    allowed = Trainer.resume_from(first.run.path, allow_corpus_change=True, epochs=2).run()
    assert isinstance(allowed, Finished) and allowed.epoch == 2


def test_the_test_split_is_cut_after_validation_and_scored_once_at_the_end(tmp_path):
    corpus = torch.arange(100)
    train_part, val, test = split_parts(corpus, 0.2, 0.1)
    assert (train_part.tolist(), val.tolist(), test.tolist()) == (
        list(range(70)),
        list(range(70, 90)),
        list(range(90, 100)),
    )
    assert split_corpus(corpus, 0.2)[1].tolist() == list(range(80, 100))  # without a test split: as before
    prepared = train(
        RunConfig.from_mapping(
            {**BASE, "corpus": str(book(tmp_path / "b.txt")), "val_split": 0.1, "test_split": 0.1, "epochs": 2}
        ),
        tmp_path / "runs",
    )
    finished = prepared.events[-1]
    assert finished.test_perplexity is not None and finished.test_perplexity > 1
    assert prepared.run.summary().test_perplexity == pytest.approx(finished.test_perplexity)
    assert all("test" not in key for row in prepared.run.read_metrics() for key in row)  # never during training
    assert prepared.data.test is not None and prepared.data.tokens == len(prepared.data.train) + len(
        prepared.data.val
    ) + len(prepared.data.test)


def test_no_test_split_no_test_perplexity(tmp_path):
    prepared = train(RunConfig.from_mapping({**BASE, "corpus": str(book(tmp_path / "b.txt"))}), tmp_path / "runs")
    assert prepared.events[-1].test_perplexity is None and prepared.run.summary().test_perplexity is None


@pytest.mark.parametrize(
    "values, field",
    [
        ({"test_split": 0.6}, "test_split"),
        ({"test_split": -0.1}, "test_split"),
        ({"val_split": 0.3, "test_split": 0.3}, "test_split"),
        ({"test_split": 0.1, "max_tokens": 10}, "test_split"),
        ({"min_freq": -1}, "min_freq"),
        ({"max_vocab": 1}, "max_vocab"),
        ({"encoding": "no-such-codec"}, "encoding"),
        ({"encoding": "base64"}, "encoding"),
        ({"errors": "ignore"}, "errors"),
    ],
)
def test_bad_corpus_settings_name_their_field(values, field):
    with pytest.raises(ConfigError) as info:
        RunConfig.from_mapping(values)
    assert info.value.field == field


def test_prepare_run_reports_load_progress_and_warnings(tmp_path):
    novel = tmp_path / "novel.txt"
    novel.write_text("天下大势，分久必合，合久必分。" * 100 + "\nthe end of the book is in english\n" * 3)
    events = []
    prepared = prepare_run(
        RunConfig.from_mapping({**BASE, "corpus": str(novel)}), tmp_path / "runs", on_event=events.append
    )
    assert isinstance(prepared, PreparedRun)
    assert any(isinstance(e, LoadProgress) and e.stage == "counting" and e.done == e.total for e in events)
    assert any(isinstance(e, Status) and "--raw" in e.message for e in events)


def test_cancel_during_the_load_is_a_cancelled_refusal(tmp_path):
    refusal = prepare_run(
        RunConfig.from_mapping({**BASE, "corpus": str(book(tmp_path / "b.txt"))}),
        tmp_path / "runs",
        cancel=lambda: True,
    )
    assert isinstance(refusal, Refusal) and refusal.cancelled and "stopped while loading" in refusal.reason
    assert not (tmp_path / "runs").exists()


def test_huge_vocabulary_warning_states_the_parameter_count(tmp_path):
    assert vocab_warning(RunConfig(hidden=256), 50_000) == ""
    text = vocab_warning(RunConfig(hidden=256), 60_000)
    assert "15,420,000 parameters" in text and "--max-vocab" in text  # 60,000 x 256 + 60,000
    words = tmp_path / "words.txt"
    words.write_text(" ".join(f"w{i}" for i in range(51_000)) + "\n")
    cfg = RunConfig.from_mapping({**BASE, "corpus": str(words), "token": "word", "raw": True})
    assert any("51,001 tokens" in w for w in load_corpus(cfg).warnings)
    capped = load_corpus(cfg.replace(max_vocab=1000))
    assert len(capped.vocab) == 1000 and not capped.warnings and int(capped.train.max()) == 999
    assert (capped.train == 0).sum() == 51_000 - 999  # the rarest words became <unk>


def test_a_trainer_stopped_while_it_loads_its_corpus_returns_at_once(tmp_path):
    """A Trainer built without data loads the corpus itself; its stop() cancels the load."""
    import threading
    import time

    from lstm_tui.core.engine import Trainer
    from lstm_tui.core.events import Failed

    fifo = tmp_path / "pipe"
    import os

    os.mkfifo(fifo)  # no writer: the load waits (polling) until it is cancelled
    events = []
    trainer = Trainer(RunConfig.from_mapping({**BASE, "corpus": str(fifo)}), on_event=events.append)
    threading.Timer(0.5, trainer.stop).start()
    start = time.monotonic()
    result = trainer.run()
    assert isinstance(result, Failed) and result.reason == "stopped while loading the corpus"
    assert time.monotonic() - start < 3
