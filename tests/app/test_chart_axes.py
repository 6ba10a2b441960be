"""The perplexity chart's own axes (plotext 5's log scale crashes on rebuild, so we draw it)."""

from __future__ import annotations

from lstm_tui.app.widgets.perplexity_chart import MAX_POINTS, epoch_ticks, log_ticks, thin, tick_label


def test_epoch_ticks_are_whole_numbers_at_a_readable_step():
    assert epoch_ticks(0, 1) == [0, 1]
    assert epoch_ticks(0, 23) == [0, 5, 10, 15, 20]
    assert epoch_ticks(0, 123) == [0, 50, 100]
    assert epoch_ticks(0, 500) == [0, 100, 200, 300, 400, 500]
    for hi in (2, 7, 60, 999, 12345):
        ticks = epoch_ticks(0, hi)
        assert 2 <= len(ticks) <= 6 and all(isinstance(t, int) for t in ticks) and ticks[-1] <= hi


def test_log_ticks_cover_the_range_with_labels_people_read():
    ticks = log_ticks(1.04, 27.0)
    assert ticks == [2.0, 5.0, 10.0, 20.0]  # 1-2-5 steps inside the range
    assert [tick_label(t) for t in ticks] == ["2", "5", "10", "20"]
    assert all(1.04 <= t <= 1.3 for t in log_ticks(1.04, 1.3))
    assert all(3.3 <= t <= 270.0 for t in log_ticks(3.3, 270.0))


def test_thinning_keeps_the_history_bounded_and_the_newest_point():
    points = [(float(i), 10.0 / (i + 1)) for i in range(MAX_POINTS + 1)]
    thinned = thin(points)
    assert len(thinned) <= MAX_POINTS // 2 + 2 and thinned[-1] == points[-1] and thinned[0] == points[0]
