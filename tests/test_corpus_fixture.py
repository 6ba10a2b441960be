"""The corpus fixtures themselves: a missing book fails in CI and skips elsewhere; the generated
corpus is deterministic, English-like and has every letter the tests' prefixes need."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from small_text import small_corpus_text

CONFTEST = Path(__file__).with_name("conftest.py")
USES_THE_BOOK = """
def test_uses_the_book(shared_data_dir):
    assert shared_data_dir.is_dir()
"""
LOADS_THE_PROJECT_CONFTEST = f"""
import importlib.util
spec = importlib.util.spec_from_file_location("project_conftest", {str(CONFTEST)!r})
project = importlib.util.module_from_spec(spec)
spec.loader.exec_module(project)
shared_data_dir = project.shared_data_dir
"""


def run_pytest_without_corpus(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    """Run pytest on a one-test file that needs the book, LSTM_TUI_TEST_DATA an empty folder."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "conftest.py").write_text(LOADS_THE_PROJECT_CONFTEST)
    (tmp_path / "test_book.py").write_text(USES_THE_BOOK)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env["LSTM_TUI_TEST_DATA"] = str(tmp_path / "empty")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CONFTEST.parent), env.get("PYTHONPATH")]))  # (its imports)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "test_book.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_missing_corpus_fails_in_ci_naming_the_path_and_the_variable(tmp_path):
    result = run_pytest_without_corpus(tmp_path, ci="1")
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "1 error" in out and "1 skipped" not in out
    assert str(tmp_path / "empty" / "timemachine.txt") in out and "LSTM_TUI_TEST_DATA" in out


@pytest.mark.parametrize("ci", [None, "0", "false"])
def test_a_missing_corpus_skips_outside_ci_with_the_reason(tmp_path, ci):
    result = run_pytest_without_corpus(tmp_path, ci=ci)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "1 skipped" in out and "1 error" not in out
    assert str(tmp_path / "empty" / "timemachine.txt") in out and "LSTM_TUI_TEST_DATA" in out


def test_the_small_corpus_is_generated_the_same_every_time_and_is_not_the_book(small_corpus):
    text = small_corpus.read_text(encoding="utf-8")
    assert text == small_corpus_text() and 30_000 < len(text) < 60_000
    assert max(map(len, text.splitlines())) <= 70
    assert set("abcdefghijklmnopqrstuvwxyz ") <= set(text.lower())
    for prefix in ("time traveller", "the time", "zebra"):
        assert all(word in text.lower().split() for word in prefix.split())
