"""Atomic writes give the file the permissions a plain write would."""

from __future__ import annotations

import os
import stat

import pytest

from lstm_tui.core import atomic
from lstm_tui.core.atomic import atomic_write_text

pytestmark = pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX permissions")


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_file_gets_the_umask_mode_not_the_temp_files_0600(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_UMASK", 0o022)
    path = atomic_write_text(tmp_path / "config.toml", "a = 1\n")
    assert _mode(path) == 0o644
    monkeypatch.setattr(atomic, "_UMASK", 0o077)
    assert _mode(atomic_write_text(tmp_path / "private.toml", "b = 2\n")) == 0o600


def test_a_replaced_file_keeps_its_mode(tmp_path):
    path = tmp_path / "summary.json"
    path.write_text("{}")
    path.chmod(0o640)
    atomic_write_text(path, '{"status": "finished"}')
    assert _mode(path) == 0o640 and path.read_text() == '{"status": "finished"}'


def test_the_umask_is_read_without_changing_it():
    before = os.umask(0o027)
    try:
        assert atomic._read_umask() == 0o027
        assert os.umask(0o027) == 0o027  # still what it was
    finally:
        os.umask(before)
