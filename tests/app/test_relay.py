"""The relay that carries engine events from the training thread to the UI in batches."""

from __future__ import annotations

from lstm_tui.app.relay import POST_INTERVAL_S, PROGRESS_INTERVAL_S, EventRelay
from lstm_tui.core import events as ev


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def epoch(n: int) -> ev.EpochEnd:
    return ev.EpochEnd(epoch=n, epochs=100, perplexity=10.0, tokens_per_s=1.0, elapsed_s=float(n))


def progress(batch: int) -> ev.BatchProgress:
    return ev.BatchProgress(epoch=1, batch=batch, batches=9, perplexity=9.0, tokens_per_s=1.0, elapsed_s=0.0)


def test_epochs_wait_for_the_next_batch_of_events_and_none_is_lost():
    clock, posted = Clock(), []
    relay = EventRelay(posted.append, clock)
    relay(epoch(1))  # the first event goes at once
    for n in range(2, 6):
        clock.now += POST_INTERVAL_S / 10
        relay(epoch(n))
    assert [e.epoch for e in posted] == [1]  # held: fast epochs would wake the UI ten times a second
    clock.now += POST_INTERVAL_S
    relay(epoch(6))
    assert [e.epoch for e in posted] == [1, 2, 3, 4, 5, 6]  # all of them, in order


def test_a_status_goes_at_once_and_takes_the_queue_with_it():
    clock, posted = Clock(), []
    relay = EventRelay(posted.append, clock)
    relay(epoch(1))
    clock.now += 0.01
    relay(epoch(2))
    relay(ev.Status("paused at epoch 2, batch 0"))
    assert [type(e).__name__ for e in posted] == ["EpochEnd", "EpochEnd", "Status"]


def test_progress_is_thinned_and_a_newer_one_replaces_a_queued_one():
    clock, posted = Clock(), []
    relay = EventRelay(posted.append, clock)
    relay(progress(1))
    relay(progress(2))  # within PROGRESS_INTERVAL_S: dropped
    clock.now += PROGRESS_INTERVAL_S
    relay(progress(3))  # queued (the last post was < POST_INTERVAL_S ago)
    clock.now += PROGRESS_INTERVAL_S
    relay(progress(4))  # replaces 3 in the queue
    relay.flush()
    assert [e.batch for e in posted] == [1, 4]


def test_flush_posts_what_is_left_when_the_worker_ends():
    clock, posted = Clock(), []
    relay = EventRelay(posted.append, clock)
    relay(epoch(1))
    relay(epoch(2))
    assert len(posted) == 1
    relay.flush()
    assert [e.epoch for e in posted] == [1, 2]
