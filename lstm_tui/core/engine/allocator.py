"""Keep freed tensor memory for reuse instead of handing it back to the OS after every batch.

PyTorch allocates CPU tensors with the C library's ``malloc``. glibc serves a block above its
mmap threshold with a fresh ``mmap`` and returns it with ``munmap`` on free, and trims the
heap's top when more than its trim threshold is free; either way the next batch, which needs
the same sizes again, may touch fresh pages. Measured here on the book's concise config: from
~10 to ~2,000 page faults per batch depending on how glibc's dynamic threshold happened to
settle in that process, and 15-25% slower steps in the bad case. Raising both
thresholds (once, at the start of a run) makes those blocks come from the heap and stay there.
The memory a run peaks at then stays with the process until it ends; for a training process
that is the right trade. Only glibc has ``mallopt``; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: glibc caps the mmap threshold at 32 MiB on 64-bit systems (HEAP_MAX_SIZE / 2).
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 512 * 1024 * 1024
#: Set this environment variable to 1 to leave the C library's defaults alone.
OPT_OUT_ENV = "LSTM_TUI_KEEP_MALLOC_DEFAULTS"

_done = False


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; True when they were set."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux") or os.environ.get(OPT_OUT_ENV) == "1":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    return _done
