"""core/sweep without processes: grids and zips, placement, the book sweep, the record, run states, sorting."""

from __future__ import annotations

import json

import pytest

from lstm_tui.core.config import ConfigError, RunConfig
from lstm_tui.core.presets import PRESETS
from lstm_tui.core.runs import RunDir, Summary
from lstm_tui.core.runs.files import SWEEPS_DIR
from lstm_tui.core.sweep import (
    RunState,
    SweepResult,
    book_sweep,
    default_threads,
    grid,
    list_records,
    load_record,
    new_record,
    parse_values,
    place,
    run_state,
    sort_results,
    zipped,
)
from lstm_tui.core.sweep.record import find_run_folder, write_tag
from lstm_tui.core.sweep.results import results_markdown


def test_grid_crosses_the_lists_last_field_fastest_and_zip_pairs_them():
    spec = grid(RunConfig(), {"lr": "0.5,1,2", "hidden": [128, 256]})
    assert spec.varying == ("lr", "hidden")
    assert [(p.config.lr, p.config.hidden) for p in spec.points] == [
        (0.5, 128),
        (0.5, 256),
        (1.0, 128),
        (1.0, 256),
        (2.0, 128),
        (2.0, 256),
    ]
    assert [dict(p.values) for p in spec.points][1] == {"lr": 0.5, "hidden": 256}
    spec = zipped(RunConfig(), {"lr": "0.5,1", "hidden": "128,256"})
    assert [(p.config.lr, p.config.hidden) for p in spec.points] == [(0.5, 128), (1.0, 256)]
    with pytest.raises(ConfigError) as err:
        zipped(RunConfig(), {"lr": "0.5,1", "hidden": "128,256,512"})
    assert err.value.field == "hidden" and "equal length" in err.value.message


@pytest.mark.parametrize(
    "name, text, words",
    [
        ("lr", "1,0", "1e-08 to 1,000"),
        ("hidden", "16,x", "an integer"),
        ("cell", "lstm,tree", "one of lstm"),
        ("sampling", "random,", "empty value"),
        ("prefix", "a,b", "cannot be swept"),
        ("widgets", "1,2", "unknown"),
    ],
)
def test_a_bad_value_names_the_field_and_what_it_takes(name, text, words):
    with pytest.raises(ConfigError) as err:
        parse_values(name, text)
    assert err.value.field == name and words in err.value.message


def test_cross_field_rules_are_checked_for_every_point_before_anything_runs():
    with pytest.raises(ConfigError) as err:
        grid(RunConfig(max_tokens=10), {"val_split": "0.1,0.5"})
    assert err.value.field == "val_split"


def test_place_round_robins_devices_and_shares_the_cores():
    spec = grid(RunConfig(), {"lr": "1,2,3"})
    placed = place(spec, devices=["cpu", "cuda:0"], parallel=2, cores=8)
    assert [(p.config.device, p.config.threads) for p in placed.points] == [("cpu", 4), ("cuda:0", 4), ("cpu", 4)]
    assert default_threads(3, cores=2) == 1 and default_threads(1, cores=6) == 6
    kept = place(grid(RunConfig(threads=3), {"lr": "1,2"}), parallel=2, cores=8)
    assert [p.config.threads for p in kept.points] == [3, 3]  # a given thread count stays
    swept = place(grid(RunConfig(), {"device": "cpu,cuda:1"}), devices=["cuda:0"], cores=2)
    assert [p.config.device for p in swept.points] == ["cpu", "cuda:1"]  # a swept device wins
    with pytest.raises(ConfigError) as err:
        place(spec, devices=["gpu"], cores=2)
    assert err.value.field == "device"


def test_book_sweep_is_the_four_presets_on_shared_data_and_seed():
    spec = book_sweep({"seed": 7, "data_dir": "/data", "device": "cpu", "preset": "deep"})
    assert spec.varying == ("preset",)
    assert [p.values["preset"] for p in spec.points] == ["scratch", "concise", "deep", "bidirectional"]
    for point in spec.points:
        want = PRESETS[point.values["preset"]].config
        assert (point.config.seed, point.config.data_dir, point.config.device) == (7, "/data", "cpu")
        assert (point.config.impl, point.config.layers, point.config.lr, point.config.bidirectional) == (
            want.impl,
            want.layers,
            want.lr,
            want.bidirectional,
        )
    with pytest.raises(ConfigError):
        book_sweep({"seed": -1})


def test_the_record_round_trips_and_a_used_name_is_refused(tmp_path):
    spec = grid(RunConfig(hidden=16), {"lr": "1,2"})
    record = new_record(tmp_path, "s1", spec, parallel=2)
    assert (tmp_path / SWEEPS_DIR / "s1.json").is_file()
    again = load_record(tmp_path, "s1")
    assert [(r.name, r.values, r.config) for r in again.runs] == [(r.name, r.values, r.config) for r in record.runs]
    assert again.varying == ("lr",) and again.parallel == 2
    assert [r.name for r in list_records(tmp_path)] == ["s1"]
    with pytest.raises(Exception, match="exists already"):
        new_record(tmp_path, "s1", spec, parallel=1)
    with pytest.raises(Exception, match="no sweep named 'nope'.*s1"):
        load_record(tmp_path, "nope")


def test_run_states_decide_what_resume_does(tmp_path):
    record = new_record(tmp_path, "st", grid(RunConfig(hidden=16), {"lr": "1,2,3,4"}), parallel=1)
    runs = record.runs
    assert run_state(tmp_path, runs[0]) is RunState.FRESH  # never started
    folders = [RunDir.create(tmp_path, run.config, name=run.name) for run in runs]
    for run, folder in zip(runs, folders):
        assert find_run_folder(tmp_path, run, set()) == folder.path
        run.folder = folder.name
        write_tag(folder.path, record, run)
    folders[0].write_summary(Summary(status="finished", epoch=500))
    folders[1].write_summary(Summary(status="stopped", epoch=3))
    folders[1].checkpoint_path.write_bytes(b"x")
    folders[2].write_summary(Summary(status="failed", epoch=0, reason="corpus missing"))  # before any epoch
    folders[3].write_summary(Summary(status="failed", epoch=2, reason="loss became nan at epoch 2"))
    folders[3].append_metric({"epoch": 1, "perplexity": 20.0})
    states = [run_state(tmp_path, run) for run in runs]
    assert states == [RunState.FINISHED, RunState.RESUMABLE, RunState.FRESH, RunState.FINISHED]
    assert json.loads((folders[1].path / "sweep.json").read_text())["sweep"] == "st"


def _result(name, val=None, train=None, status="finished"):
    return SweepResult(name=name, values={"lr": name}, status=status, val_ppl=val, train_ppl=train)


def test_results_sort_by_val_ppl_else_train_ppl_with_failures_last():
    rows = [_result("a", 5.0, 1.0), _result("b", None, None, "failed"), _result("c", 3.0, 9.0), _result("d", 4.0, 2.0)]
    assert [r.name for r in sort_results(rows)] == ["c", "d", "a", "b"]
    rows = [_result("a", None, 5.0), _result("b", None, 2.0), _result("c", None, None, "not started")]
    assert [r.name for r in sort_results(rows)] == ["b", "a", "c"]


def test_the_markdown_table_has_the_varying_fields_as_columns(tmp_path):
    record = new_record(tmp_path, "md", grid(RunConfig(hidden=16), {"lr": "1,2"}), parallel=1)
    text = results_markdown(record, [_result("x", 3.5, 3.6), _result("y", 2.0, 2.1)])
    lines = text.splitlines()
    assert lines[2] == "| run | lr | val ppl | train ppl | bpc | tok/s | epochs | status |"
    assert lines[4].startswith("| y | y | 2.000 | 2.100 |") and lines[5].startswith("| x | x | 3.500")


def test_a_run_whose_process_makes_no_folder_is_reported_not_started(tmp_path):
    from lstm_tui.core.sweep import SweepRunner

    record = new_record(tmp_path, "broken", grid(RunConfig(hidden=16), {"lr": "1,2"}), parallel=2)
    notes = []
    outcome = SweepRunner(record, tmp_path, python="/bin/false", on_note=notes.append).run()
    assert [r.name for r in outcome.not_started] == [r.name for r in record.runs]
    assert set(outcome.returncodes.values()) == {1}
    assert [n.kind for n in notes].count("started") == 2 and [n.kind for n in notes].count("ended") == 2
    assert all(run_state(tmp_path, run) is RunState.FRESH for run in record.runs)  # --resume starts them


def test_runs_group_by_their_sweep_tag_and_curves_come_from_the_started_runs(tmp_path):
    from lstm_tui.core.sweep import group_by_sweep, sweep_curves, sweep_folders

    record = new_record(tmp_path, "g", grid(RunConfig(hidden=16), {"lr": "1,2,3"}), parallel=1)
    made = []
    for run in record.runs[:2]:
        folder = RunDir.create(tmp_path, run.config, name=run.name)
        run.folder = folder.name
        write_tag(folder.path, record, run)
        folder.append_metric({"epoch": 1, "perplexity": 9.0 + run.index, "val_perplexity": None})
        made.append(folder.path)
    loose = RunDir.create(tmp_path, RunConfig(), name="alone").path
    assert sweep_folders(tmp_path, record) == made  # the third has not started
    assert [c.ys for c in sweep_curves(tmp_path, record)] == [[9.0], [10.0]]
    assert group_by_sweep([made[0], loose, made[1]]) == {"g": made, None: [loose]}


def test_a_run_that_cannot_be_launched_does_not_stop_the_others(tmp_path):
    from lstm_tui.core.sweep import SweepRunner

    record = new_record(tmp_path, "nolaunch", grid(RunConfig(hidden=16), {"lr": "1,2"}), parallel=1)
    outcome = SweepRunner(record, tmp_path, python=str(tmp_path / "no-such-python")).run()
    assert [r.name for r in outcome.not_started] == [r.name for r in record.runs]


def test_names_are_unique_and_fit_the_run_folder_limit(tmp_path):
    from lstm_tui.core.sweep.record import default_sweep_name, run_name

    long_values = {"learning_rate_thing": 0.123456789, "hidden": 4096, "num_steps": 10000}
    names = {run_name("s" * 40, i, long_values) for i in range(12)}
    assert len(names) == 12 and all(len(n) <= 60 and "-" in n for n in names)
    assert run_name("s" * 40, 11, long_values).startswith("s" * 40 + "-12")
    spec = grid(RunConfig(hidden=16), {"lr": "1"})
    first = default_sweep_name(spec, tmp_path)
    new_record(tmp_path, first, spec, parallel=1)
    assert default_sweep_name(spec, tmp_path) == first + "-2"
    with pytest.raises(Exception, match="at most 40"):
        new_record(tmp_path, "x" * 41, spec, parallel=1)
    with pytest.raises(Exception, match="only letters"):
        new_record(tmp_path, "my sweep", spec, parallel=1)


def test_a_run_started_anew_never_takes_its_old_folder(tmp_path):
    from lstm_tui.core.sweep import SweepRunner

    record = new_record(tmp_path, "again", grid(RunConfig(hidden=16), {"lr": "1"}), parallel=1)
    (run,) = record.runs
    old = RunDir.create(tmp_path, run.config, name=run.name)  # ended before its first checkpoint
    run.folder = old.name
    write_tag(old.path, record, run)
    assert run_state(tmp_path, run) is RunState.FRESH
    outcome = SweepRunner(record, tmp_path, python="/bin/false").run()  # its new process makes nothing
    assert outcome.not_started == [run] and run.folder is None
    assert not (old.path / "sweep.json").exists() and (old.path / "config.toml").is_file()


def test_results_numbers_stay_short_for_an_exploded_run():
    from lstm_tui.core.sweep.results import _number

    assert [_number(v) for v in (None, 9.7049, 1234.56, 7.2532924803e30)] == ["-", "9.705", "1,234.6", "7.25e+30"]
