"""Wide characters (CJK, emoji) through the core: raw char tokens, training, generation."""

from __future__ import annotations

from lstm_tui.core.config import RunConfig
from lstm_tui.core.events import Finished, Sample
from lstm_tui.core.generate import predict, prefix_tokens
from lstm_tui.core.session import PreparedRun, prepare_run

NOVEL = "话说天下大势，分久必合，合久必分。😀周末七国分争，并入于秦。\n" * 60


def test_a_cjk_text_trains_raw_and_generates_cjk(tmp_path):
    corpus = tmp_path / "novel.txt"
    corpus.write_text(NOVEL, encoding="utf-8")
    events = []
    config = RunConfig.from_mapping(
        dict(
            corpus=str(corpus),
            raw=True,
            device="cpu",
            impl="torch",
            hidden=32,
            epochs=3,
            batch_size=4,
            num_steps=8,
            max_tokens=0,
            predict_every=1,
            checkpoint_every=0,
            predict_length=12,
            prefix=("话说天下",),
            lr=2.0,
        )
    )
    prepared = prepare_run(config, tmp_path / "runs", on_event=events.append)
    assert isinstance(prepared, PreparedRun)
    vocab = prepared.data.vocab
    assert "😀" in vocab and "话" in vocab and len(vocab) == len(set(NOVEL)) + 1
    assert prepared.data.text_chars == len(NOVEL)
    assert isinstance(prepared.trainer.run(), Finished)
    samples = [e for e in events if isinstance(e, Sample) and e.prefix == "话说天下"]
    assert samples and all(s.text.startswith("话说天下") and len(s.text) == 4 + 12 for s in samples)
    assert set(samples[-1].text) <= set(NOVEL)
    model, _ = prepared.trainer.snapshot()
    assert prefix_tokens(vocab, "分久😀") == [vocab["分"], vocab["久"], vocab["😀"]]
    text = predict(model, vocab, "周末", 10)
    assert len(text) == 12 and set(text) <= set(NOVEL)
