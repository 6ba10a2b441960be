"""RunConfig validation: every bad value names its field and what is allowed; never a traceback."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lstm_tui.core.config import FIELD_NAMES, ConfigError, RunConfig, allowed_text, field_info, parse_field
from lstm_tui.core.presets import BIDIRECTIONAL_NOTE, PRESETS, get_preset


def test_defaults_are_the_books_scratch_experiment():
    c = RunConfig()
    assert (c.cell, c.impl, c.hidden, c.lr, c.clip, c.batch_size, c.num_steps, c.epochs) == (
        "lstm",
        "scratch",
        256,
        1.0,
        1.0,
        32,
        35,
        500,
    )
    assert c.max_tokens == 10_000 and c.sampling == "sequential" and c.val_split == 0.0
    assert c.prefix == ("time traveller",) and c.predict_every == 10


@pytest.mark.parametrize(
    "name, impl, layers, lr, bidirectional",
    [
        ("scratch", "scratch", 1, 1.0, False),
        ("concise", "torch", 1, 1.0, False),
        ("deep", "torch", 2, 2.0, False),
        ("bidirectional", "torch", 2, 1.0, True),
    ],
)
def test_presets_reproduce_the_four_book_experiments(name, impl, layers, lr, bidirectional):
    c = get_preset(name).config
    assert (c.impl, c.layers, c.lr, c.bidirectional) == (impl, layers, lr, bidirectional)
    assert (c.hidden, c.epochs, c.batch_size, c.num_steps, c.clip, c.max_tokens) == (256, 500, 32, 35, 1.0, 10_000)
    assert c.preset == name


def test_only_the_bidirectional_preset_cannot_generate():
    assert [p.name for p in PRESETS.values() if not p.config.can_generate] == ["bidirectional"]
    assert PRESETS["bidirectional"].note == BIDIRECTIONAL_NOTE and "future" in BIDIRECTIONAL_NOTE


def test_unknown_preset_names_the_choices():
    with pytest.raises(ConfigError) as err:
        get_preset("huge")
    assert err.value.field == "preset" and "concise" in str(err.value)


@pytest.mark.parametrize(
    "name, value, fragment",
    [
        ("hidden", "0", "from 1 to 8,192"),
        ("hidden", "abc", "integer"),
        ("lr", "-1", "out of range"),
        ("lr", "nan", "number"),
        ("sampling", "shuffled", "sequential, random"),
        ("layers", "2.5", "integer"),
        ("val_split", "0.9", "0 to 0.5"),
        ("device", "gpu", "cuda:N"),
        ("max_tokens", "-5", "(or 0 or -1)"),
        ("bidirectional", "maybe", "true or false"),
        ("prefix", [], "non-empty"),
    ],
)
def test_bad_values_name_the_field_and_the_allowed_range(name, value, fragment):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_mapping({name: value})
    assert err.value.field == name
    assert str(err.value).startswith(f"{name}: ") and fragment in str(err.value)


def test_strings_from_forms_and_flags_are_converted():
    c = RunConfig.from_mapping(
        {"hidden": " 128 ", "lr": "0.5", "bidirectional": "yes", "impl": "torch", "max_tokens": "-1", "prefix": "the"}
    )
    assert (c.hidden, c.lr, c.bidirectional, c.max_tokens, c.prefix) == (128, 0.5, True, -1, ("the",))
    assert c.whole_corpus


def test_unknown_keys_are_refused_with_the_known_ones_listed():
    with pytest.raises(ConfigError) as err:
        RunConfig.from_mapping({"hiden": 3})
    assert err.value.field == "hiden" and "hidden" in err.value.message


def test_conflicting_options_are_refused():
    with pytest.raises(ConfigError) as err:
        RunConfig.from_mapping({"bidirectional": True, "impl": "scratch"})
    assert err.value.field == "bidirectional"
    with pytest.raises(ConfigError) as err:
        RunConfig.from_mapping({"max_tokens": 10, "val_split": 0.1})
    assert err.value.field == "val_split"


def test_round_trip_through_a_plain_dict():
    c = get_preset("deep").config.replace(prefix=("a", "b"), seed=7)
    assert RunConfig.from_mapping(c.to_dict()) == c


def test_every_field_describes_what_it_allows():
    for name in FIELD_NAMES:
        assert field_info(name)["help"]
        assert allowed_text(name)


_anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.text(max_size=5), max_size=3),
    st.binary(max_size=10),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELD_NAMES + ("bogus",)), _anything, max_size=6))
def test_any_mapping_gives_a_valid_config_or_a_clear_error(values):
    try:
        config = RunConfig.from_mapping(values)
    except ConfigError as err:
        assert err.field in FIELD_NAMES + ("bogus",)
        assert str(err).startswith(err.field + ": ") and len(err.message) > 10
    else:
        assert RunConfig.from_mapping(config.to_dict()) == config


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(FIELD_NAMES), st.text(max_size=40))
@example("epochs", "unknown").via("the old assertion passed on the echoed text alone")
@example("impl", "unknown thing")
def test_any_typed_text_is_parsed_or_refused_clearly(name, text):
    try:
        parse_field(name, text)
    except ConfigError as err:
        # Every name here is a known field, so the refusal names it and says what it accepts
        # (the typed text is echoed in the message: "unknown" in it would prove nothing).
        assert err.field == name and allowed_text(name) in err.message
