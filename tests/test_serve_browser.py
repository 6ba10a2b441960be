"""``lstm-tui serve`` in a real headless browser: no app outlives its page or the server.

Chromium from the Debian packages (``/usr/bin/chromium``; ``.ci/run`` installs it), driven by
Playwright from PyPI pointed at it (``executable_path``: no browser is downloaded). Each test
opens the page, starts a run (F5 in the page) and waits until it trained an epoch; then the page
closes, or the app gets SIGTERM, or the server gets SIGTERM or SIGINT. The app process must end
within 10 s with its run stopped at a checkpoint (not locked, not "running"), and no process of
the server is left once it has stopped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_lifecycle import session_members
from test_serve import free_port, wait_for_page

from lstm_tui.cli.serve import alive, app_processes
from lstm_tui.core.runs import lock_holder, run_status

playwright_api = pytest.importorskip("playwright.sync_api")

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TINY = [
    "--preset",
    "concise",
    "--hidden",
    "32",
    "--max-tokens",
    "4000",
    "--batch-size",
    "8",
    "--num-steps",
    "10",
    "--device",
    "cpu",
    "--predict-every",
    "1",
    "--predict-length",
    "20",
    "--epochs",
    "500",
]
APP_EXIT_S = 10.0


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    with playwright_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Served:
    """A real ``lstm-tui serve`` on a free loopback port, in its own session."""

    def __init__(self, tmp_path: Path, data_dir: Path) -> None:
        self.port = free_port()
        self.runs_dir = tmp_path / "runs"
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1",
            "LSTM_TUI_LIFECYCLE_LOG": str(tmp_path / "lifecycle.log"),
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lstm_tui",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--runs-dir",
                str(self.runs_dir),
                "--data-dir",
                str(data_dir),
                *TINY,
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}/"
        wait_for_page(self.proc, self.url, timeout=60)

    def apps(self) -> list[int]:
        """The app processes under the server (not a shell between them)."""
        return [pid for pid in app_processes(self.proc.pid) if _is_app(pid)]

    def end(self) -> None:
        """Leave nothing behind whatever the test did (the session's processes are killed)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()
        for pid in session_members(self.proc.pid):
            os.kill(pid, signal.SIGKILL)


def _is_app(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return argv[1:3] == [b"-m", b"lstm_tui"] and b"serve" not in argv


def wait_until(what: str, check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout}s")
        time.sleep(0.1)


def the_run(served: Served) -> Path:
    (run,) = [p for p in served.runs_dir.iterdir() if p.is_dir()]
    return run


def trained_an_epoch(served: Served) -> bool:
    runs = [p for p in served.runs_dir.iterdir() if p.is_dir()] if served.runs_dir.exists() else []
    return any((p / "metrics.jsonl").exists() and (p / "metrics.jsonl").read_text().strip() for p in runs)


def open_page_and_train(served: Served, browser):
    """The page, the app behind it, F5, one trained epoch: (page, app pid)."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(served.url)
    wait_until("app process", lambda: len(served.apps()) == 1, 60)
    (app,) = served.apps()
    page.wait_for_selector("canvas, .xterm", timeout=60_000)
    time.sleep(4)  # the app draws its first screen (its form takes the keys)
    page.mouse.click(700, 450)  # the terminal takes the keys
    page.keyboard.press("F5")
    wait_until("trained epoch", lambda: trained_an_epoch(served), 60)
    return page, app


def assert_stopped_with_checkpoint(run: Path) -> None:
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "stopped" and run_status(run, summary) == "stopped"
    assert (run / "checkpoint.pt").is_file()
    assert lock_holder(run) is None and not (run / ".training.lock").exists()


def assert_exits(pid: int, timeout: float = APP_EXIT_S) -> float:
    start = time.monotonic()
    wait_until(f"exit of the app {pid}", lambda: not alive(pid), timeout)
    return time.monotonic() - start


@pytest.mark.slow
@pytest.mark.parametrize("how", ["close-page", "sigterm-app"])
def test_the_app_ends_with_a_checkpoint_when_its_page_closes_or_on_sigterm(how, browser, tmp_path, shared_data_dir):
    served = Served(tmp_path, shared_data_dir)
    try:
        page, app = open_page_and_train(served, browser)
        if how == "close-page":
            page.close()
        else:
            os.kill(app, signal.SIGTERM)
        took = assert_exits(app)
        print(f"{how}: the app ended {took:.2f}s later")
        hangup = "the page closed" if how == "close-page" else "SIGTERM"
        assert f"hangup: {hangup}" in (tmp_path / "lifecycle.log").read_text()
        assert_stopped_with_checkpoint(the_run(served))
        assert app_processes(served.proc.pid) == [] and served.proc.poll() is None  # the server goes on
        if how == "sigterm-app":
            page.close()
    finally:
        served.end()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stopping_serve_ends_its_apps_after_their_checkpoints(sig, browser, tmp_path, shared_data_dir):
    served = Served(tmp_path, shared_data_dir)
    try:
        page, app = open_page_and_train(served, browser)
        served.proc.send_signal(sig)
        took = assert_exits(app)
        served.proc.wait(timeout=20)
        print(f"{sig.name} to serve: the app ended {took:.2f}s later, serve exited {served.proc.returncode}")
        assert served.proc.returncode == 0
        assert_stopped_with_checkpoint(the_run(served))
        assert session_members(served.proc.pid) == []
        page.close()
    finally:
        served.end()
