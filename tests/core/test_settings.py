"""The settings file: keymap and defaults, errors naming file/line/key, unknown binding ids as warnings,
and the CLI's order: a flag beats the settings file, which beats the built-in default."""

from __future__ import annotations

from pathlib import Path

import pytest

from lstm_tui.cli import build_parser
from lstm_tui.cli.options import apply_settings, build_config, runs_root
from lstm_tui.core.runs import default_runs_dir
from lstm_tui.core.settings import SETTINGS_ENV, SettingsError, load_settings, settings_path

GOOD = """\
[keys]
start = "f5, ctrl+r"
"runs.book" = "b"

[defaults]
device = "cpu"
threads = 3
runs_dir = "~/lstm-runs"
"""


def _write(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "settings.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_file_lives_in_the_config_dir_and_a_missing_one_is_empty(tmp_path, monkeypatch):
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path / "cfg"))
    assert settings_path() == tmp_path / "cfg" / "settings.toml"
    settings = load_settings()
    assert settings.keys == {} and settings.config_defaults() == {} and settings.runs_dir is None
    monkeypatch.delenv(SETTINGS_ENV)
    assert settings_path().name == "settings.toml" and "lstm-tui" in str(settings_path())


def test_keys_and_defaults_are_read(tmp_path, monkeypatch):
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path))
    _write(tmp_path, GOOD)
    settings = load_settings()
    assert settings.keys == {"start": "f5,ctrl+r", "runs.book": "b"}
    assert settings.config_defaults() == {"device": "cpu", "threads": 3}
    assert settings.runs_dir == Path("~/lstm-runs").expanduser()
    assert settings.warnings == ()


def test_an_unknown_binding_id_is_a_warning_not_a_crash(tmp_path):
    path = _write(tmp_path, GOOD + "\n[extra]\nx = 1\n")
    settings = load_settings(path, known_bindings=["start"])
    assert any("'runs.book' is not a binding id" in w for w in settings.warnings)
    assert any("'extra'" in w for w in settings.warnings)
    assert settings.keymap(["start"]) == {"start": "f5,ctrl+r"}
    assert settings.keymap() == settings.keys


@pytest.mark.parametrize(
    "text, line, key, words",
    [
        ('[defaults]\ndevice = "cpu"\nthreads = -2\n', 3, "threads", "0 to 4,096"),
        ('[defaults]\n\ndevice = "gpu"\n', 3, "device", "not a device"),
        ('[defaults]\ncolour = "red"\n', 2, "colour", "known defaults are: device, threads, runs_dir"),
        ("[defaults]\nruns_dir = 3\n", 2, "runs_dir", "folder path"),
        ('[keys]\nstart = "f5,,x"\n', 2, "start", "not a list of keys"),
        ("[keys]\n\n\nquit = 5\n", 4, "quit", "not a list of keys"),
        ("keys = 3\n", 1, "keys", "must be a table"),
        ("[defaults]\nthreads = \n", 2, None, "not valid TOML"),
    ],
)
def test_a_bad_file_names_the_file_line_and_key(tmp_path, text, line, key, words):
    path = _write(tmp_path, text)
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert err.value.line == line and err.value.key == key and words in str(err.value)
    assert str(err.value).startswith(f"{path}: line {line}")


def _ns(*argv: str):
    ns = build_parser().parse_args(["train", *argv])
    apply_settings(ns)
    return ns


def test_cli_order_flag_beats_settings_beats_builtin(tmp_path, monkeypatch):
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path / "cfg"))
    monkeypatch.delenv("LSTM_TUI_RUNS_DIR")
    # built-in defaults: no settings file
    config, ns = build_config(_ns()), _ns()
    assert (config.device, config.threads) == ("auto", 0) and runs_root(ns) == default_runs_dir()
    # the settings file beats the built-in default
    _write(tmp_path / "cfg", f'[defaults]\ndevice = "cpu"\nthreads = 3\nruns_dir = "{tmp_path / "mine"}"\n')
    config, ns = build_config(_ns()), _ns()
    assert (config.device, config.threads) == ("cpu", 3) and runs_root(ns) == tmp_path / "mine"
    # ... also over a preset (presets set neither)
    assert build_config(_ns("--preset", "deep")).threads == 3
    # a flag beats the settings file
    ns = _ns("--device", "cuda:1", "--threads", "1", "--runs-dir", str(tmp_path / "flag"))
    config = build_config(ns)
    assert (config.device, config.threads) == ("cuda:1", 1) and runs_root(ns) == tmp_path / "flag"
    # a --config TOML beats the settings file too; $LSTM_TUI_RUNS_DIR beats its runs_dir
    toml = tmp_path / "run.toml"
    toml.write_text("threads = 2\n")
    assert build_config(_ns("--config", str(toml))).threads == 2
    monkeypatch.setenv("LSTM_TUI_RUNS_DIR", str(tmp_path / "env"))
    assert runs_root(_ns()) == tmp_path / "env"


def test_a_bad_settings_file_exits_2_with_its_line(tmp_path, monkeypatch, capsys):
    from lstm_tui.cli import main

    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path))
    path = _write(tmp_path, '[defaults]\nthreads = "many"\n')
    assert main(["runs"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: line 2: key 'threads'" in err and "an integer from 0 to 4,096" in err


def test_on_hangup_is_read_and_checked(tmp_path):
    path = _write(tmp_path, '[defaults]\non_hangup = "detach"\n')
    assert load_settings(path).on_hangup == "detach"
    path = _write(tmp_path, '[defaults]\n\non_hangup = "exit"\n')
    with pytest.raises(SettingsError) as err:
        load_settings(path)
    assert err.value.key == "on_hangup" and err.value.line == 3
    assert str(err.value).startswith(f"{path}: line 3") and "'stop' or 'detach'" in str(err.value)


@pytest.mark.parametrize("command", [[], ["watch"], ["serve"]])
def test_on_hangup_from_settings_unless_the_flag_says(tmp_path, monkeypatch, command):
    monkeypatch.setenv(SETTINGS_ENV, str(tmp_path / "cfg"))

    def on_hangup(*argv: str) -> str:
        ns = build_parser().parse_args([*command, *argv])
        apply_settings(ns)
        return ns.on_hangup

    assert on_hangup() == "stop"  # no settings file: the built-in default
    _write(tmp_path / "cfg", '[defaults]\non_hangup = "detach"\n')
    assert on_hangup() == "detach"
    assert on_hangup("--on-hangup", "stop") == "stop"  # the flag wins
