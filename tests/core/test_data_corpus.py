"""read_corpus_text: The Time Machine, local files (and their errors), http(s) URLs."""

from __future__ import annotations

import os

import pytest

from lstm_tui.core.data import CorpusError, read_corpus_text


def test_empty_source_is_the_time_machine(shared_data_dir, corpus_bytes):
    text = read_corpus_text("", shared_data_dir)
    assert text == corpus_bytes.decode("utf-8")
    assert text.startswith("The Time Machine, by H. G. Wells")


def test_local_path(small_corpus, small_corpus_bytes):
    assert read_corpus_text(str(small_corpus)) == small_corpus_bytes.decode()


def test_missing_file(tmp_path):
    with pytest.raises(CorpusError, match="does not exist") as info:
        read_corpus_text(str(tmp_path / "nope.txt"))
    assert str(tmp_path / "nope.txt") in info.value.reason


def test_directory(tmp_path):
    with pytest.raises(CorpusError, match="is a directory with no .txt files"):
        read_corpus_text(str(tmp_path))


def test_empty_file(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(CorpusError, match="is empty"):
        read_corpus_text(str(tmp_path / "empty.txt"))


def test_binary_file_names_nul_offset(tmp_path, small_corpus_bytes):
    (tmp_path / "model.bin").write_bytes(small_corpus_bytes[:123] + b"\x00\x01\x02" + small_corpus_bytes[123:500])
    with pytest.raises(CorpusError, match="looks binary: NUL byte at offset 123"):
        read_corpus_text(str(tmp_path / "model.bin"))


def test_non_utf8_file_names_byte_offset(tmp_path, small_corpus_bytes):
    latin1 = small_corpus_bytes[:1000] + "café".encode("latin-1") + small_corpus_bytes[1000:2000]
    (tmp_path / "latin1.txt").write_bytes(latin1)
    with pytest.raises(CorpusError, match=r"not UTF-8 text: byte 0xe9 at offset 1003") as info:
        read_corpus_text(str(tmp_path / "latin1.txt"))
    assert "UTF-8" in info.value.hint


def test_utf8_with_bom_and_non_ascii(tmp_path):
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfcaf\xc3\xa9 au lait\n")
    assert read_corpus_text(str(tmp_path / "bom.txt")) == "café au lait\n"
    (tmp_path / "bad_bom.txt").write_bytes(b"\xef\xbb\xbfab\xff")
    with pytest.raises(CorpusError, match="offset 5"):
        read_corpus_text(str(tmp_path / "bad_bom.txt"))


def test_file_over_size_limit(tmp_path, small_corpus_bytes):
    (tmp_path / "big.txt").write_bytes(small_corpus_bytes)
    with pytest.raises(CorpusError, match=f"is {len(small_corpus_bytes)} bytes, over the limit of 1000 bytes"):
        read_corpus_text(str(tmp_path / "big.txt"), max_bytes=1000)


@pytest.mark.parametrize("url", ["ftp://example.com/book.txt", "file:///tmp/book.txt"])
def test_unsupported_url_scheme(url):
    with pytest.raises(CorpusError, match="unsupported corpus URL") as info:
        read_corpus_text(url)
    assert "path" in info.value.hint


def test_http_url_is_downloaded_without_sha_check(httpserver, small_corpus_bytes, tmp_path):
    text = small_corpus_bytes[:20_000].decode()
    httpserver.expect_request("/book.txt").respond_with_data(text, content_type="text/plain")
    calls = []
    got = read_corpus_text(httpserver.url_for("/book.txt"), tmp_path, lambda d, t: calls.append(d))
    assert got == text and calls[-1] == 20_000
    assert os.listdir(tmp_path) == []  # URL corpora are not cached in the data dir


def test_http_url_size_limit_and_binary(httpserver):
    httpserver.expect_request("/big.txt").respond_with_data(b"a" * 5000)
    with pytest.raises(CorpusError, match="over the limit of 1000 bytes"):
        read_corpus_text(httpserver.url_for("/big.txt"), max_bytes=1000)
    httpserver.expect_request("/bin").respond_with_data(b"ab\x00cd")
    url = httpserver.url_for("/bin")
    with pytest.raises(CorpusError, match="looks binary") as info:
        read_corpus_text(url)
    assert url in info.value.reason
