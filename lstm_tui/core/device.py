"""Which torch device a run uses: ``resolve_device("auto"|"cpu"|"cuda[:N]"|"mps")``.

A device the machine does not have is a :class:`DeviceError` naming the device and what the
machine does have, so a front end can show one readable line instead of a CUDA traceback.
"""

from __future__ import annotations

import os

import torch

__all__ = ["DeviceError", "resolve_device", "available_devices", "describe_device", "use_threads", "bf16_native"]

_default_threads: int | None = None  # torch's own choice, remembered before we first change it


class DeviceError(ValueError):
    """The requested device does not exist on this machine (``device``: what was asked for)."""

    def __init__(self, device: str, message: str, hint: str = ""):
        super().__init__(f"{message} ({hint})" if hint else message)
        self.device = device
        self.message = message
        self.hint = hint


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _cuda_count() -> int:
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _machine_text() -> str:
    """What this machine offers, for error messages."""
    found = ["cpu"]
    found += [f"cuda:{i}" for i in range(_cuda_count())]
    if _mps_available():
        found.append("mps")
    text = "this machine has " + ", ".join(found)
    if torch.version.cuda is None and not _cuda_count():
        text += f" (this torch {torch.__version__} is built without CUDA)"
    return text


def resolve_device(name: str = "auto") -> torch.device:
    """Turn a device setting into a ``torch.device`` the machine really has.

    ``auto`` picks CUDA if available, then MPS, then the CPU. ``cuda`` means the current
    CUDA device. Anything unavailable or unknown raises :class:`DeviceError`.
    """
    text = (name or "auto").strip().lower()
    if text == "auto":
        if _cuda_count():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "mps":
        if not _mps_available():
            raise DeviceError(name, "device mps (Apple GPU) is not available", _machine_text())
        return torch.device("mps")
    head, sep, index = text.partition(":")
    if head == "cuda" and (not sep or index.isdigit()):
        count = _cuda_count()
        if not count:
            raise DeviceError(name, f"device {text} is not available: no CUDA GPU found", _machine_text())
        number = int(index) if sep else torch.cuda.current_device()
        if number >= count:
            raise DeviceError(
                name,
                f"device {text} is not available: there {'is' if count == 1 else 'are'} "
                f"{count} CUDA device{'s' if count != 1 else ''}",
                _machine_text(),
            )
        return torch.device("cuda", number)
    raise DeviceError(name, f"{name!r} is not a device; expected auto, cpu, cuda, cuda:N or mps", _machine_text())


def available_devices() -> list[str]:
    """Choices for a device field: ``["auto", "cpu", "cuda:0", ..., "mps"]`` as present."""
    names = ["auto", "cpu"]
    names += [f"cuda:{i}" for i in range(_cuda_count())]
    if _mps_available():
        names.append("mps")
    return names


def describe_device(device: torch.device | str) -> str:
    """A short label: ``"cpu (2 threads)"``, ``"cuda:0 NVIDIA H100 80GB HBM3"``, ``"mps (Apple GPU)"``."""
    dev = torch.device(device) if not isinstance(device, torch.device) else device
    if dev.type == "cpu":
        threads = torch.get_num_threads()
        return f"cpu ({threads} thread{'s' if threads != 1 else ''})"
    if dev.type == "cuda":
        index = dev.index if dev.index is not None else (torch.cuda.current_device() if _cuda_count() else 0)
        try:
            return f"cuda:{index} {torch.cuda.get_device_name(index)}"
        except Exception:  # noqa: BLE001 - a label must never fail
            return f"cuda:{index}"
    if dev.type == "mps":
        return "mps (Apple GPU)"
    return str(dev)


def use_threads(threads: int) -> None:
    """Let torch use ``threads`` CPU threads, or its default (one per core) for 0.

    Process-wide, so a run that asks for 0 after one that asked for 1 gets the default back.
    On a shared GPU server this keeps a run from taking every core for its CPU-side work."""
    global _default_threads
    if _default_threads is None:
        _default_threads = torch.get_num_threads()
    wanted = threads or _default_threads
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_warning(threads: int) -> str | None:
    """Why ``threads`` is a bad idea, or None: more threads than cores make every small op wait
    for threads that share a core (measured: 64 threads on 2 cores, 50x slower)."""
    cores = usable_cores()
    if threads > cores:
        return (
            f"threads {threads} is more than the {cores} CPU cores this process may use: "
            f"training may be many times slower (0 picks one per core)"
        )
    return None


def bf16_native(device: torch.device) -> bool:
    """Whether ``device`` computes in bf16 natively: a CUDA GPU that supports it, or a CPU with
    AVX-512 BF16 / AMX (oneDNN's check). Elsewhere bf16 would be emulated, slower than float32."""
    try:
        if device.type == "cuda":
            return bool(torch.cuda.is_bf16_supported())
        if device.type == "cpu":
            mkldnn = torch.backends.mkldnn.is_available()  # type: ignore[no-untyped-call]  # torch leaves it unannotated
            return bool(mkldnn and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # an older torch without the probe
        return False
    return False
