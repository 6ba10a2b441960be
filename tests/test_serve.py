"""`lstm-tui serve`: a real server in a subprocess on a loopback port, and its warnings and errors.

Only loopback addresses are listened on here; the warning for other addresses is checked with
textual-serve's Server replaced (so nothing listens beyond this machine).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import types

import pytest
import requests

from lstm_tui.cli import commands, main

pytest.importorskip("textual_serve")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_serve(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lstm_tui", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def stop(process: subprocess.Popen, timeout: float = 5.0) -> tuple[int, str, str]:
    """SIGTERM (what a service manager sends), then wait: it must exit within ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"lstm-tui serve did not exit within {timeout}s of SIGTERM") from None
    return process.returncode, out, err


def wait_for_page(process: subprocess.Popen, url: str, timeout: float = 20.0) -> requests.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, out, err = stop(process)
            raise AssertionError(f"serve exited early ({process.returncode}):\n{out}\n{err}")
        try:
            response = requests.get(url, timeout=2)
            if response.status_code == 200:
                return response
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    stop(process)
    raise AssertionError(f"no answer from {url} within {timeout}s")


def test_serve_answers_on_localhost_and_stops_on_sigterm():
    port = free_port()
    process = start_serve("--port", str(port))
    try:
        page = wait_for_page(process, f"http://127.0.0.1:{port}/")
        assert "textual" in page.text.lower()
        assert "lstm-tui" in page.text  # the page's title
        # The page points the browser back at the address it used (not at the listening address).
        assert f"ws://127.0.0.1:{port}/ws" in page.text
    finally:
        code, out, err = stop(process)
    assert code == 0, err
    assert "warning" not in err  # localhost needs no warning
    assert f"localhost:{port}" in out


def test_port_in_use_is_a_readable_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "lstm_tui", "serve", "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "another --port" in result.stderr
    assert "Traceback" not in result.stderr


class FakeServer:
    """Stands in for textual_serve.server.Server: records what it was given, listens nowhere."""

    made: list[FakeServer] = []

    def __init__(self, command: str, host: str = "localhost", port: int = 8000, title: str | None = None) -> None:
        self.command, self.host, self.port, self.title = command, host, port, title
        FakeServer.made.append(self)

    def serve(self) -> None:
        pass


@pytest.fixture
def fake_textual_serve(monkeypatch):
    FakeServer.made = []
    module = types.ModuleType("textual_serve.server")
    module.Server = FakeServer
    monkeypatch.setitem(sys.modules, "textual_serve.server", module)
    monkeypatch.setattr(commands, "check_address", lambda host, port: None)  # nothing is bound
    return FakeServer.made


def test_other_addresses_get_a_warning(fake_textual_serve, capsys):
    assert main(["serve", "--host", "0.0.0.0", "--port", "8123", "--preset", "concise", "--hidden", "64"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "anyone who can reach this port can use the app" in err
    assert "ssh -L 8123:localhost:8123" in err
    (server,) = fake_textual_serve
    assert (server.host, server.port, server.title) == ("0.0.0.0", 8123, "lstm-tui")
    assert "-m lstm_tui --preset concise --hidden 64" in server.command


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "::1", "[::1]"])
def test_loopback_addresses_get_no_warning(fake_textual_serve, capsys, host):
    assert main(["serve", "--host", host]) == 0
    assert "warning" not in capsys.readouterr().err


def test_bad_flags_fail_before_serving(fake_textual_serve, capsys):
    assert main(["serve", "--hidden", "0"]) == 2
    assert "hidden" in capsys.readouterr().err
    assert fake_textual_serve == []


def test_without_textual_serve_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "textual_serve", None)
    monkeypatch.setitem(sys.modules, "textual_serve.server", None)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "pip install textual-serve" in err and "Traceback" not in err


@pytest.mark.parametrize("port", ["0", "65536", "70000"])
def test_ports_outside_1_to_65535_are_refused(fake_textual_serve, capsys, port):
    assert main(["serve", "--port", port]) == 2
    err = capsys.readouterr().err
    assert "--port" in err and "1 to 65,535" in err
    assert fake_textual_serve == []


def test_the_highest_port_is_accepted(fake_textual_serve):
    assert main(["serve", "--port", "65535"]) == 0
    (server,) = fake_textual_serve
    assert server.port == 65535
