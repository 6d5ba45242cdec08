"""Convert between yuan text and integer fen."""

import re
from decimal import Decimal

_YUAN = re.compile(r"[+-]?[0-9]+(?:\.[0-9]{1,2})?", re.ASCII)


def yuan_to_fen(text: str) -> int:
    """Parse a yuan amount such as "48.00" into fen exactly; reject more than two decimals."""
    if not isinstance(text, str) or not _YUAN.fullmatch(text.strip()):
        raise ValueError(f"not a yuan amount with at most two decimals: {text!r}")
    return int(Decimal(text.strip()) * 100)


def fen_to_yuan(fen: int) -> str:
    """Format fen as yuan with two decimals, e.g. 4800 -> "48.00"."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"
