"""The exercise cards: each a sweep on one field; the verdict computed from the numbers (every branch on
synthetic records, and one real tiny sweep through real train processes)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lstm_tui.core.config import ConfigError
from lstm_tui.core.exercises import CARDS, diverged_epoch, get_card, verdict
from lstm_tui.core.sweep import SweepResult, SweepRunner, new_record, place, sweep_results

TINY = dict(
    hidden=16, epochs=2, max_tokens=2000, batch_size=8, num_steps=10, device="cpu", predict_every=0, checkpoint_every=0
)


def test_every_card_is_a_sweep_on_its_one_field_with_the_same_seed_and_data():
    assert set(CARDS) >= {"clipping", "sampling", "hidden", "layers", "cell", "lr"}
    for card in CARDS.values():
        spec = card.spec({"seed": 5, "data_dir": "/d"})
        assert spec.varying == (card.field,) and spec.meta == {"exercise": card.name}
        values = [p.values[card.field] for p in spec.points]
        assert values == [card.baseline, *card.variants] and len(values) >= 2
        configs = [p.config.to_dict() for p in spec.points]
        for config in configs:
            config.pop(card.field)
            assert config == configs[0]  # only the card's field differs
        assert {p.config.seed for p in spec.points} == {5} and card.question and card.title
    clipping = CARDS["clipping"].spec().points
    assert clipping[1].config.clip == 0.0
    # a plain RNN: the LSTM's gradient norm stays under the threshold here, so both runs would be the same
    assert {p.config.cell for p in clipping} == {"rnn"}
    with pytest.raises(ConfigError) as err:
        CARDS["lr"].spec({"lr": 3})
    assert err.value.field == "lr"
    with pytest.raises(ConfigError) as err:
        get_card("nope")
    assert err.value.field == "exercise"


def _run(value, *, val=None, train=None, status="finished", metrics=(), reason=None, failed_epoch=None, field="clip"):
    return SweepResult(
        name=f"r{value}",
        values={field: value},
        status=status,
        val_ppl=val,
        train_ppl=train,
        metrics=list(metrics),
        reason=reason,
        failed_epoch=failed_epoch,
        epochs_done=len(metrics),
        epochs=len(metrics),
    )


CLIP = CARDS["clipping"]


def test_verdict_diverged_names_the_epoch():
    base = _run(1.0, val=5.0, train=4.0)
    blown = _run(
        0.0,
        status="failed",
        reason="loss became nan at epoch 3",
        failed_epoch=3,
        metrics=[{"epoch": 1, "perplexity": 30.0}, {"epoch": 2, "perplexity": 80.0}],
    )
    assert verdict(CLIP, [base, blown]) == "against clip 1: clip 0: diverged at epoch 3"
    inf = _run(0.0, metrics=[{"epoch": 1, "perplexity": 9.0}, {"epoch": 2, "perplexity": float("inf")}])
    assert diverged_epoch(inf) == 2
    blown_base = replace(blown, values={"clip": 1.0})
    assert verdict(CLIP, [blown_base, _run(0.0, val=6.0)]) == (
        "against clip 1: the baseline (clip 1) diverged at epoch 3; clip 0: validation perplexity 6.00 "
        "(the baseline has no number to compare with)"
    )


def test_verdict_better_worse_and_same_come_from_the_numbers():
    base = _run(1.0, val=8.0, train=7.0)
    assert (
        verdict(CLIP, [base, _run(0.0, val=5.0, train=4.0)])
        == "against clip 1: clip 0: validation perplexity 1.6x lower (5.00 vs 8.00)"
    )
    assert (
        verdict(CLIP, [base, _run(0.0, val=12.0, train=4.0)])
        == "against clip 1: clip 0: validation perplexity 1.5x higher (12.00 vs 8.00)"
    )
    assert (
        verdict(CLIP, [base, _run(0.0, val=8.2, train=4.0)])
        == "against clip 1: clip 0: no clear difference in validation perplexity (within 3%: 8.20 vs 8.00)"
    )
    # no validation data: the training perplexity is compared
    assert "training perplexity 2x lower (3.50 vs 7.00)" in verdict(CLIP, [_run(1.0, train=7.0), _run(0.0, train=3.5)])
    # one run without validation numbers: like is compared with like (training perplexities)
    assert "training perplexity 2x higher (14.00 vs 7.00)" in verdict(
        CLIP, [_run(1.0, val=2.0, train=7.0), _run(0.0, train=14.0)]
    )
    # an exploded run's perplexity in three digits, not thirty-one
    assert verdict(CLIP, [base, _run(0.0, val=7.2532924803e30, train=4.0)]) == (
        "against clip 1: clip 0: validation perplexity 9.1e+29x higher (7.25e+30 vs 8.00)"
    )


def test_verdict_without_numbers_says_so():
    assert verdict(CLIP, [_run(0.0, val=3.0)]).startswith("no baseline run (clip 1")
    missing = _run(0.0, status="not started")
    assert verdict(CLIP, [_run(1.0, val=3.0), missing]) == "against clip 1: clip 0: no result (not started)"


def test_a_real_card_verdict_from_a_small_sweep(shared_data_dir, tmp_path):
    card = CARDS["layers"]
    spec = place(card.spec({**TINY, "data_dir": str(shared_data_dir)}), parallel=2)
    record = new_record(tmp_path, "card", spec, parallel=2)
    outcome = SweepRunner(record, tmp_path).run()
    assert not outcome.stopped and not outcome.not_started
    results = sweep_results(tmp_path, record)
    base, deep = results
    assert base.values == {"layers": 1} and deep.values == {"layers": 2}
    assert base.val_ppl is not None and deep.val_ppl is not None  # the cards hold out 10%
    text = card.verdict(results)
    numbers = f"{deep.val_ppl:.2f} vs {base.val_ppl:.2f}"
    assert text.startswith("against layers 1: layers 2: ") and numbers in text
    if abs(deep.val_ppl - base.val_ppl) <= 0.03 * base.val_ppl:
        assert "no clear difference" in text
    else:
        assert ("lower" in text) == (deep.val_ppl < base.val_ppl)
