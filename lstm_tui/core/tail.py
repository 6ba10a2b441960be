"""Reading a JSON-lines file incrementally while another process appends to it.

:class:`JsonlTail` keeps a byte offset into the file: each :meth:`JsonlTail.read_new` returns
the records of the lines appended since the previous call, and costs one ``stat`` when nothing
changed. A last line still being written (no newline yet) is kept back until its newline
arrives, so a record is never returned torn. A complete line that is not a JSON object (a
crash's torn line, closed later by :func:`~lstm_tui.core.atomic.append_line`) is skipped and
counted in :attr:`JsonlTail.skipped`.

A file that was replaced (a resume rewrites ``metrics.jsonl`` atomically: a new inode) or that
shrank below the offset is read again from its start; that read sets :attr:`JsonlTail.reset`,
telling the caller that the records it returns replace all earlier ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["JsonlTail"]

#: The most bytes one read takes in; a bigger backlog is read over several calls.
READ_CHUNK = 4 * 1024 * 1024


class JsonlTail:
    """An incremental reader of one JSON-lines file (it need not exist yet)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.offset = 0  # bytes consumed: the end of the last complete line read
        self.skipped = 0  # complete lines that were not JSON objects
        self.reset = False  # the last read_new() started the file over
        self._pending = b""  # the start of a last line still being written
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file read
        self._seen_size = -1  # the file's size when last read

    def __repr__(self) -> str:
        return f"JsonlTail({str(self.path)!r}, offset={self.offset})"

    @property
    def pending_bytes(self) -> int:
        """Bytes of a last line that has no newline yet (kept for the next read)."""
        return len(self._pending)

    def changed(self) -> bool:
        """Whether the file differs from what was read (one ``stat``); False while it is missing."""
        try:
            info = os.stat(self.path)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) != self._identity or info.st_size != self._seen_size

    def read_new(self) -> list[dict[str, Any]]:
        """The records appended since the last call (all of them after a reset, see :attr:`reset`)."""
        self.reset = False
        if not self.changed():
            return []
        try:
            with open(self.path, "rb") as handle:
                return self._read_from(handle)
        except FileNotFoundError:  # replaced or removed between the stat and the open
            return []

    def _read_from(self, handle: Any) -> list[dict[str, Any]]:
        info = os.fstat(handle.fileno())  # the file actually opened, not the one stat'ed
        identity = (info.st_dev, info.st_ino)
        if self._identity is not None and (
            identity != self._identity or info.st_size < self.offset + len(self._pending)
        ):
            self._start_over()
        self._identity = identity
        start = self.offset + len(self._pending)
        handle.seek(start)
        data = handle.read(READ_CHUNK)
        self._seen_size = start + len(data)  # (a bigger file is read on at the next call)
        return self._take_lines(self._pending + data)

    def _start_over(self) -> None:
        self.offset, self._pending, self.reset = 0, b"", True

    def _take_lines(self, data: bytes) -> list[dict[str, Any]]:
        end = data.rfind(b"\n")
        if end < 0:
            self._pending = data
            return []
        self._pending = data[end + 1 :]
        self.offset += end + 1
        records: list[dict[str, Any]] = []
        for raw in data[:end].split(b"\n"):
            if raw.strip():
                record = self._parse(raw)
                if record is not None:
                    records.append(record)
        return records

    def _parse(self, raw: bytes) -> dict[str, Any] | None:
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            record = None
        if not isinstance(record, dict):
            self.skipped += 1
            return None
        return record
