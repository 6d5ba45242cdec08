import pytest

from telephony.numbers import BadPhoneNumber, caller_e164, is_mobile, mask_phone, to_e164


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("13912340001", "+8613912340001"),
        ("+86 139 1234 0001", "+8613912340001"),
        ("139-1234-0001", "+8613912340001"),
        ("0512-65230001", "+8651265230001"),
        ("(0931)8123456", "+869318123456"),
        ("（0931）8123456", "+869318123456"),
        ("0931－8123456", "+869318123456"),
        (" +8613912340001 ", "+8613912340001"),
    ],
)
def test_a_chinese_number_in_any_common_writing_becomes_e164(raw, e164):
    assert to_e164(raw) == e164


@pytest.mark.parametrize(
    "raw", ["", "   ", None, "abc", "123", "1391234000", "139123400011", "电话"]
)
def test_text_that_is_not_a_valid_number_raises_bad_phone_number(raw):
    with pytest.raises(BadPhoneNumber):
        to_e164(raw)


def test_a_caller_id_that_does_not_parse_is_kept_as_given():
    assert caller_e164(" 13912340001 ") == "+8613912340001"
    assert caller_e164(" anonymous ") == "anonymous"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+8613912340001", "+86139****0001"),
        ("+8651265230001", "+86512****0001"),
        ("+869318123456", "+8693****3456"),
        ("+442079460958", "+4420****0958"),
        ("+14155550100", "+141****0100"),
        ("+85221234567", "+852****4567"),
        (None, ""),
        ("", ""),
    ],
)
def test_masking_hides_the_middle_of_a_number(number, masked):
    assert mask_phone(number) == masked


@pytest.mark.parametrize("number", ["+8613912340001", "+8618609310002", "+8615012345678"])
def test_a_mobile_number_can_receive_sms(number):
    assert is_mobile(number)


@pytest.mark.parametrize(
    "number", ["+8651265230001", "+869318123456", "+861065529988", "not a number"]
)
def test_a_landline_or_garbage_cannot_receive_sms(number):
    assert not is_mobile(number)
