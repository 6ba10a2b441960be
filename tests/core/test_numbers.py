from lstm_tui.core.numbers import format_perplexity


def test_perplexities_read_as_two_decimals_until_they_are_huge():
    assert format_perplexity(9.7049) == "9.70"
    assert format_perplexity(99999.994) == "99999.99"
    assert format_perplexity(123456.0) == "1.23e+05"
    assert format_perplexity(7.2532924803e30) == "7.25e+30"
    assert format_perplexity(float("inf")) == "inf"
    assert format_perplexity(float("nan")) == "nan"
