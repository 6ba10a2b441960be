"""The short GIL switch interval while runs train: set by the first run in, restored by the last out."""

from __future__ import annotations

import sys

from lstm_tui.app.gil import GIL_SWITCH_INTERVAL_S, short_gil_switches


def test_overlapping_runs_restore_the_default_only_when_the_last_one_ends():
    default = sys.getswitchinterval()
    assert default > GIL_SWITCH_INTERVAL_S
    first, second = short_gil_switches(), short_gil_switches()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first run ends while the second still trains
    assert sys.getswitchinterval() == GIL_SWITCH_INTERVAL_S
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == default


def test_an_error_inside_a_run_still_restores_the_default():
    default = sys.getswitchinterval()
    try:
        with short_gil_switches():
            assert sys.getswitchinterval() == GIL_SWITCH_INTERVAL_S
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert sys.getswitchinterval() == default
