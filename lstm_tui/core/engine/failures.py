"""What a training failure says: the exception that ended a run, as a :class:`Failed` event."""

from __future__ import annotations

import logging
import traceback

import torch

from ..checkpoint import CheckpointError
from ..config import RunConfig
from ..data.errors import CorpusError
from ..device import DeviceError
from ..events import Failed
from .errors import HandlerError, NonFinite
from .metrics import is_out_of_memory, nonfinite_failure, out_of_memory_failure

log = logging.getLogger("lstm_tui.core.engine.trainer")


def failure_of(
    exc: Exception, config: RunConfig, epoch: int, device_text: str, device: torch.device | None = None
) -> tuple[Failed, str]:
    """``(the Failed event, the traceback to keep or "")`` for ``exc``, raised at ``epoch``; an
    out-of-memory error also hands the GPU's cached memory back."""
    if isinstance(exc, HandlerError):
        log.error("event handler raised on %s", exc.event.kind, exc_info=exc.cause)
        reason = f"the event handler raised {type(exc.cause).__name__} on a {exc.event.kind} event: {exc.cause}"
        failed = Failed(reason, "the run was stopped; event handlers must not raise", epoch=epoch)
        return failed, "".join(traceback.format_exception(exc.cause))
    if isinstance(exc, NonFinite):
        return nonfinite_failure(config, exc.value, exc.epoch, exc.what), ""
    if isinstance(exc, CorpusError):
        return Failed(exc.reason, exc.hint, epoch=epoch), ""
    if isinstance(exc, DeviceError):
        return Failed(exc.message, exc.hint or "pick another device, e.g. cpu or auto", epoch=epoch), ""
    if isinstance(exc, CheckpointError):
        return Failed(f"cannot resume: {exc}", "start a new run", epoch=epoch), ""
    trace = "".join(traceback.format_exception(exc))
    if is_out_of_memory(exc):
        _free_memory(device)
        return out_of_memory_failure(config, device_text or config.device, epoch + 1), trace
    log.error("training failed", exc_info=exc)
    hint = "an unexpected error; the traceback is in the log and in the run's summary.json"
    return Failed(f"{type(exc).__name__}: {exc}", hint, epoch=epoch, detail=trace), trace


def _free_memory(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        try:
            torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001
            pass
