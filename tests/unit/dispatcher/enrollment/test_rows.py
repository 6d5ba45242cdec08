"""Parsing enrollment values as the bureau writes them: phones, ID numbers, dates, coordinates."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.enrollment.identity import check_digit
from dispatcher.enrollment.rows import parse_elder, phone_e164
from telephony.numbers import BadPhoneNumber, to_e164

CLASSES = ("特困", "低保", "优抚", "高龄", "普通")


def elder_values(**overrides):
    first17 = "62010219410305002"
    values = {
        "id_number": first17 + check_digit(first17), "name": "王秀英", "gender": "女",
        "birth_date": "1941-03-05", "phone": "13912340001", "other_phones": "",
        "address": "城关区酒泉路街道金塔巷社区3号楼", "street": "酒泉路街道", "community": "金塔巷社区",
        "latitude": "36.058", "longitude": "103.827", "elder_class": "特困",
        "disability_level": "能力完好", "lives_alone": "是", "emergency_contact_name": "",
        "emergency_contact_phone": "",
    }  # fmt: skip
    return values | overrides


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("13912340001", "+8613912340001"),
        ("139 1234 0001", "+8613912340001"),
        ("139-1234-0001", "+8613912340001"),
        ("+86 139 1234 0001", "+8613912340001"),
        ("0086 13912340001", "+8613912340001"),
        ("8613912340001", "+8613912340001"),
        ("１３９１２３４０００１", "+8613912340001"),
        ("0931-8123456", "+869318123456"),
        ("(0931)8123456", "+869318123456"),
        ("（0931）8123456", "+869318123456"),
        ("+86 931 8123456", "+869318123456"),
        ("86-0931-8123456", "+869318123456"),
        ("0512-65230001", "+8651265230001"),
        ("010-12345678", "+861012345678"),
        ("8123456", "+869318123456"),
        ("812 3456", "+869318123456"),
    ],
)
def test_phones_in_common_chinese_writings_become_e164(written, e164):
    assert phone_e164(written) == e164


def test_a_landline_without_area_code_takes_the_configured_default():
    assert phone_e164("65230001", area_code="0512") == "+8651265230001"
    assert phone_e164("8123456", area_code="0931") == "+869318123456"


@pytest.mark.parametrize(
    "written", ["12345", "110", "1391234000", "0931-812345", "电话", "8123456789012"]
)
def test_numbers_that_are_not_valid_are_refused(written):
    with pytest.raises(BadPhoneNumber):
        phone_e164(written)


def test_a_local_number_invalid_under_the_default_area_code_says_which_was_assumed():
    with pytest.raises(BadPhoneNumber, match="area code 0931 assumed"):
        phone_e164("88123456")


@given(
    st.one_of(
        st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
        st.from_regex(r"0(10|2[0-9]|[3-9][0-9]{2})[2-8][0-9]{6,7}", fullmatch=True),
    ),
    st.sampled_from(["{}", "+86 {}", "+86-{}", "0086{}", " {} "]),
)
def test_the_fast_path_agrees_with_phonenumbers_on_every_number(number, writing):
    # After a country code a landline drops its trunk 0: 0931… is +86 931….
    if writing.strip().startswith(("+", "00")):
        number = number.removeprefix("0")
    text = writing.format(number)
    try:
        expected = to_e164(text)
    except BadPhoneNumber:
        with pytest.raises(BadPhoneNumber):
            phone_e164(text)
    else:
        assert phone_e164(text) == expected


def test_an_id_number_in_spreadsheet_notation_is_explained_not_just_refused():
    _, problems = parse_elder(elder_values(id_number="6.20102E+17"), CLASSES)

    assert problems[0][0] == "id_number"
    assert "format the column as text" in problems[0][1]


def test_a_lower_case_x_and_full_width_digits_in_an_id_number_are_accepted():
    first17 = "11010519491231002"
    written = "１１０１０５１９４９１２３１００２x"

    record, problems = parse_elder(
        elder_values(id_number=written, birth_date="1949-12-31"), CLASSES
    )

    assert problems == []
    assert record.id_number == first17 + "X"


@pytest.mark.parametrize(
    "written", ["1941-03-05", "1941/3/5", "1941.03.05", "19410305", "1941年3月5日"]
)
def test_birth_dates_in_the_bureaus_writings_are_read(written):
    record, problems = parse_elder(elder_values(birth_date=written), CLASSES)

    assert problems == []
    assert record.birth_date == date(1941, 3, 5)


@pytest.mark.parametrize("written", ["5/3/1941", "1941-13-05", "1941-02-30", "三月五日", "41-3-5"])
def test_dates_that_are_not_dates_are_refused(written):
    _, problems = parse_elder(elder_values(birth_date=written), CLASSES)

    assert [column for column, _ in problems] == ["birth_date"]


def test_blank_coordinates_are_left_for_the_geocoder():
    record, problems = parse_elder(elder_values(latitude="", longitude=""), CLASSES)

    assert problems == []
    assert (record.latitude, record.longitude) == (None, None)


def test_swapped_coordinates_are_named_as_probably_swapped():
    _, problems = parse_elder(elder_values(latitude="103.827", longitude="36.058"), CLASSES)

    assert [column for column, _ in problems] == ["latitude", "longitude"]
    assert all("swapped" in reason for _, reason in problems)


def test_zero_zero_is_outside_china():
    _, problems = parse_elder(elder_values(latitude="0", longitude="0"), CLASSES)

    assert [column for column, _ in problems] == ["latitude", "longitude"]
    assert "outside China" in problems[0][1]


def test_other_phones_may_be_separated_by_full_width_semicolons_or_commas():
    record, problems = parse_elder(
        elder_values(other_phones="0931-8120001；18600000001,8120002"), CLASSES
    )

    assert problems == []
    assert [p for p, primary in record.phones if not primary] == [
        "+869318120001", "+8618600000001", "+869318120002",
    ]  # fmt: skip
