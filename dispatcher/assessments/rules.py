"""Pure rules of assessments: the levels, how long one holds, when to remind, one row's values."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from billing.policy import DISABILITY_LEVELS

LEVELS = DISABILITY_LEVELS  # GB/T 42195-2022: 能力完好 … 完全失能
DEFAULT_VALID_MONTHS = 12
REMIND_DAYS = 30
MAX_SCORE = 100
COLUMNS = ("id_number", "assessed_on", "level", "score", "assessor", "organisation", "valid_until")
OPTIONAL_COLUMNS = frozenset({"score", "organisation", "valid_until"})
MAX_LENGTHS = {"assessor": 50, "organisation": 100}


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it is shorter)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def default_valid_until(assessed_on: date) -> date:
    """An assessment holds 12 months: to the day before its anniversary."""
    return add_months(assessed_on, DEFAULT_VALID_MONTHS) - timedelta(days=1)


def stops_on(valid_until: date) -> date:
    """The first day an expired assessment no longer counts: the first of the next month."""
    return add_months(valid_until.replace(day=1), 1)


def holds_on(assessed_on: date, valid_until: date, day: date) -> bool:
    """Whether an assessment gives entitlements on `day` (expiry counts from the next month)."""
    return assessed_on <= day < stops_on(valid_until)


def reminder_from(valid_until: date) -> date:
    """The day the operator queue is told to arrange a re-assessment."""
    return valid_until - timedelta(days=REMIND_DAYS)


@dataclass(frozen=True)
class AssessmentRecord:
    id_number: str
    assessed_on: date
    level: str
    score: int | None
    assessor: str
    organisation: str
    valid_until: date


def check_assessment(assessed_on: date | None, level: str, score: int | None, assessor: str,
                     valid_until: date | None, today: date) -> list[tuple[str, str]]:
    """Every problem of one assessment, as (field, reason); empty when it can be recorded."""
    problems = []
    if assessed_on is not None and assessed_on > today:
        problems.append(("assessed_on", f"{assessed_on} is in the future"))
    if level not in LEVELS:
        problems.append(("level", f"{level!r} is not a level of GB/T 42195 "
                                  f"(the national standard): "
                                  f"one of {', '.join(LEVELS)}"))
    if score is not None and not 0 <= score <= MAX_SCORE:
        problems.append(("score", f"{score} is not a score from 0 to {MAX_SCORE}"))
    if not assessor.strip():
        problems.append(("assessor", "is required: who assessed the elder"))
    if assessed_on is not None and valid_until is not None and valid_until < assessed_on:
        problems.append(("valid_until", f"{valid_until} is before the assessment {assessed_on}"))
    return problems


def parse_score(text: str) -> int | None:
    text = unicodedata.normalize("NFKC", text).strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if value != int(value):
        raise ValueError(f"{text!r} is not a whole number")
    return int(value)


def parse_row(values: Mapping[str, str], today: date, parse_date, parse_id
              ) -> tuple[AssessmentRecord | None, list[tuple[str, str]]]:
    """One row of an assessments file into a record, or every bad column with its reason."""
    problems: list[tuple[str, str]] = []

    def get(column, parse=None):
        raw = (values.get(column) or "").strip()
        if not raw:
            return None
        if (limit := MAX_LENGTHS.get(column)) and len(raw) > limit:
            problems.append((column, f"is {len(raw)} characters long: at most {limit}"))
            return None
        try:
            return parse(raw) if parse else raw
        except ValueError as exc:
            problems.append((column, str(exc)))
            return None

    id_number = get("id_number", parse_id)
    if not (values.get("id_number") or "").strip():
        problems.append(("id_number", "is required"))
    assessed_on = get("assessed_on", parse_date)
    if not (values.get("assessed_on") or "").strip():
        problems.append(("assessed_on", "is required"))
    level = unicodedata.normalize("NFKC", values.get("level") or "").strip()
    score = get("score", parse_score)
    assessor = get("assessor") or ""
    organisation = get("organisation") or ""
    valid_until = get("valid_until", parse_date)
    flagged = {column for column, _ in problems}
    problems += [p for p in check_assessment(assessed_on, level, score, assessor, valid_until, today)
                 if p[0] not in flagged]
    if problems:
        order = {c: i for i, c in enumerate(COLUMNS)}
        return None, sorted(problems, key=lambda p: order.get(p[0], 99))
    return AssessmentRecord(id_number, assessed_on, level, score, assessor, organisation,
                            valid_until or default_valid_until(assessed_on)), []
