"""Your own text: encodings, BOM, bad bytes, folders and globs, streams and FIFOs, progress,
cancel, the cleaning warning; all on files generated in a temporary folder."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import tracemalloc

import pytest

from lstm_tui.core.config import RunConfig, absolute_paths
from lstm_tui.core.data import CorpusError, LoadCancelled, LoadHooks, ReadOptions, load_corpus, read_source, streams

SMALL = dict(batch_size=2, num_steps=3, max_tokens=0)


def config(path, **kw) -> RunConfig:
    return RunConfig(corpus=str(path), **{**SMALL, **kw})


@pytest.mark.parametrize(
    "encoding,data",
    [
        ("latin-1", "café crème brûlée\n".encode("latin-1")),
        ("cp1252", "“quotes” – dash\n".encode("cp1252")),
        ("utf-16", "wide 中文 text\n".encode("utf-16")),  # with its BOM
        ("utf-8", b"\xef\xbb\xbfbom then text\n"),
    ],
)
def test_encodings_read_as_the_same_text(tmp_path, encoding, data):
    path = tmp_path / "book.txt"
    path.write_bytes(data)
    text = data.decode("utf-8-sig" if encoding == "utf-8" else encoding)
    got = read_source(str(path), options=ReadOptions(encoding=encoding))
    assert bytes(got.data).decode("utf-8") == text.lstrip("\ufeff")


def test_undecodable_byte_names_the_file_and_offset_and_suggests_encoding(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(b"plain start " * 10 + "caf\xe9".encode("latin-1") + b" end\n")
    with pytest.raises(CorpusError) as info:
        read_source(str(path))
    assert f"{path} is not UTF-8 text: byte 0xe9 at offset 123" in info.value.reason
    assert "--encoding" in info.value.hint and "--errors replace" in info.value.hint
    replaced = read_source(str(path), options=ReadOptions(errors="replace"))
    assert "caf\ufffd end" in bytes(replaced.data).decode()


def test_undecodable_byte_in_a_later_chunk_has_its_file_offset(tmp_path, monkeypatch):
    import lstm_tui.core.data.decoding as decoding

    monkeypatch.setattr(decoding, "DECODE_CHUNK", 16)
    path = tmp_path / "t.txt"
    path.write_bytes("é".encode() * 20 + b"\xff" + b"abc")
    with pytest.raises(CorpusError, match="byte 0xff at offset 40"):
        read_source(str(path))


def test_folder_and_glob_join_sorted_files_with_newlines(tmp_path):
    books = tmp_path / "books"
    books.mkdir()
    (books / "b.txt").write_text("second")
    (books / "a.txt").write_text("first\n")
    (books / "c.txt").write_text("third")
    (books / "notes.md").write_text("not a txt file")
    (books / "sub").mkdir()
    (books / "sub" / "d.txt").write_text("fourth")
    folder = read_source(str(books))
    assert folder.data == b"first\nsecond\nthird" and folder.files == 3
    pattern = read_source(str(books / "**" / "*.txt"))
    assert pattern.data == b"first\nsecond\nthird\nfourth" and pattern.files == 4
    with pytest.raises(CorpusError, match="no files match"):
        read_source(str(books / "*.nothing"))
    (books / "bad.txt").write_bytes(b"ok\xff")
    with pytest.raises(CorpusError, match=f"{books / 'bad.txt'} is not UTF-8 text: byte 0xff at offset 2"):
        read_source(str(books))


def test_fd_path_of_a_pipe_is_read_as_a_stream_and_kept_as_given(tmp_path):
    read_end, write_end = os.pipe()
    given = f"/dev/fd/{read_end}"
    assert absolute_paths({"corpus": given})["corpus"] == given  # not /proc/PID/fd/pipe:[N]
    assert absolute_paths({"corpus": "-"})["corpus"] == "-"

    def writer():
        for _ in range(3):
            os.write(write_end, b"stream text\n")
            time.sleep(0.05)
        os.close(write_end)

    threading.Thread(target=writer).start()
    try:
        got = read_source(given)
    finally:
        os.close(read_end)
    assert got.data == b"stream text\n" * 3


def test_missing_fd_path_names_the_path_given():
    with pytest.raises(CorpusError, match="the corpus file /dev/fd/987 does not exist"):
        read_source("/dev/fd/987")


def test_fifo_without_writer_says_so_instead_of_hanging(tmp_path, monkeypatch):
    monkeypatch.setattr(streams, "FIFO_WAIT_S", 0.5)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(CorpusError, match=f"nothing was written to the FIFO {fifo}") as info:
        read_source(str(fifo))
    assert time.monotonic() - start < 5
    assert "writer" in info.value.hint


def test_fifo_with_a_writer_and_the_size_limit(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def writer(payload: bytes):
        with open(fifo, "wb") as f:
            f.write(payload)

    thread = threading.Thread(target=writer, args=(b"fifo text\n" * 10,))
    thread.start()
    assert read_source(str(fifo)).data == b"fifo text\n" * 10
    thread.join()
    thread = threading.Thread(target=writer, args=(b"x" * 5000,))
    thread.start()
    with pytest.raises(CorpusError, match="over the limit of 1000 bytes"):
        read_source(str(fifo), options=ReadOptions(max_bytes=1000))
    thread.join()


def test_standard_input_is_the_corpus(tmp_path):
    code = "from lstm_tui.core.data import read_source; s = read_source('-'); print(s.label, len(s.data), s.sha1)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=b"from standard input\n" * 4,
        capture_output=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    import hashlib

    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().split() == [
        "standard",
        "input",
        "80",
        hashlib.sha1(b"from standard input\n" * 4).hexdigest(),
    ]


def big_text(path, megabytes: int) -> None:
    line = b"The Time Traveller (for so it will be convenient to speak of him) was expounding.\n"
    path.write_bytes(line * (megabytes * 2**20 // len(line)))


def test_progress_reports_stages_and_ends_each_at_its_total(tmp_path):
    path = tmp_path / "big.txt"
    big_text(path, 9)
    seen = []
    data = load_corpus(config(path, raw=True), on_load=lambda stage, done, total: seen.append((stage, done, total)))
    stages = [s for s, _, _ in seen]
    assert stages.index("reading") < stages.index("counting") < stages.index("indexing")
    assert ("reading", path.stat().st_size, path.stat().st_size) in seen
    assert len(data.train) == path.stat().st_size


def test_cancel_while_loading_returns_at_once(tmp_path):
    path = tmp_path / "big.txt"
    big_text(path, 20)
    calls = []
    start = time.monotonic()
    with pytest.raises(LoadCancelled):
        load_corpus(config(path, raw=True), on_load=lambda *a: calls.append(a), cancel=lambda: len(calls) >= 2)
    assert time.monotonic() - start < 2 and len(calls) == 2


def test_encoding_20_mb_stays_under_a_memory_bound(tmp_path):
    """Peak Python/numpy allocations while loading a 20 MB text: a few bytes per character
    (the book's lists of one-character strings take about 80)."""
    path = tmp_path / "big.txt"
    big_text(path, 20)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        data = load_corpus(config(path, raw=True))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(data.train) == size
    assert peak < 3.5 * size, f"peak {peak / 2**20:.0f} MiB for {size / 2**20:.0f} MiB of text"


def test_cleaning_warning_and_a_text_that_loses_everything(tmp_path):
    mostly_chinese = tmp_path / "novel.txt"
    mostly_chinese.write_text("第一章 天下大势，分久必合，合久必分。" * 50 + "\nsome english letters here\n" * 5)
    data = load_corpus(config(mostly_chinese))
    assert any("drops" in w and "raw=true (--raw)" in w for w in data.warnings)
    assert not load_corpus(config(mostly_chinese, raw=True)).warnings
    only_chinese = tmp_path / "only.txt"
    only_chinese.write_text("天下大势，分久必合，合久必分。\n" * 20)
    with pytest.raises(CorpusError, match="keeps only the letters A-Z, and none of its 320 characters") as info:
        load_corpus(config(only_chinese))
    assert "raw" in info.value.hint


def test_no_cleaning_warning_for_english(tmp_path, shared_data_dir):
    assert load_corpus(RunConfig(data_dir=str(shared_data_dir))).warnings == ()
    english = tmp_path / "e.txt"
    english.write_text("Plain English, with punctuation; and digits 1 2 3.\n" * 20)
    assert load_corpus(config(english)).warnings == ()


def test_load_hooks_status_and_check():
    said = []
    hooks = LoadHooks(status=said.append, cancelled=lambda: True)
    hooks.say("hello")
    assert said == ["hello"]
    with pytest.raises(LoadCancelled, match="stopped while loading"):
        hooks.step("reading", 1, 2)
