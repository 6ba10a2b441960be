"""download() and fetch_time_machine() against real loopback servers serving the real corpus."""

from __future__ import annotations

import hashlib
import os
import socket
import threading

import pytest

from lstm_tui.core.data import (
    CORPUS_FILENAME,
    TIME_MACHINE_SHA1,
    CorpusError,
    default_data_dir,
    download,
    fetch_time_machine,
)


def closed_port_url() -> str:
    """A URL on a loopback port that nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/timemachine.txt"


class RawServer:
    """A one-thread socket server answering every request with fixed raw bytes.

    Used for what a well-behaved server cannot send: a body shorter than Content-Length,
    a close-delimited body with no length, or no answer at all.
    """

    def __init__(self, payload: bytes | None):
        self.payload = payload
        self.release = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/timemachine.txt"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                request = b""
                while b"\r\n\r\n" not in request:
                    data = conn.recv(4096)
                    if not data:
                        break
                    request += data
                if self.payload is None:
                    self.release.wait(10)
                else:
                    conn.sendall(self.payload)

    def close(self) -> None:
        self.release.set()
        self.sock.close()


@pytest.fixture
def raw_server():
    servers = []

    def start(payload: bytes | None) -> RawServer:
        servers.append(RawServer(payload))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def serve_corpus(httpserver, body: bytes, path: str = "/timemachine.txt") -> str:
    httpserver.expect_request(path).respond_with_data(body, content_type="text/plain")
    return httpserver.url_for(path)


def test_download_good_sha_caches_file_and_reports_progress(httpserver, tmp_path, corpus_bytes):
    url = serve_corpus(httpserver, corpus_bytes)
    calls = []
    data_dir = tmp_path / "new" / "data"  # created lazily, parents too
    path = fetch_time_machine(data_dir, url=url, progress=lambda done, total: calls.append((done, total)))
    assert path == data_dir / CORPUS_FILENAME
    assert path.read_bytes() == corpus_bytes
    assert os.listdir(data_dir) == [CORPUS_FILENAME]
    dones = [done for done, _ in calls]
    assert len(calls) > 1 and dones == sorted(dones) and len(set(dones)) == len(dones)
    assert calls[-1] == (len(corpus_bytes), len(corpus_bytes))


def test_download_returns_dest_and_checks_sha(httpserver, tmp_path, corpus_bytes):
    url = serve_corpus(httpserver, corpus_bytes)
    dest = tmp_path / "copy.txt"
    assert download(url, dest, sha1=TIME_MACHINE_SHA1) == dest
    assert hashlib.sha1(dest.read_bytes()).hexdigest() == TIME_MACHINE_SHA1


def test_sha_mismatch_leaves_nothing(httpserver, tmp_path, corpus_bytes):
    altered = corpus_bytes.replace(b"Time Traveller", b"Time Trav3ller", 1)
    url = serve_corpus(httpserver, altered)
    with pytest.raises(CorpusError) as info:
        download(url, tmp_path / CORPUS_FILENAME, sha1=TIME_MACHINE_SHA1)
    message = str(info.value)
    assert "SHA-1 mismatch" in message and url in message
    assert TIME_MACHINE_SHA1 in message and hashlib.sha1(altered).hexdigest() in message
    assert os.listdir(tmp_path) == []


def test_fetch_with_bad_sha_leaves_data_dir_empty(httpserver, tmp_path, corpus_bytes):
    url = serve_corpus(httpserver, corpus_bytes[:-10] + b"0123456789")
    with pytest.raises(CorpusError, match="SHA-1 mismatch"):
        fetch_time_machine(tmp_path, url=url)
    assert os.listdir(tmp_path) == []


def test_server_down_says_where_to_put_the_file(tmp_path):
    url = closed_port_url()
    with pytest.raises(CorpusError) as info:
        fetch_time_machine(tmp_path / "data", url=url, timeout=5)
    error = info.value
    assert "not cached" in error.reason and "could not download" in error.reason and url in error.reason
    assert "Traceback" not in str(error) and "HTTPConnectionPool" not in str(error)
    assert str(tmp_path / "data" / CORPUS_FILENAME) in error.hint and "--corpus" in error.hint
    assert not (tmp_path / "data").exists()  # nothing created when nothing was downloaded


def test_http_404(httpserver, tmp_path):
    httpserver.expect_request("/missing.txt").respond_with_data("nope", status=404)
    url = httpserver.url_for("/missing.txt")
    with pytest.raises(CorpusError, match="404") as info:
        download(url, tmp_path / "x.txt")
    assert url in info.value.reason
    assert os.listdir(tmp_path) == []


def test_truncated_transfer(raw_server, tmp_path, corpus_bytes):
    body = corpus_bytes[:5000]
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(corpus_bytes)}\r\nConnection: close\r\n\r\n".encode()
    server = raw_server(head + body)
    with pytest.raises(CorpusError, match="cut short") as info:
        download(server.url, tmp_path / "x.txt", timeout=5)
    assert server.url in info.value.reason
    assert os.listdir(tmp_path) == []


def test_over_max_bytes_by_header(httpserver, tmp_path, corpus_bytes):
    url = serve_corpus(httpserver, corpus_bytes)
    with pytest.raises(CorpusError, match="over the limit of 1000 bytes"):
        download(url, tmp_path / "x.txt", max_bytes=1000)
    assert os.listdir(tmp_path) == []


def test_over_max_bytes_by_count_without_length(raw_server, tmp_path, corpus_bytes):
    head = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"  # close-delimited, no length
    server = raw_server(head + corpus_bytes)
    with pytest.raises(CorpusError, match="larger than the limit of 100000 bytes"):
        download(server.url, tmp_path / "x.txt", max_bytes=100_000, timeout=5)
    assert os.listdir(tmp_path) == []


def test_close_delimited_body_within_limit_downloads(raw_server, tmp_path, corpus_bytes):
    server = raw_server(b"HTTP/1.0 200 OK\r\n\r\n" + corpus_bytes)
    calls = []
    path = download(
        server.url,
        tmp_path / "x.txt",
        sha1=TIME_MACHINE_SHA1,
        timeout=5,
        progress=lambda done, total: calls.append(total),
    )
    assert path.read_bytes() == corpus_bytes
    assert set(calls) == {None}


def test_timeout(raw_server, tmp_path):
    server = raw_server(None)  # accepts, never answers
    with pytest.raises(CorpusError, match="timed out after 0.3 s"):
        download(server.url, tmp_path / "x.txt", timeout=0.3)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("target", ["ftp://example.com/timemachine.txt", "file:///etc/passwd"])
def test_redirect_to_non_http_scheme(httpserver, tmp_path, target):
    httpserver.expect_request("/moved").respond_with_data("", status=302, headers={"Location": target})
    url = httpserver.url_for("/moved")
    with pytest.raises(CorpusError, match="not an http") as info:
        download(url, tmp_path / "x.txt")
    assert url in info.value.reason and target in info.value.reason
    assert os.listdir(tmp_path) == []


def test_http_redirect_is_followed(httpserver, tmp_path, corpus_bytes):
    serve_corpus(httpserver, corpus_bytes, "/real.txt")
    httpserver.expect_request("/moved").respond_with_data("", status=301, headers={"Location": "/real.txt"})
    path = download(httpserver.url_for("/moved"), tmp_path / "x.txt", sha1=TIME_MACHINE_SHA1)
    assert path.read_bytes() == corpus_bytes


def test_non_http_url_refused_before_any_io(tmp_path):
    with pytest.raises(CorpusError, match="only http and https"):
        download("ftp://example.com/x.txt", tmp_path / "sub" / "x.txt")
    assert os.listdir(tmp_path) == []


def test_cached_good_file_is_used_without_network(tmp_path, corpus_bytes):
    (tmp_path / CORPUS_FILENAME).write_bytes(corpus_bytes)
    path = fetch_time_machine(tmp_path, url=closed_port_url())
    assert path == tmp_path / CORPUS_FILENAME


def test_corrupt_cached_file_is_replaced(httpserver, tmp_path, corpus_bytes):
    (tmp_path / CORPUS_FILENAME).write_bytes(corpus_bytes[:1000])
    url = serve_corpus(httpserver, corpus_bytes)
    path = fetch_time_machine(tmp_path, url=url)
    assert path.read_bytes() == corpus_bytes
    assert os.listdir(tmp_path) == [CORPUS_FILENAME]


def test_corrupt_cached_file_and_no_network(tmp_path, corpus_bytes):
    cached = tmp_path / CORPUS_FILENAME
    cached.write_bytes(corpus_bytes[:1000])
    with pytest.raises(CorpusError, match="corrupt") as info:
        fetch_time_machine(tmp_path, url=closed_port_url(), timeout=5)
    assert str(cached) in info.value.reason and TIME_MACHINE_SHA1 in info.value.reason
    assert cached.read_bytes() == corpus_bytes[:1000]  # left for the user to inspect
    assert os.listdir(tmp_path) == [CORPUS_FILENAME]


def test_read_only_shared_folder_with_good_file(shared_data_dir):
    before = sorted(os.listdir(shared_data_dir))
    path = fetch_time_machine(shared_data_dir, url=closed_port_url())
    assert path == shared_data_dir / CORPUS_FILENAME
    assert sorted(os.listdir(shared_data_dir)) == before


def test_default_data_dir_env_and_empty_setting(monkeypatch, tmp_path, corpus_bytes):
    monkeypatch.setenv("LSTM_TUI_DATA_DIR", str(tmp_path / "cache"))
    assert default_data_dir() == tmp_path / "cache"
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / CORPUS_FILENAME).write_bytes(corpus_bytes)
    for setting in (None, ""):
        assert fetch_time_machine(setting, url=closed_port_url()) == tmp_path / "cache" / CORPUS_FILENAME
    monkeypatch.delenv("LSTM_TUI_DATA_DIR")
    assert default_data_dir().name == "data" and "lstm-tui" in str(default_data_dir())


def test_corpus_error_text():
    assert str(CorpusError("bad", "do this")) == "bad (do this)"
    assert str(CorpusError("bad")) == "bad"
    error = CorpusError("r", "h")
    assert (error.reason, error.hint) == ("r", "h")
