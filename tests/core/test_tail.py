"""JsonlTail: incremental reads of a JSON-lines file that another thread or process appends to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lstm_tui.core import tail as tail_module
from lstm_tui.core.atomic import append_line, atomic_write_text
from lstm_tui.core.tail import JsonlTail


def _line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def _write(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(text)
        out.flush()


def _until(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def test_returns_only_records_appended_since_the_last_read(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    tail = JsonlTail(path)
    assert tail.read_new() == []  # no file yet
    append_line(path, json.dumps({"epoch": 1}))
    append_line(path, json.dumps({"epoch": 2}))
    assert tail.read_new() == [{"epoch": 1}, {"epoch": 2}]
    assert tail.read_new() == []
    append_line(path, json.dumps({"epoch": 3}))
    assert tail.read_new() == [{"epoch": 3}]
    assert tail.reset is False and tail.offset == path.stat().st_size


def test_a_torn_last_line_is_kept_until_its_newline_arrives(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    text = _line({"epoch": 1, "text": "caf\u00e9"})
    raw = text.encode("utf-8")
    cut = raw.index("\u00e9".encode()) + 1  # in the middle of a two-byte character
    tail = JsonlTail(path)
    path.write_bytes(raw[:cut])
    assert tail.read_new() == []
    assert tail.pending_bytes == cut and tail.offset == 0
    with open(path, "ab") as out:
        out.write(raw[cut:])
    assert tail.read_new() == [{"epoch": 1, "text": "caf\u00e9"}]
    assert tail.pending_bytes == 0 and tail.skipped == 0


def test_complete_lines_that_are_not_json_objects_are_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1}\n{"epoch": 2, "perpl\n[1, 2]\n\n\xff\n{"epoch": 3}\n', encoding="latin-1")
    tail = JsonlTail(path)
    assert tail.read_new() == [{"epoch": 1}, {"epoch": 3}]
    assert tail.skipped == 3  # the torn object, the list, the undecodable byte (blank lines are not counted)


def test_a_crash_torn_line_closed_by_the_next_append_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1}\n{"epoch": 2, "perp', encoding="utf-8")  # the trainer died mid-line
    tail = JsonlTail(path)
    assert tail.read_new() == [{"epoch": 1}]
    append_line(path, json.dumps({"epoch": 2}))  # a resumed trainer closes the torn line first
    assert tail.read_new() == [{"epoch": 2}]
    assert tail.skipped == 1


def test_a_replaced_file_is_read_again_from_the_start_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    for epoch in range(1, 6):
        append_line(path, json.dumps({"epoch": epoch}))
    tail = JsonlTail(path)
    assert len(tail.read_new()) == 5
    # a resume trims the epochs after its checkpoint: the file is replaced, and here even longer
    atomic_write_text(path, "".join(_line({"epoch": e, "again": True}) for e in range(1, 7)))
    records = tail.read_new()
    assert tail.reset is True
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5, 6]
    append_line(path, json.dumps({"epoch": 7}))
    assert tail.read_new() == [{"epoch": 7}] and tail.reset is False


def test_a_file_truncated_in_place_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    path.write_text(_line({"epoch": 1}) + _line({"epoch": 2}), encoding="utf-8")
    tail = JsonlTail(path)
    assert len(tail.read_new()) == 2
    with open(path, "r+b") as out:  # same inode, shorter
        out.truncate(0)
        out.write(_line({"epoch": 9}).encode())
    assert tail.read_new() == [{"epoch": 9}]
    assert tail.reset is True


def test_nothing_changed_costs_a_stat_and_no_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "metrics.jsonl"
    append_line(path, json.dumps({"epoch": 1}))
    tail = JsonlTail(path)
    assert tail.read_new() == [{"epoch": 1}]

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("read_new opened the file although it did not change")

    monkeypatch.setattr(tail_module, "open", no_open, raising=False)
    for _ in range(100):
        assert tail.read_new() == []


def test_a_backlog_bigger_than_one_read_comes_over_several_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tail_module, "READ_CHUNK", 7)  # smaller than one line
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(_line({"epoch": e}) for e in range(20)), encoding="utf-8")
    tail = JsonlTail(path)
    got: list[dict] = []
    for _ in range(500):
        got += tail.read_new()
    assert got == [{"epoch": e} for e in range(20)]


def test_a_writer_thread_never_yields_a_torn_record(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    records = [{"epoch": e, "text": "x" * (e * 37 % 500)} for e in range(300)]

    def writer() -> None:
        with open(path, "ab", buffering=0) as out:
            for record in records:
                raw = _line(record).encode()
                half = len(raw) // 2
                out.write(raw[:half])  # every line arrives in two writes
                time.sleep(0.0005)
                out.write(raw[half:])

    thread = threading.Thread(target=writer)
    tail = JsonlTail(path)
    got: list[dict] = []
    thread.start()
    while thread.is_alive():
        got += tail.read_new()
    thread.join()
    got += tail.read_new()
    assert got == records and tail.skipped == 0


WRITER = r"""
import json, os, sys, time
path, go = sys.argv[1], sys.argv[2]
with open(path, "ab", buffering=0) as out:
    for epoch in range(1, 6):
        out.write((json.dumps({"epoch": epoch}) + "\n").encode())
        time.sleep(0.05)
    last = (json.dumps({"epoch": 6, "perplexity": 1.5}) + "\n").encode()
    out.write(last[:9])
    while not os.path.exists(go):
        time.sleep(0.01)
    out.write(last[9:])
"""


def test_a_subprocess_writing_slowly_with_a_torn_last_line(tmp_path: Path) -> None:
    path, go = tmp_path / "metrics.jsonl", tmp_path / "go"
    path.touch()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(go)])
    tail = JsonlTail(path)
    got: list[dict] = []
    try:

        def torn_line_written() -> bool:
            got.extend(tail.read_new())
            return tail.pending_bytes == 9

        _until(torn_line_written)
        assert got == [{"epoch": e} for e in range(1, 6)]  # the half line is not among them
        assert tail.read_new() == []
        go.touch()
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    assert tail.read_new() == [{"epoch": 6, "perplexity": 1.5}]
    assert tail.skipped == 0 and tail.pending_bytes == 0 and tail.offset == os.path.getsize(path)
