"""Phone numbers: E.164 for storage, masked for logs and screens."""

from __future__ import annotations

import phonenumbers

DEFAULT_REGION = "CN"


class BadPhoneNumber(ValueError):
    pass


def to_e164(raw: str, region: str = DEFAULT_REGION) -> str:
    """Normalise a number in any common Chinese writing to E.164, or raise BadPhoneNumber."""
    text = (raw or "").strip().replace("（", "(").replace("）", ")").replace("－", "-")
    if not text:
        raise BadPhoneNumber("empty phone number")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise BadPhoneNumber(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise BadPhoneNumber(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def caller_e164(raw: str) -> str:
    """Normalise a caller ID as Twilio sends it; keep it as given if it does not parse."""
    try:
        return to_e164(raw)
    except BadPhoneNumber:
        return (raw or "").strip()


def mask_phone(number: str | None) -> str:
    """Hide at least four digits in the middle of a number, whatever its country: +86139****0001.

    Up to five leading digits (a country code and an area or network code) and the last four stay.
    """
    if not number:
        return ""
    text = number.strip()
    plus = "+" if text.startswith("+") else ""
    digits = "".join(ch for ch in text if ch.isdigit())
    if len(digits) <= 4:
        return "*" * len(text)
    head = min(5 if plus else 3, max(len(digits) - 8, 0))
    return plus + digits[:head] + "*" * (len(digits) - head - 4) + digits[-4:]


def is_mobile(e164: str) -> bool:
    """Whether an E.164 number can receive SMS (a mobile, not a landline)."""
    try:
        parsed = phonenumbers.parse(e164, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(parsed) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def readable(number: str | None, *, masked: bool = False) -> str:
    """A number as Chinese staff write it: 139 0000 0001, 0931-5790068; a foreign one in its
    international form. `masked` hides the middle digits the same way: 139 **** 0001, 0931-***0068.
    What does not parse is given back as it is (masked if asked)."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return mask_phone(number) if masked else number
    if not phonenumbers.is_valid_number(parsed):
        return mask_phone(number) if masked else number
    if parsed.country_code != 86:
        text = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        return mask_phone(number) if masked else text
    national = str(parsed.national_number)
    kind = phonenumbers.number_type(parsed)
    if kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE) \
            and len(national) == 11:
        middle = "****" if masked else national[3:7]
        return f"{national[:3]} {middle} {national[7:]}"
    area = phonenumbers.length_of_geographical_area_code(parsed)
    if area:
        subscriber = national[area:]
        if masked:
            subscriber = "*" * max(0, len(subscriber) - 4) + subscriber[-4:]
        return f"0{national[:area]}-{subscriber}"
    return mask_phone(number) if masked else phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
