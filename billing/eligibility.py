"""What an elder is entitled by on a given day: the facts the funding sources' rules read.

Billing asks only `facts_on(session, elder, day)`; where the facts come from (the enrollment
file's labels today; assessments and the birth date on the day as issue 16 builds them) stays
behind this one function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from dispatcher.models import Elder


@dataclass(frozen=True)
class ElderFacts:
    """An elder's entitlement facts on one day."""

    day: date
    age: int  # whole years on `day`
    elder_class: str  # 特困, 低保, 优抚, 高龄, 普通 …
    disability_level: str | None  # GB/T 42195-2022 level, None when no assessment is valid
    insured: bool  # covered by long-term care insurance (长护险)


def age_on(birth_date: date, day: date) -> int:
    """Whole years from `birth_date` to `day` (a 29 February birthday counts on 1 March)."""
    years = day.year - birth_date.year
    if (day.month, day.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years


def facts_on(session: Session, elder: Elder, day: date) -> ElderFacts:
    """The elder's facts on `day`, as the enrollment record states them today."""
    return ElderFacts(
        day=day,
        age=age_on(elder.birth_date, day),
        elder_class=elder.elder_class,
        disability_level=elder.disability_level or None,
        insured=False,
    )
