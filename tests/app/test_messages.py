"""Engine events become typed messages; a newer progress replaces a queued one."""

from __future__ import annotations

import dataclasses
import inspect
from types import SimpleNamespace

from lstm_tui.app import messages as m
from lstm_tui.app.session import AppSession, LoadedRun
from lstm_tui.core import events as ev


def progress(batch: int) -> ev.BatchProgress:
    return ev.BatchProgress(epoch=1, batch=batch, batches=100, perplexity=20.0, tokens_per_s=1e4, elapsed_s=1.0)


def test_every_engine_event_has_its_own_message_and_handler_name():
    events = {
        cls
        for _, cls in inspect.getmembers(ev, inspect.isclass)
        if issubclass(cls, ev.Event) and cls is not ev.Event and dataclasses.is_dataclass(cls)
    }
    assert events == set(m.MESSAGE_FOR)
    names = {cls.handler_name for cls in m.MESSAGE_FOR.values()}
    assert len(names) == len(events)  # one handler each, named after the message
    message = m.engine_message(ev.CheckpointFailed(epoch=3, reason="disk full", kept_epoch=1), 7)
    assert isinstance(message, m.EngineCheckpointFailed) and message.run_id == 7 and message.event.kept_epoch == 1
    assert message.handler_name == "on_engine_checkpoint_failed"


def test_a_newer_progress_of_the_same_run_replaces_a_queued_one_nothing_else_does():
    old, new = m.engine_message(progress(1), 1), m.engine_message(progress(2), 1)
    assert old.can_replace(new)  # Textual: the queued (older) one is dropped for the newer
    assert not old.can_replace(m.engine_message(progress(2), 2))  # another run's
    epoch = m.engine_message(ev.EpochEnd(1, 4, 20.0, 1e4, 1.0), 1)
    assert not old.can_replace(epoch) and not epoch.can_replace(m.engine_message(ev.EpochEnd(2, 4, 19.0, 1e4, 2.0), 1))
    download = m.engine_message(ev.DownloadProgress(10, 100), 1)
    assert download.can_replace(m.engine_message(ev.DownloadProgress(20, 100), 1)) and not download.can_replace(new)
    load = m.engine_message(ev.LoadProgress("reading", 10, 100), 1)
    assert isinstance(load, m.EngineLoadProgress) and load.handler_name == "on_engine_load_progress"
    assert load.can_replace(m.engine_message(ev.LoadProgress("counting", 20, 100), 1))
    assert not load.can_replace(download) and not load.can_replace(
        m.engine_message(ev.LoadProgress("reading", 20, 100), 2)
    )


def test_the_session_drops_an_older_runs_trainer_and_a_load_replaces_the_run():
    session = AppSession()
    first = session.begin_run(object())  # (any config: the session only keeps it)
    second = session.begin_run(object())
    old, trainer = SimpleNamespace(config="old config"), SimpleNamespace(config="prepared config")
    assert not session.trainer_ready(first, old, "/runs/a", old.config) and session.trainer is None
    assert session.trainer_ready(second, trainer, None, trainer.config) and session.trained_without_folder
    assert session.run_config == "prepared config"  # (the trainer's: paths absolute, changes applied)
    loaded = LoadedRun("model", "vocab", object(), "/runs/b")
    session.load(loaded)
    assert session.trainer is None and session.run_path == "/runs/b" and not session.is_current(second)
    choice = session.model_choice(running=False)
    assert choice is not None and choice.source is loaded and choice.description == "run b"


async def test_load_progress_and_a_knob_change_reach_the_status_line_and_the_log(tiny_config, runs_dir):
    from lstm_tui.app.main import LstmTuiApp
    from lstm_tui.app.state import AppState

    app = LstmTuiApp(tiny_config, runs_dir=runs_dir, detect_devices=False)
    async with app.run_test(size=(100, 30)) as pilot:
        run_id = app.session.run_id
        app.state = AppState.PREPARING  # (progress shows while a run is prepared)
        app.post_message(m.engine_message(ev.LoadProgress("counting", 42_000_000, 100_000_000), run_id))
        await pilot.pause()
        assert "loading corpus: counting 42.0/100.0 MB (42%)" in app.status_bar.text
        app.post_message(m.engine_message(ev.KnobChanged("lr", 0.5, 1.0, 3, 17), run_id))
        await pilot.pause()
        assert "lr 1 -> 0.5 at epoch 3, batch 17" in app.log_view.plain
