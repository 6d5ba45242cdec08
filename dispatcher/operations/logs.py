"""Structured logs, one JSON object a line, with phone and ID numbers masked."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# An 18-character resident ID; an E.164 Chinese number; a bare mobile; a landline written 0931-…
_ID = re.compile(r"(?<![0-9])(\d{6})\d{8}(\d{3}[0-9Xx])(?![0-9])")
_E164 = re.compile(r"(\+86\d{3})\d{2,4}(\d{4})(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9+])(1[3-9]\d)\d{4}(\d{4})(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])(0\d{2,3})-?\d{3,4}(\d{4})(?![0-9])")


def mask_text(text: str) -> str:
    """Hide the middle of every ID number and phone number in `text`."""
    text = _ID.sub(r"\1********\2", text)
    text = _E164.sub(r"\1****\2", text)
    text = _MOBILE.sub(r"\1****\2", text)
    return _LANDLINE.sub(r"\1-****\2", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        if record.exc_info:
            entry["error"] = mask_text(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("alembic", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
