from datetime import date

import pytest

from dispatcher.enrollment.identity import (
    BadIdNumber,
    birth_of,
    check_digit,
    mask_id_number,
    validate_id_number,
)

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def id_number(region="620102", birth="19500101", serial="123"):
    first17 = region + birth + serial
    return first17 + check_digit(first17)


@pytest.mark.parametrize(
    ("first17", "check"),
    [("11010519491231002", "X"), ("44052418800101001", "4")],
    ids=["standard-example-X", "standard-example-4"],
)
def test_the_check_digit_matches_the_published_gb_11643_examples(first17, check):
    assert check_digit(first17) == check


@pytest.mark.parametrize(
    "number",
    [
        id_number(),
        id_number(birth="19421231", serial="457"),
        id_number(birth="20000229"),
        "11010519491231002X",
        "440524188001010014",
    ],
)
def test_a_well_formed_id_number_is_accepted(number):
    assert validate_id_number(number) == number


def test_a_lower_case_x_check_digit_is_accepted_and_upper_cased():
    assert validate_id_number(" 11010519491231002x ") == "11010519491231002X"


@pytest.mark.parametrize("last", [c for c in "0123456789X" if c != "4"])
def test_an_id_number_with_the_wrong_check_digit_is_rejected(last):
    with pytest.raises(BadIdNumber, match="checksum"):
        validate_id_number("44052418800101001" + last)


def test_swapping_two_digits_breaks_the_checksum():
    number = id_number(serial="123")
    swapped = number[:14] + number[15] + number[14] + number[16:]
    assert swapped != number
    with pytest.raises(BadIdNumber):
        validate_id_number(swapped)


@pytest.mark.parametrize(
    "number",
    [
        "",
        None,
        "44052418800101001",
        "4405241880010100144",
        "62010219500101123",
        "15位老身份证号码",
        "620102500101123",
        "4405241880010100A4",
        "X40524188001010014",
    ],
)
def test_an_id_number_of_the_wrong_shape_is_rejected(number):
    with pytest.raises(BadIdNumber, match="17 digits"):
        validate_id_number(number)


@pytest.mark.parametrize("birth", ["19501301", "19500230", "19490229", "19500100", "00000101"])
def test_an_id_number_without_a_real_birth_date_is_rejected(birth):
    with pytest.raises(BadIdNumber, match="birth date"):
        validate_id_number(id_number(birth=birth))


def test_the_birth_date_is_read_from_the_id_number():
    assert birth_of("11010519491231002X") == date(1949, 12, 31)


@pytest.mark.parametrize(
    "number",
    ["11010519491231002".translate(FULL_WIDTH) + "X", "1101051949123100²X"],
    ids=["full-width-digits", "superscript-digit"],
)
def test_an_id_number_with_non_ascii_digits_is_rejected(number):
    with pytest.raises(BadIdNumber):
        validate_id_number(number)


def test_masking_keeps_the_region_and_the_last_four_characters():
    assert mask_id_number("11010519491231002X") == "110105********002X"


@pytest.mark.parametrize("number", [None, ""])
def test_masking_nothing_gives_an_empty_string(number):
    assert mask_id_number(number) == ""
