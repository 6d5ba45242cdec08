"""Chinese resident ID numbers (GB 11643): checksum, birth date, masking."""

from __future__ import annotations

from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


class BadIdNumber(ValueError):
    pass


def check_digit(first17: str) -> str:
    """Return the GB 11643 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def validate_id_number(raw: str) -> str:
    """Return the ID number upper-cased if it is well formed, or raise BadIdNumber."""
    number = (raw or "").strip().upper()
    if len(number) != 18 or not number.isascii() or not number[:17].isdigit() or not (
        number[17].isdigit() or number[17] == "X"
    ):
        raise BadIdNumber("ID number must be 17 digits and a digit or X")
    if check_digit(number[:17]) != number[17]:
        raise BadIdNumber("ID number checksum does not match (GB 11643)")
    birth_of(number)
    return number


def birth_of(number: str) -> date:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise BadIdNumber("ID number holds no valid birth date") from None


def mask_id_number(number: str | None) -> str:
    """Keep the region prefix and the last four characters: 620102********123X."""
    if not number:
        return ""
    return number[:6] + "*" * (len(number) - 10) + number[-4:]
