"""The training options of issue 14: config rules, schedules, early stopping and best.pt,
dropout, learned embedding and tying, top-p sampling, the amp hint (CPU, small configs)."""

from __future__ import annotations

import math

import pytest
import torch

from lstm_tui.core.checkpoint import CheckpointError, load_model
from lstm_tui.core.config import ConfigError, RunConfig
from lstm_tui.core.engine import Trainer
from lstm_tui.core.events import Finished, Status
from lstm_tui.core.generate import _choose, predict
from lstm_tui.core.models import build_model
from lstm_tui.core.runs import RunDir
from lstm_tui.core.schedule import epochs_since_best, lr_factor, plateau_decreases

BASE = dict(
    device="cpu",
    impl="torch",
    hidden=16,
    batch_size=8,
    num_steps=10,
    max_tokens=1500,
    epochs=3,
    predict_every=0,
    checkpoint_every=0,
    predict_length=10,
    lr=1.0,
    seed=0,
)


def make_config(data_dir, **changes) -> RunConfig:
    return RunConfig.from_mapping({**BASE, "data_dir": str(data_dir), **changes})


# ---------------------------------------------------------------------- config
@pytest.mark.parametrize(
    "name, value, allowed",
    [
        ("momentum", 1.0, "a number from 0 to 0.999"),
        ("weight_decay", -0.1, "a number from 0 to 10"),
        ("dropout", 0.95, "a number from 0 to 0.9"),
        ("lr_schedule", "exp", "one of none, step, cosine, plateau"),
        ("lr_step_every", 0, "an integer from 1 to 1,000,000"),
        ("lr_gamma", 0, "a number from 1e-06 to 1"),
        ("warmup_epochs", -1, "an integer from 0 to 100,000"),
        ("plateau_patience", 0, "an integer from 1 to 1,000,000"),
        ("early_stop_patience", -1, "an integer from 0 to 1,000,000"),
        ("embedding", "glove", "one of one-hot, learned"),
        ("embed_dim", 0, "an integer from 1 to 8,192"),
        ("tie_weights", "maybe", "true or false"),
    ],
)
def test_every_new_field_refuses_bad_input_naming_it(name, value, allowed):
    with pytest.raises(ConfigError) as caught:
        RunConfig.from_mapping({name: value})
    assert caught.value.field == name and allowed in caught.value.message


@pytest.mark.parametrize(
    "values, field, text",
    [
        ({"lr_schedule": "plateau"}, "lr_schedule", "val_split > 0"),
        ({"early_stop_patience": 3}, "early_stop_patience", "val_split > 0"),
        ({"tie_weights": True}, "tie_weights", "embedding=learned"),
        (
            {"tie_weights": True, "embedding": "learned", "embed_dim": 32, "hidden": 64},
            "tie_weights",
            "embed_dim == hidden",
        ),
        (
            {
                "tie_weights": True,
                "embedding": "learned",
                "embed_dim": 64,
                "hidden": 64,
                "impl": "torch",
                "bidirectional": True,
            },
            "tie_weights",
            "bidirectional",
        ),
        ({"warmup_epochs": 5, "epochs": 5}, "warmup_epochs", "leave none"),
    ],
)
def test_cross_field_rules(values, field, text):
    with pytest.raises(ConfigError) as caught:
        RunConfig.from_mapping(values)
    assert caught.value.field == field and text in caught.value.message


def test_defaults_are_the_books():
    config = RunConfig()
    assert (
        config.momentum,
        config.weight_decay,
        config.dropout,
        config.lr_schedule,
        config.warmup_epochs,
        config.early_stop_patience,
        config.embedding,
        config.tie_weights,
    ) == (0, 0, 0, "none", 0, 0, "one-hot", False)


def test_cli_flags_come_from_the_field_table(capsys):
    from lstm_tui.cli import main

    assert main(["train", "--lr-schedule", "exp"]) == 2
    assert "lr_schedule" in capsys.readouterr().err


# ---------------------------------------------------------------------- schedules
def test_each_schedules_values_per_epoch():
    base = RunConfig(epochs=6, lr_gamma=0.5, lr_step_every=2)
    assert [lr_factor(base, n) for n in range(1, 7)] == [1.0] * 6
    step = base.replace(lr_schedule="step")
    assert [lr_factor(step, n) for n in range(1, 7)] == [1, 1, 0.5, 0.5, 0.25, 0.25]
    cosine = base.replace(lr_schedule="cosine", warmup_epochs=2)
    got = [lr_factor(cosine, n) for n in range(1, 7)]
    want = [0.5, 1.0] + [0.5 * (1 + math.cos(math.pi * t / 4)) for t in range(4)]
    assert got == pytest.approx(want)
    plateau = base.replace(lr_schedule="plateau", plateau_patience=2, val_split=0.1)
    vals = [5.0, 4.0, 4.5, 4.2, 3.0, 3.5, 3.6]
    assert [lr_factor(plateau, n, vals) for n in range(1, 8)] == [1, 1, 1, 1, 0.5, 0.5, 0.5]
    assert plateau_decreases([5, 6, 7, 8, 9], 2) == 2
    assert epochs_since_best([5.0, 3.0, 4.0, None]) == (2, 1)


def test_a_scheduled_run_trains_with_the_rates_and_logs_them(shared_data_dir, tmp_path):
    config = make_config(shared_data_dir, epochs=4, lr_schedule="step", lr_step_every=2, lr_gamma=0.5)
    trainer = Trainer(config, run_dir=tmp_path / "r")
    assert isinstance(trainer.run(), Finished)
    assert [r["lr"] for r in RunDir(tmp_path / "r").read_metrics()] == [1.0, 1.0, 0.5, 0.5]
    assert trainer.optimizer.param_groups[0]["lr"] == 0.5
    plain = Trainer(make_config(shared_data_dir), run_dir=tmp_path / "plain")
    plain.run()
    assert "lr" not in RunDir(tmp_path / "plain").read_metrics()[0]  # the book's records stay as they were


# ---------------------------------------------------------------------- early stopping and best.pt
def test_early_stopping_keeps_the_best_checkpoint(shared_data_dir, tmp_path, monkeypatch):
    from lstm_tui.core.engine import epochs as epochs_module

    vals = iter([5.0, 4.0, 4.5, 4.6, 4.7, 4.8])  # best at epoch 2, then 2 epochs without: stop after 4
    monkeypatch.setattr(epochs_module, "evaluate_perplexity", lambda *a, **k: next(vals))
    events = []
    config = make_config(shared_data_dir, epochs=6, val_split=0.1, early_stop_patience=2)
    result = Trainer(config, on_event=events.append, run_dir=tmp_path / "r").run()
    assert isinstance(result, Finished) and result.epoch == 4 and not result.stopped
    assert any(
        isinstance(e, Status) and e.message.startswith("early stopping") and "epoch 2" in e.message for e in events
    )
    run = RunDir(tmp_path / "r")
    best = run.load_checkpoint(best=True)
    assert best.epoch == 2 and best.history[-1]["val_perplexity"] == 4.0
    assert run.best_path.name == "best.pt" and run.load_checkpoint().epoch == 4
    model, _, _, checkpoint = load_model(run.checkpoint_path, best=True)
    assert checkpoint.epoch == 2
    _, _, _, checkpoint = load_model(run.path, best=True)
    assert checkpoint.epoch == 2
    plain = Trainer(make_config(shared_data_dir, epochs=1), run_dir=tmp_path / "plain")
    plain.run()
    with pytest.raises(CheckpointError, match="no best.pt"):
        load_model(tmp_path / "plain", best=True)


def test_resuming_an_early_stopped_run_trains_nothing_unless_patience_is_raised(shared_data_dir, tmp_path, monkeypatch):
    from lstm_tui.core.engine import epochs as epochs_module

    vals = iter([5.0, 4.0, 4.5, 4.6, 3.9])  # stops after epoch 4 (best 2); epoch 5 comes only with more patience
    monkeypatch.setattr(epochs_module, "evaluate_perplexity", lambda *a, **k: next(vals))
    config = make_config(shared_data_dir, epochs=6, val_split=0.1, early_stop_patience=2)
    assert Trainer(config, run_dir=tmp_path / "r").run().epoch == 4
    metrics = (tmp_path / "r" / "metrics.jsonl").read_text()
    events = []
    again = Trainer.resume_from(tmp_path / "r", on_event=events.append).run()
    assert isinstance(again, Finished) and again.epoch == 4
    assert (tmp_path / "r" / "metrics.jsonl").read_text() == metrics  # not one more epoch
    said = [e.message for e in events if isinstance(e, Status) and "stopped early" in e.message]
    assert said and "best 4.000 at epoch 2" in said[0]
    patient = Trainer.resume_from(tmp_path / "r", early_stop_patience=5, epochs=5).run()
    assert isinstance(patient, Finished) and patient.epoch == 5


def test_generate_best_on_the_command_line(shared_data_dir, tmp_path, capsys):
    from lstm_tui.cli import main

    config = make_config(shared_data_dir, epochs=2, val_split=0.1, early_stop_patience=1)
    Trainer(config, run_dir=tmp_path / "r").run()
    assert (
        main(["generate", "-c", str(tmp_path / "r"), "--best", "-n", "5", "--top-p", "0.9", "-t", "1", "--seed", "1"])
        == 0
    )
    assert capsys.readouterr().out.startswith("time traveller")
    assert main(["generate", "-c", str(tmp_path / "r"), "--top-p", "0"]) == 2
    assert "--top-p" in capsys.readouterr().err


# ---------------------------------------------------------------------- models
@pytest.mark.parametrize("impl, layers", [("torch", 2), ("scratch", 1), ("scratch", 2)])
def test_dropout_only_while_training_and_off_by_default(impl, layers):
    X = torch.randint(0, 20, (4, 7))
    torch.manual_seed(0)
    plain = build_model(RunConfig(impl=impl, hidden=16, layers=layers), 20)
    torch.manual_seed(0)
    dropped = build_model(RunConfig(impl=impl, hidden=16, layers=layers, dropout=0.5), 20)
    dropped.load_state_dict(plain.state_dict())
    plain.train(), dropped.train()
    assert not torch.equal(plain(X)[0], dropped(X)[0])
    dropped.eval(), plain.eval()
    assert torch.allclose(plain(X)[0], dropped(X)[0])
    if impl == "torch":
        assert dropped.rnn.dropout == 0.5


@pytest.mark.parametrize("impl, fused", [("torch", True), ("scratch", True), ("scratch", False)])
def test_a_learned_embedding_and_tied_weights(impl, fused):
    config = RunConfig(impl=impl, fused=fused, hidden=16, embedding="learned", embed_dim=16, tie_weights=True)
    model = build_model(config, 20)
    names = dict(model.named_parameters())
    if impl == "torch":
        assert model.linear.weight is model.embed.weight and model.rnn.input_size == 16
    else:
        assert "W_hq" not in names and tuple(names["embed"].shape) == (20, 16)
        assert tuple(names["cells.0.W_xi"].shape) == (16, 16)
    logits, _ = model(torch.randint(0, 20, (3, 5)))
    assert logits.shape == (15, 20)
    logits.sum().backward()
    assert model.embed.grad is not None if impl == "scratch" else model.embed.weight.grad is not None
    untied = build_model(config.replace(tie_weights=False, embed_dim=8), 20)
    assert tuple(dict(untied.named_parameters())["embed" if impl == "scratch" else "embed.weight"].shape) == (20, 8)


def test_a_run_with_the_options_trains_and_resumes(shared_data_dir, tmp_path):
    options = dict(
        embedding="learned",
        embed_dim=16,
        tie_weights=True,
        dropout=0.2,
        momentum=0.9,
        weight_decay=1e-4,
        optimizer="sgd",
        lr=0.5,
    )
    config = make_config(shared_data_dir, epochs=2, **options)
    assert isinstance(Trainer(config, run_dir=tmp_path / "r").run(), Finished)
    trainer = Trainer.resume_from(tmp_path / "r", epochs=3)
    assert isinstance(trainer.run(), Finished)
    group = trainer.optimizer.param_groups[0]
    assert (group["momentum"], group["weight_decay"]) == (0.9, 1e-4)


# ---------------------------------------------------------------------- top-p and the amp hint
def test_top_p_samples_only_from_the_nucleus():
    logits = torch.log(torch.tensor([0.5, 0.3, 0.15, 0.05]))
    gen = torch.Generator().manual_seed(0)
    picks = {_choose(logits, 1.0, 0, gen, top_p=0.7) for _ in range(300)}
    assert picks == {0, 1}
    assert {_choose(logits, 1.0, 0, gen, top_p=0.4) for _ in range(50)} == {0}
    assert {_choose(logits, 1.0, 0, gen, top_p=1.0) for _ in range(400)} == {0, 1, 2, 3}


def test_predict_refuses_a_bad_top_p(shared_data_dir):
    from lstm_tui.core.data.dataset import corpus_for
    from lstm_tui.core.generate import GenerationError

    config = make_config(shared_data_dir)
    data = corpus_for(config)
    model = build_model(config, len(data.vocab))
    with pytest.raises(GenerationError, match="top_p"):
        predict(model, data.vocab, "time", 5, temperature=1.0, top_p=0)


def test_the_log_says_once_that_amp_would_be_faster(shared_data_dir, monkeypatch):
    from lstm_tui.core.engine import options

    monkeypatch.setattr(options, "bf16_native", lambda device: True)
    events = []
    Trainer(make_config(shared_data_dir, epochs=1), on_event=events.append).run()
    hints = [e for e in events if isinstance(e, Status) and "--amp would train faster" in e.message]
    assert len(hints) == 1
    monkeypatch.setattr(options, "bf16_native", lambda device: False)
    events.clear()
    Trainer(make_config(shared_data_dir, epochs=1), on_event=events.append).run()
    assert not [e for e in events if isinstance(e, Status) and "--amp" in e.message]


@pytest.mark.parametrize("impl", ["scratch", "torch"])
def test_the_gate_trace_reads_a_learned_embedding(impl):
    from lstm_tui.core.gates import layer_trace

    torch.manual_seed(0)
    model = build_model(RunConfig(impl=impl, hidden=8, embedding="learned", embed_dim=5, fused=False), 12).eval()
    ids = [3, 1, 4, 1, 5]
    trace = layer_trace(model, ids)
    _, (H, _C) = model(torch.tensor([ids]))
    assert torch.allclose(trace.H[-1], H[0, 0], atol=1e-5)
