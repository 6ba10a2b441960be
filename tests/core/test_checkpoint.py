"""Checkpoints: atomic save, weights_only load, readable errors."""

from __future__ import annotations

import errno
import io
import os
import pickle
import random

import pytest
import torch

from lstm_tui.core import atomic
from lstm_tui.core.checkpoint import FORMAT, Checkpoint, CheckpointError, load_checkpoint, load_model, save_checkpoint
from lstm_tui.core.config import RunConfig
from lstm_tui.core.data import Vocab
from lstm_tui.core.models import build_model

TEXT = "the time machine by h g wells"


def small(config: RunConfig | None = None, vocab: Vocab | None = None, seed: int = 0):
    config = config or RunConfig(hidden=16, preset="scratch")
    vocab = vocab or Vocab(list(TEXT))
    torch.manual_seed(seed)
    return config, vocab, build_model(config, len(vocab))


def trained_payload(optimizer_name: str = "adam", config=None, vocab=None) -> tuple[dict, torch.nn.Module]:
    config, vocab, model = small(config, vocab)
    if optimizer_name == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    X = torch.randint(0, len(vocab), (2, 5))
    for _ in range(2):
        logits, state = model(X, None)
        loss = torch.nn.functional.cross_entropy(logits, X.T.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    rng = random.Random(7)
    rng.random()
    payload = {
        "config": config.to_dict(),
        "vocab": vocab.to_list(),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": 3,
        "batch": 4,
        "history": [{"epoch": 1, "perplexity": 20.5, "val_perplexity": None, "tokens_per_s": 1e4, "elapsed_s": 0.5}],
        "rng": {"torch": torch.get_rng_state(), "python_epoch": rng.getstate()},
        "carry": tuple(s.detach() for s in state),
        "accum": {"loss_sum": 12.25, "tokens": 40},
        "elapsed_s": 1.75,
    }
    return payload, model


def assert_same(a, b):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert a == b


@pytest.mark.parametrize("optimizer_name", ["adam", "sgd"])
def test_round_trip_is_exact(tmp_path, optimizer_name):
    payload, model = trained_payload(optimizer_name)
    path = save_checkpoint(tmp_path / "checkpoint.pt", payload)
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt, Checkpoint)
    assert ckpt.format == FORMAT and ckpt.saved_at
    assert ckpt.config == RunConfig.from_mapping(payload["config"])
    assert ckpt.vocab.to_list() == payload["vocab"]
    assert_same(payload["model"], ckpt.model_state)
    assert_same(payload["optimizer"], ckpt.optimizer_state)
    assert (ckpt.epoch, ckpt.batch, ckpt.elapsed_s) == (3, 4, 1.75)
    assert ckpt.history == payload["history"]
    assert ckpt.accum == payload["accum"]
    assert_same(payload["carry"], ckpt.carry)
    assert torch.equal(ckpt.rng["torch"], payload["rng"]["torch"])
    # the Python random state restores the exact stream
    original = random.Random()
    original.setstate(payload["rng"]["python_epoch"])
    restored = random.Random()
    restored.setstate(ckpt.rng["python_epoch"])
    assert [restored.random() for _ in range(5)] == [original.random() for _ in range(5)]
    # the optimizer state loads into a fresh optimizer
    _, _, fresh = small()
    optimizer = (torch.optim.Adam if optimizer_name == "adam" else torch.optim.SGD)(fresh.parameters(), lr=0.1)
    optimizer.load_state_dict(ckpt.optimizer_state)

    loaded, vocab, config, ckpt2 = load_model(path)
    assert not loaded.training
    assert vocab.to_list() == payload["vocab"] and config == ckpt.config and ckpt2.epoch == 3
    assert_same(model.state_dict(), loaded.state_dict())


def test_numpy_scalars_are_saved_as_numbers(tmp_path):
    np = pytest.importorskip("numpy")
    payload, _ = trained_payload()
    payload["history"][0]["perplexity"] = np.float64(3.5)
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "c.pt", payload))
    assert ckpt.history[0]["perplexity"] == 3.5 and type(ckpt.history[0]["perplexity"]) is float


def test_unsafe_values_are_refused_at_save(tmp_path):
    payload, _ = trained_payload()
    payload["history"].append(object())
    with pytest.raises(CheckpointError, match="history"):
        save_checkpoint(tmp_path / "c.pt", payload)
    assert os.listdir(tmp_path) == []


def _fail_replace(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _fail_fsync(fd):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("target,fake", [("replace", _fail_replace), ("fsync", _fail_fsync)])
def test_failed_write_keeps_the_old_checkpoint(tmp_path, monkeypatch, target, fake):
    path = tmp_path / "checkpoint.pt"
    old, _ = trained_payload()
    save_checkpoint(path, old)
    new = dict(old, epoch=99)
    monkeypatch.setattr(atomic.os, target, fake)
    with pytest.raises(CheckpointError, match="No space left"):
        save_checkpoint(path, new)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["checkpoint.pt"]  # no temp file left behind
    assert load_checkpoint(path).epoch == 3


class Evil:
    """Unpickling this opens (creates) a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickle_with_code_never_runs(tmp_path):
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(Evil(proof)))  # the payload really is dangerous when unpickled
    assert proof.exists()

    marker = tmp_path / "marker"
    raw_pickle = tmp_path / "raw.pt"
    raw_pickle.write_bytes(pickle.dumps({"format": FORMAT, "x": Evil(marker)}))
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "config": {}, "vocab": ["<unk>"], "model": Evil(marker)}, buffer)
    torch_file = tmp_path / "evil.pt"
    torch_file.write_bytes(buffer.getvalue())
    for path in (raw_pickle, torch_file):
        with pytest.raises(CheckpointError):
            load_checkpoint(path)
        with pytest.raises(CheckpointError):
            load_model(path)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="refusing"):
        load_checkpoint(torch_file)


def test_truncated_and_corrupt_files(tmp_path):
    path = save_checkpoint(tmp_path / "checkpoint.pt", trained_payload()[0])
    data = path.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(cut)
    flipped = bytearray(data)
    flipped[len(flipped) // 2] ^= 0xFF
    rotten = tmp_path / "rotten.pt"
    rotten.write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(rotten)


def test_not_a_checkpoint(tmp_path):
    noise = tmp_path / "noise.pt"
    noise.write_bytes(random.Random(1).randbytes(4096))
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_checkpoint(noise)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint(empty)
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="folder"):
        load_checkpoint(tmp_path)


def test_foreign_torch_files(tmp_path):
    _, _, model = small()
    bare = tmp_path / "bare.pt"
    torch.save(model.state_dict(), bare)
    with pytest.raises(CheckpointError, match="not an lstm-tui checkpoint.*state_dict"):
        load_checkpoint(bare)
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(CheckpointError, match="not an lstm-tui checkpoint"):
        load_checkpoint(tensor)
    future = tmp_path / "future.pt"
    torch.save({"format": "lstm-tui/99", "config": {}, "vocab": [], "model": {}}, future)
    with pytest.raises(CheckpointError, match="lstm-tui/99"):
        load_checkpoint(future)


def test_missing_keys_and_invalid_config(tmp_path):
    payload, _ = trained_payload()
    incomplete = {k: v for k, v in payload.items() if k not in ("model", "vocab")}
    with pytest.raises(CheckpointError, match="missing vocab, model"):
        load_checkpoint(save_checkpoint(tmp_path / "a.pt", incomplete))
    bad_config = dict(payload, config=dict(payload["config"], hidden=0))
    with pytest.raises(CheckpointError, match="no longer valid.*hidden"):
        load_checkpoint(save_checkpoint(tmp_path / "b.pt", bad_config))
    unknown = dict(payload, config=dict(payload["config"], colour="blue"))
    with pytest.raises(CheckpointError, match="colour"):
        load_checkpoint(save_checkpoint(tmp_path / "c.pt", unknown))
    bad_vocab = dict(payload, vocab=["a", "b"])
    with pytest.raises(CheckpointError, match="vocabulary"):
        load_checkpoint(save_checkpoint(tmp_path / "d.pt", bad_vocab))


def test_vocab_mismatch_is_named(tmp_path):
    payload, _ = trained_payload()
    vocab = payload["vocab"]
    payload["vocab"] = vocab + ["Q", "Z"]  # 2 more tokens than the weights have
    path = save_checkpoint(tmp_path / "c.pt", payload)
    load_checkpoint(path)  # the file itself is fine
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    message = str(info.value)
    assert f"checkpoint has vocab {len(vocab)}" in message
    assert f"expects vocab {len(vocab) + 2}" in message
    assert "size mismatch" not in message


@pytest.mark.parametrize("impl", ["scratch", "torch"])
def test_hidden_mismatch_is_named(tmp_path, impl):
    config = RunConfig(hidden=16, impl=impl, cell="lstm")
    payload, _ = trained_payload(config=config)
    payload["config"] = config.replace(hidden=24).to_dict()
    path = save_checkpoint(tmp_path / "c.pt", payload)
    with pytest.raises(CheckpointError, match="checkpoint has hidden 16, this model expects hidden 24"):
        load_model(path)


def test_layer_mismatch_names_weights(tmp_path):
    config = RunConfig(hidden=8, impl="torch")
    payload, _ = trained_payload(config=config)
    payload["config"] = config.replace(layers=2).to_dict()
    path = save_checkpoint(tmp_path / "c.pt", payload)
    with pytest.raises(CheckpointError, match="missing from the checkpoint: .*l1"):
        load_model(path)


def test_a_resumed_adam_keeps_this_runs_device_flags():
    """A checkpoint of a CUDA-graph run saves Adam with capturable=True; resumed on the CPU,
    torch's load_state_dict would bring that back and Adam would refuse CPU tensors."""
    from lstm_tui.core.engine.persist import _keep_runtime_flags

    def adam(**flags):
        param = torch.nn.Parameter(torch.ones(3))
        return param, torch.optim.Adam([param], lr=0.1, foreach=True, **flags)

    param, saved_opt = adam()
    param.grad = torch.ones(3)
    saved_opt.step()
    state = saved_opt.state_dict()
    state["param_groups"][0]["capturable"] = True  # as written on a GPU with graphs
    state["param_groups"][0]["foreach"] = False

    param, opt = adam(capturable=False)
    opt.load_state_dict(state)
    _keep_runtime_flags(opt)
    group = opt.param_groups[0]
    assert group["capturable"] is False and group["foreach"] is True
    param.grad = torch.ones(3)
    opt.step()  # raises without the fix: "If capturable=True, params and state_steps must be on ..."
    step = opt.state[param]["step"]
    assert step.device.type == "cpu" and float(step) == 2.0
