import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.money import fen_to_yuan, yuan_to_fen


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("48.00", 4800),
        ("48", 4800),
        ("48.5", 4850),
        ("0.01", 1),
        (" 33.33 ", 3333),
        ("-2.50", -250),
    ],
)
def test_yuan_text_parses_to_exact_fen(text, fen):
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["48.001", "1e2", "", "abc", "4,800.00", ".5", "NaN", "１２"])
def test_yuan_text_that_is_not_a_plain_amount_is_rejected(text):
    with pytest.raises(ValueError, match="yuan"):
        yuan_to_fen(text)


def test_a_float_is_rejected_rather_than_rounded():
    with pytest.raises(ValueError):
        yuan_to_fen(48.0)


@pytest.mark.parametrize(
    ("fen", "text"),
    [(4800, "48.00"), (1, "0.01"), (0, "0.00"), (123456, "1234.56"), (-250, "-2.50")],
)
def test_fen_formats_as_yuan_with_two_decimals(fen, text):
    assert fen_to_yuan(fen) == text


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_formatting_then_parsing_gives_back_the_same_fen(fen):
    assert yuan_to_fen(fen_to_yuan(fen)) == fen
