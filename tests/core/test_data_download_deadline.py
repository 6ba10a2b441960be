"""download(): an overall deadline and a stall timeout against a loopback server that trickles."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from lstm_tui.core.data import CorpusError, LoadCancelled, download


class Trickle:
    """Sends headers announcing ``length`` bytes, then one byte every ``every`` seconds."""

    def __init__(self, length: int, every: float):
        self.length, self.every, self.done = length, every, threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/book.txt"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.recv(4096)
            conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {self.length}\r\n\r\n".encode())
            for _ in range(self.length):
                if self.done.wait(self.every):
                    return
                try:
                    conn.sendall(b"a")
                except OSError:
                    return

    def close(self) -> None:
        self.done.set()
        self.sock.close()


@pytest.fixture
def trickle():
    servers = []

    def start(length: int, every: float) -> Trickle:
        servers.append(Trickle(length, every))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_deadline_ends_a_trickling_download(trickle, tmp_path):
    server = trickle(1000, 0.1)  # never stalls, never ends in time
    seen = []
    start = time.monotonic()
    with pytest.raises(CorpusError, match=r"took longer than 1 s \(\d+ bytes received\)"):
        download(server.url, tmp_path / "x.txt", timeout=5, deadline=1.0, progress=lambda d, t: seen.append(d))
    assert time.monotonic() - start < 3
    assert seen and seen[-1] >= 3 and all(b - a == 1 for a, b in zip(seen, seen[1:]))  # byte by byte
    assert os.listdir(tmp_path) == []


def test_stall_timeout_names_the_silence(trickle, tmp_path):
    server = trickle(10, 30)  # headers, then nothing
    start = time.monotonic()
    with pytest.raises(CorpusError, match=r"stalled: no data for 0.5 s"):
        download(server.url, tmp_path / "x.txt", timeout=0.5, deadline=60)
    assert time.monotonic() - start < 3


def test_cancel_stops_a_stalled_download_at_once(trickle, tmp_path):
    server = trickle(10, 30)
    asked = time.monotonic() + 0.3
    start = time.monotonic()
    with pytest.raises(LoadCancelled):
        download(server.url, tmp_path / "x.txt", timeout=20, deadline=60, cancel=lambda: time.monotonic() > asked)
    assert time.monotonic() - start < 2
