"""core/throttle.py: the one throttle of the trainer's progress events."""

from lstm_tui.core.throttle import Throttle


def test_due_at_most_once_an_interval_unless_forced():
    throttle = Throttle(0.25, start=10.0)
    assert not throttle.due(10.125)
    assert throttle.due(10.25) and throttle.last == 10.25
    assert not throttle.due(10.375)
    assert throttle.due(10.375, force=True)  # (the last chunk of a download is always reported)
    assert not throttle.due(10.5) and throttle.due(10.625)
