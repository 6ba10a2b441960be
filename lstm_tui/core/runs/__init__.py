"""The run folder's format, in one package (no torch imported here: listing runs is cheap).

- ``files``: the file names (``CONFIG_FILE`` ... ``LOCK_FILE``) and :class:`RunError`
- ``summary``: :class:`RunStatus` and the :class:`Summary` record of ``summary.json``
- ``folder``: :class:`RunDir` (one run's files), ``default_runs_dir``, ``safe_name``
- ``listing``: :func:`list_runs`, :class:`RunInfo`, :func:`run_status`
- ``lock``: ``.training.lock`` (:class:`RunLock`, :class:`RunBusy`, :func:`lock_holder`)
- ``trim``: a resumed run's metrics mended from the checkpoint's history, stale temp files removed
- ``payload`` / ``checkpoint_io`` (import torch; import them directly): the checkpoint's dict
  and its file
"""

from __future__ import annotations

from .files import (
    BEST_FILE,
    CHECKPOINT_FILE,
    CONFIG_FILE,
    CREATED_KEY,
    KNOB_KEY,
    LOCK_FILE,
    METRICS_FILE,
    RUNS_ENV,
    SAMPLES_FILE,
    SUMMARY_FILE,
    RunError,
    is_knob_record,
)
from .folder import CORPUS_CHANGE_HINT, RunDir, as_run_dir, default_runs_dir, safe_name
from .listing import RunInfo, list_runs, run_status
from .lock import RunBusy, RunLock, lock_holder, owner_gone, read_lock
from .summary import (
    ENDED_STATUSES,
    WRITTEN_STATUSES,
    RunStatus,
    Summary,
    checkpoint_note,
)
from .trim import remove_stale_temp_files, repair_run_files

#: The statuses a summary may record, as texts (kept for old callers; see :class:`RunStatus`).
STATUSES = tuple(status.value for status in WRITTEN_STATUSES)

__all__ = [
    "CORPUS_CHANGE_HINT",
    "as_run_dir",
    "BEST_FILE",
    "CHECKPOINT_FILE",
    "CONFIG_FILE",
    "CREATED_KEY",
    "ENDED_STATUSES",
    "KNOB_KEY",
    "LOCK_FILE",
    "METRICS_FILE",
    "RUNS_ENV",
    "SAMPLES_FILE",
    "STATUSES",
    "SUMMARY_FILE",
    "WRITTEN_STATUSES",
    "RunBusy",
    "RunDir",
    "RunError",
    "RunInfo",
    "RunLock",
    "RunStatus",
    "Summary",
    "checkpoint_note",
    "default_runs_dir",
    "is_knob_record",
    "list_runs",
    "lock_holder",
    "owner_gone",
    "read_lock",
    "remove_stale_temp_files",
    "repair_run_files",
    "run_status",
    "safe_name",
]
