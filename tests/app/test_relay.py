"""The relay that carries engine events from the training thread to the UI in batches."""

from __future__ import annotations

from lstm_tui.app.relay import POST_INTERVAL_S, EventRelay
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


def test_a_newer_progress_replaces_a_queued_one_so_a_download_posts_one_per_batch():
    clock, posted = Clock(), []
    relay = EventRelay(posted.append, clock)
    relay(progress(1))  # the first event goes at once
    for batch in range(2, 200):  # a download reporting every chunk, faster than the posts
        clock.now += POST_INTERVAL_S / 1000
        relay(progress(batch))
    assert [e.batch for e in posted] == [1]
    relay(epoch(1))  # an epoch is never replaced by progress, nor progress by an epoch
    relay(progress(200))
    relay.flush()
    assert [getattr(e, "batch", "epoch") for e in posted] == [1, 199, "epoch", 200]


def test_flush_posts_what_is_left_when_the_worker_ends():
    clock, posted = Clock(), []
    relay = EventRelay(posted.append, clock)
    relay(epoch(1))
    relay(epoch(2))
    assert len(posted) == 1
    relay.flush()
    assert [e.epoch for e in posted] == [1, 2]
