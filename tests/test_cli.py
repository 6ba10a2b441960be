"""The command line without training: flags generated from the config table, TOML, errors, speed."""

from __future__ import annotations

import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from lstm_tui.cli import build_parser, main
from lstm_tui.cli.options import FLAG_FIELDS, build_config, flag_name
from lstm_tui.core.config import FIELD_NAMES, PATH_FIELDS, RunConfig, field_info
from lstm_tui.core.presets import PRESETS


def _config(*argv: str) -> RunConfig:
    return build_config(build_parser().parse_args(["train", *argv]))


def _other_value(name: str) -> tuple[list[str], object]:
    """Flag arguments that set ``name`` to a valid non-default value, and that value."""
    info = field_info(name)
    default = info["default"]
    flag = flag_name(name)
    if info["type"] is bool:
        return ([flag] if not default else ["--no-" + flag[2:]]), not default
    if info["choices"]:
        value = next(c for c in info["choices"] if c != default)
        return [flag, value], value
    if info["kind"] == "strings":
        return [flag, "abc", flag, "de f"], ("abc", "de f")
    if info["kind"] == "device":
        return [flag, "cpu"], "cpu"
    if info["kind"] == "encoding":
        return [flag, "latin-1"], "latin-1"
    if name in PATH_FIELDS:  # as given: the core's prepare_run stores it absolute (see test_cli_train)
        return [flag, "some/where"], "some/where"
    if info["type"] is str:
        return [flag, "some/where"], "some/where"
    value = info["hi"] if info["type"] is int else info["hi"] / 2
    if name == "max_tokens":
        value = -1
    return [flag, str(value)], value


calls_options: dict[int, list[dict]] = {}  # fake_app's keyword options (on_hangup, follow) per test


@pytest.fixture
def fake_app(monkeypatch):
    """Stands in for lstm_tui.app so the no-subcommand path can be checked without Textual."""
    calls = []
    module = types.ModuleType("lstm_tui.app")

    def run_app(config, autostart=False, runs_dir=None, **more):
        calls.append((config, autostart, runs_dir))
        options.append(more)
        return 0

    options: list[dict] = []
    calls_options[id(calls)] = options

    module.run_app = run_app
    monkeypatch.setitem(sys.modules, "lstm_tui.app", module)
    return calls


# ----------------------------------------------------------------------------- flags
def test_one_flag_per_config_field_and_nothing_hand_written():
    assert set(FLAG_FIELDS) == set(FIELD_NAMES) - {"preset"}
    text = build_parser().format_help()
    for name in FLAG_FIELDS:
        assert flag_name(name) in text


COMPANIONS = {
    "bidirectional": ["--impl", "torch"],
    "warmup_epochs": ["--epochs", "1000000"],
    "early_stop_patience": ["--val-split", "0.1"],
    "tie_weights": ["--embedding", "learned", "--embed-dim", "256", "--hidden", "256"],
}


@pytest.mark.parametrize("name", FLAG_FIELDS)
def test_every_config_flag_is_accepted(name):
    args, value = _other_value(name)
    args += COMPANIONS.get(name, [])  # what the field's cross-field rules ask for
    config = _config(*args)
    assert getattr(config, name) == value


def test_flag_absent_means_preset_value():
    assert _config() == PRESETS["scratch"].config
    assert _config("--preset", "deep") == PRESETS["deep"].config


def test_bool_flags_both_ways():
    assert _config("--no-fused").fused is False
    assert _config("--amp").amp is True
    assert _config("--preset", "bidirectional", "--no-bidirectional").bidirectional is False


def test_prefix_is_repeatable_and_replaces_the_default():
    assert _config().prefix == ("time traveller",)
    assert _config("--prefix", "the").prefix == ("the",)
    assert _config("--prefix", "a", "--prefix", "b").prefix == ("a", "b")


def test_number_flags_accept_strings_like_the_form():
    config = _config("--max-tokens", "1_000", "--lr", "0.5", "--val-split", "0.1")
    assert (config.max_tokens, config.lr, config.val_split) == (1000, 0.5, 0.1)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--hidden", "0"], ["hidden", "1 to 8,192"]),
        (["--lr", "abc"], ["lr", "'abc'", "a number"]),
        (["--sampling", "foo"], ["sampling", "sequential, random"]),
        (["--epochs", "2.5"], ["epochs", "an integer"]),
        (["--device", "gpu"], ["device", "cuda:N"]),
        (["--max-tokens", "-5"], ["max_tokens", "or 0 or -1"]),
        (["--val-split", "0.9"], ["val_split", "0 to 0.5"]),
        (["--prefix", ""], ["prefix"]),
        (["--preset", "nope"], ["--preset", "scratch"]),
        (["--impl", "scratch", "--bidirectional"], ["bidirectional", "impl=torch"]),
    ],
)
def test_bad_flag_values_exit_2_naming_field_and_range(capsys, argv, words):
    assert main(["train", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    for word in words:
        assert word in captured.err
    assert "Traceback" not in captured.err


def test_unknown_flag_and_missing_subcommand_argument_exit_2(capsys):
    assert main(["train", "--bogus"]) == 2
    assert "--bogus" in capsys.readouterr().err
    assert main(["generate"]) == 2
    assert "--checkpoint" in capsys.readouterr().err
    assert main(["nonsense"]) == 2


def test_help_and_version_return_0(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for word in ("train", "generate", "runs", "--preset", "--config", "--autostart"):
        assert word in out
    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    for word in ("--json", "--save", "--resume", "--every", "--no-run-dir", "(default: 256)", "1 to 8,192"):
        assert word in out
    assert main(["--version"]) == 0
    assert "lstm-tui" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--seed", "99999999999999999999999"], ["--seed", "0 to 4,294,967,295"]),
        (["--seed", "-1"], ["--seed", "0 to 4,294,967,295"]),
        (["-t", "inf"], ["--temperature", "finite"]),
        (["-t", "nan"], ["--temperature", "finite"]),
        (["-n", "100000000"], ["--length", "1 to 100,000"]),
        (["-n", "0"], ["--length", "1 to 100,000"]),
    ],
)
def test_generate_flags_out_of_range_exit_2_naming_the_flag(tmp_path, capsys, argv, words):
    assert main(["generate", "--checkpoint", str(tmp_path / "model.pt"), *argv]) == 2
    err = capsys.readouterr().err
    assert all(word in err for word in words) and "prefix" not in err and "Traceback" not in err


def test_generate_limits_match_the_generator_and_the_config(capsys):
    from lstm_tui.core.generate import MAX_LENGTH

    ns = build_parser().parse_args(["generate", "-c", "x", "-n", str(MAX_LENGTH), "--seed", str(2**32 - 1)])
    assert (ns.length, ns.seed) == (MAX_LENGTH, 2**32 - 1)
    assert field_info("seed")["hi"] == 2**32 - 1
    assert main(["generate", "--help"]) == 0
    assert "tokens to generate, 1 to 100,000" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("before", [True, False])
def test_runs_dir_works_before_and_after_the_subcommand(tmp_path, capsys, before):
    runs_dir = str(tmp_path / "elsewhere")

    def argv(command: str, *rest: str) -> list[str]:
        return ["--runs-dir", runs_dir, command, *rest] if before else [command, *rest, "--runs-dir", runs_dir]

    assert main(argv("runs")) == 0
    assert f"no runs in {runs_dir}" in capsys.readouterr().out
    assert main(argv("train", "--resume", "nope")) == 2
    assert f"no run named 'nope' in {runs_dir}" in capsys.readouterr().err
    assert main(argv("generate", "-c", "nope")) == 2
    assert f"runs are looked up in {runs_dir}" in capsys.readouterr().err


def test_a_runs_dir_after_the_subcommand_wins():
    ns = build_parser().parse_args(["--runs-dir", "first", "runs", "--runs-dir", "second"])
    assert ns.runs_dir == "second"
    assert build_parser().parse_args(["runs"]).runs_dir is None


def test_relative_corpus_and_data_dir_become_absolute_in_the_core_urls_and_empty_stay(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config("--corpus", "books/a.txt", "--data-dir", "~/cache")
    assert config.corpus == "books/a.txt"  # the CLI passes it on; the core's prepare_run makes it absolute
    config = config.with_absolute_paths()  # (what prepare_run applies, once)
    assert config.corpus == str(tmp_path / "books" / "a.txt")
    assert config.data_dir == str(Path("~/cache").expanduser().resolve())
    url = "https://example.org/book.txt"
    assert _config("--corpus", url).with_absolute_paths().corpus == url
    assert _config("--corpus", "").with_absolute_paths().corpus == "" and _config().data_dir == ""


# ----------------------------------------------------------------------------- TOML
def test_toml_precedence_preset_then_toml_then_flags(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('preset = "concise"\nhidden = 64\nlr = 0.5\nprefix = ["a", "b"]\n')
    config = _config("--config", str(toml))
    assert (config.preset, config.impl, config.hidden, config.lr, config.prefix) == (
        "concise",
        "torch",
        64,
        0.5,
        ("a", "b"),
    )
    config = _config("--config", str(toml), "--lr", "0.25")
    assert (config.impl, config.hidden, config.lr) == ("torch", 64, 0.25)
    config = _config("--config", str(toml), "--preset", "deep")  # the flag picks the preset
    assert (config.preset, config.layers, config.lr, config.hidden) == ("deep", 2, 0.5, 64)
    toml.write_text("hidden = 48\n")  # no preset key: scratch
    config = _config("--config", str(toml))
    assert (config.preset, config.impl, config.hidden) == ("scratch", "scratch", 48)


def test_a_runs_config_toml_can_be_reused(tmp_path):
    import tomli_w

    toml = tmp_path / "config.toml"
    toml.write_text(tomli_w.dumps(RunConfig(hidden=99).to_dict()))  # preset label "custom"
    assert _config("--config", str(toml)) == RunConfig(hidden=99)


def test_app_mode_passes_on_hangup(tmp_path, fake_app):
    assert main(["--runs-dir", str(tmp_path)]) == 0
    assert main(["--on-hangup", "detach", "--runs-dir", str(tmp_path)]) == 0
    assert [more["on_hangup"] for more in calls_options[id(fake_app)]] == ["stop", "detach"]


def test_app_mode_gets_the_merged_config(tmp_path, fake_app):
    toml = tmp_path / "run.toml"
    toml.write_text('preset = "deep"\nepochs = 7\n')
    assert main(["--config", str(toml), "--hidden", "16", "--autostart", "--runs-dir", str(tmp_path)]) == 0
    ((config, autostart, runs_dir),) = fake_app
    assert (config.preset, config.layers, config.epochs, config.hidden) == ("deep", 2, 7, 16)
    assert autostart is True and runs_dir == str(tmp_path)


@pytest.mark.parametrize(
    "text, words",
    [
        ("hidden = \n", ["not valid TOML", "line 1"]),
        ("hiden = 3\n", ["unknown key 'hiden'", "hidden"]),
        ("batch-size = 3\n", ["unknown key 'batch-size'", "did you mean 'batch_size'"]),
        ("hidden = 0\n", ["key 'hidden'", "1 to 8,192"]),
        ('cell = "lstmm"\n', ["key 'cell'", "lstm, gru, rnn"]),
        ('preset = "concsie"\n', ["key 'preset'", "concise"]),
        ('impl = "scratch"\nbidirectional = true\n', ["bidirectional", "impl=torch"]),
    ],
)
def test_toml_errors_exit_2_naming_file_and_key(tmp_path, capsys, fake_app, text, words):
    toml = tmp_path / "bad.toml"
    toml.write_text(text)
    assert main(["train", "--config", str(toml)]) == 2
    assert main(["--config", str(toml)]) == 2
    assert not fake_app
    err = capsys.readouterr().err
    if "bidirectional" not in text:
        assert str(toml) in err
    for word in words:
        assert word in err
    assert "Traceback" not in err


def test_missing_toml_exits_2(tmp_path, capsys):
    assert main(["train", "--config", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml" in capsys.readouterr().err


# ----------------------------------------------------------------------------- errors
def test_unexpected_errors_are_one_line_unless_debugging(monkeypatch, capsys, fake_app):
    def boom(config, autostart=False, runs_dir=None, **more):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(sys.modules["lstm_tui.app"], "run_app", boom)
    monkeypatch.delenv("LSTM_TUI_DEBUG", raising=False)
    assert main([]) == 1
    err = capsys.readouterr().err
    assert "kaboom" in err and "LSTM_TUI_DEBUG=1" in err and "Traceback" not in err
    monkeypatch.setenv("LSTM_TUI_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main([])


def test_runs_lists_nothing_in_an_empty_dir(tmp_path, capsys):
    assert main(["runs", "--runs-dir", str(tmp_path / "none")]) == 0
    assert "no runs" in capsys.readouterr().out


def test_generate_missing_checkpoint_exits_2(tmp_path, capsys):
    assert main(["generate", "--checkpoint", str(tmp_path / "missing.pt"), "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "checkpoint" in err and "missing.pt" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- subprocesses
def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys, time; t = time.perf_counter(); import lstm_tui.cli; "
        "heavy = [m for m in ('torch', 'textual', 'numpy', 'lstm_tui.app', 'lstm_tui.core.engine') if m in sys.modules]; "
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "lstm_tui", "--help"], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0 and "--hidden" in done.stdout and "train" in done.stdout
    assert elapsed < 1.5, f"--help took {elapsed:.2f}s"


def test_bad_flag_in_a_subprocess_exits_2_without_traceback():
    done = subprocess.run([sys.executable, "-m", "lstm_tui", "train", "--hidden", "0"], capture_output=True, text=True)
    assert done.returncode == 2
    assert "hidden" in done.stderr and "Traceback" not in done.stderr and done.stdout == ""


def test_flags_before_the_subcommand_count_too():
    ns = build_parser().parse_args(["--hidden", "32", "--preset", "concise", "train", "--lr", "0.5"])
    config = build_config(ns)
    assert (config.hidden, config.impl, config.lr) == (32, "torch", 0.5)


# ----------------------------------------------------------------------------- the printer (no training)
def _printed(every: int, config: RunConfig) -> list[str]:
    import io

    from lstm_tui.cli.train import Printer
    from lstm_tui.core.events import EpochEnd, Finished, Sample, Started

    out = io.StringIO()
    printer = Printer(config, json_mode=False, every=every, quiet=False, out=out, err=io.StringIO())
    printer(Started("cpu", 10, 28, 1000, 5, 1, config.epochs))
    for epoch in range(1, config.epochs + 1):
        printer(EpochEnd(epoch, config.epochs, 10.0 / epoch, 1234.5, epoch * 0.5, None))
        if config.predict_every and epoch % config.predict_every == 0 and epoch < config.epochs:
            printer(Sample(epoch, "time traveller", f"time traveller sample {epoch}"))
    printer(Sample(config.epochs, "time traveller", "time traveller final", final=True))
    printer(Sample(config.epochs, "traveller", "traveller final", final=True))
    result = Finished(config.epochs, 1.25, 92314.2, 9.0, "cpu")
    printer(result)
    printer.print_summary(result)
    return out.getvalue().splitlines()


def test_epoch_lines_first_every_nth_and_last_then_summary():
    lines = _printed(4, RunConfig(epochs=10, predict_every=4))
    assert lines[0].startswith("training on cpu: 10 parameters")
    assert lines[1:] == [
        "epoch   1/10  perplexity 10.00  tokens/s 1,234  elapsed 0.5s",
        "epoch   4/10  perplexity 2.50  tokens/s 1,234  elapsed 2.0s",
        "  time traveller sample 4",
        "epoch   8/10  perplexity 1.25  tokens/s 1,234  elapsed 4.0s",
        "  time traveller sample 8",
        "epoch  10/10  perplexity 1.00  tokens/s 1,234  elapsed 5.0s",
        "perplexity 1.2, 92314.2 tokens/sec on cpu",
        "time traveller final",
        "traveller final",
    ]
    assert len(_printed(1, RunConfig(epochs=10, predict_every=4))) == 1 + 10 + 2 + 3
