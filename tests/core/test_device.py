"""Device resolution: what the machine has, and readable errors for what it has not."""

from __future__ import annotations

import pytest
import torch

from lstm_tui.core import device as device_module
from lstm_tui.core.device import DeviceError, available_devices, describe_device, resolve_device


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(device_module, "_mps_available", lambda: False)


@pytest.fixture
def one_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=None: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(device_module, "_mps_available", lambda: False)


def test_cpu_always_resolves():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")


def test_auto_without_gpu_is_cpu(no_gpu):
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("") == torch.device("cpu")
    assert available_devices() == ["auto", "cpu"]


@pytest.mark.parametrize("name", ["cuda", "cuda:0", "cuda:3", "mps"])
def test_missing_devices_raise_naming_the_device_and_the_machine(no_gpu, name):
    with pytest.raises(DeviceError) as info:
        resolve_device(name)
    error = info.value
    assert isinstance(error, ValueError)
    assert name in error.message and error.device == name
    assert "cpu" in error.hint and "this machine has" in error.hint


def test_unknown_device_name(no_gpu):
    with pytest.raises(DeviceError, match="tpu"):
        resolve_device("tpu")
    with pytest.raises(DeviceError):
        resolve_device("cuda:x")


def test_with_one_gpu(one_gpu):
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    with pytest.raises(DeviceError) as info:
        resolve_device("cuda:1")
    assert "cuda:1" in info.value.message and "1 CUDA device" in info.value.message
    assert "cuda:0" in info.value.hint
    assert available_devices() == ["auto", "cpu", "cuda:0"]
    assert describe_device(torch.device("cuda", 0)) == "cuda:0 NVIDIA H100 80GB HBM3"


def test_mps_preferred_after_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(device_module, "_mps_available", lambda: True)
    assert resolve_device("auto") == torch.device("mps")
    assert resolve_device("mps") == torch.device("mps")
    assert available_devices() == ["auto", "cpu", "mps"]
    assert describe_device("mps") == "mps (Apple GPU)"


def test_describe_cpu():
    text = describe_device(torch.device("cpu"))
    assert text.startswith("cpu (") and "thread" in text
    assert describe_device("cpu") == text


def test_real_machine_is_consistent():
    names = available_devices()
    assert names[:2] == ["auto", "cpu"]
    for name in names:
        assert isinstance(resolve_device(name), torch.device)
