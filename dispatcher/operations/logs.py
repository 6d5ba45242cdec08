"""Structured logs, one JSON object a line, with phone and ID numbers masked."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from telephony.numbers import mask_phone

# Full-width digits and signs, as Chinese text often writes numbers, read as their ASCII forms.
_HALF_WIDTH = str.maketrans("０１２３４５６７８９＋－", "0123456789+-")
# An 18-character resident ID.
_ID = re.compile(r"(?<![0-9])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9])")
# A number of any country written with + or 00: 7 to 15 digits, spaces, dashes, dots or brackets between.
_INTERNATIONAL = re.compile(r"(?<![0-9])(?:\+|(?<![0-9A-Za-z])00(?=[1-9]))\s?\d(?:[\s\-.()（）]{0,2}\d){6,14}(?![0-9])")
# A Chinese mobile, bare or after 86, written in one piece or as 139 1234 0001 / 139-1234-0001.
_MOBILE = re.compile(r"(?<![0-9A-Za-z+])(?:86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?![0-9])")
# A Chinese landline: an area code (0931, (0931), （0931）) then a 7- or 8-digit number.
_LANDLINE = re.compile(r"(?<![0-9A-Za-z])([(（]?0\d{2,3}[)）]?)[\s-]?\d{3,4}[\s-]?(\d{4})(?![0-9])")
# What a database error carries besides its message: the statement's values, e.g. an SMS body.
_SQL_PARAMETERS = re.compile(r"\[parameters: [^\n]*")
_ROW_DETAIL = re.compile(r"(Failing row contains|\)=)\s*\((?:[^\n]*)")


def _digits_masked(match: re.Match) -> str:
    digits = "".join(ch for ch in match.group(0) if ch.isdigit())
    if match.group(0).lstrip().startswith("+"):
        return mask_phone("+" + digits)
    if digits.startswith("00"):
        return mask_phone("+" + digits[2:])
    return mask_phone(digits)


def mask_text(text: str) -> str:
    """Hide the middle of every ID number and phone number in `text`, whatever the country."""
    text = text.translate(_HALF_WIDTH)
    text = _ID.sub(r"\1********\2", text)
    text = _INTERNATIONAL.sub(_digits_masked, text)
    text = _MOBILE.sub(_digits_masked, text)
    return _LANDLINE.sub(r"\1-****\2", text)


def mask_error(text: str) -> str:
    """An exception's text fit for a log: numbers masked, and the values a failed statement carried
    (SMS bodies, names, addresses) left out."""
    text = _SQL_PARAMETERS.sub("[parameters: hidden]", text)
    text = _ROW_DETAIL.sub(r"\1 (hidden)", text)
    return mask_text(text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_error(record.getMessage()),
        }
        if record.exc_info:
            entry["error"] = mask_error(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = mask_error(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
