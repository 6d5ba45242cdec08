"""What an elder is entitled by on a given day: the facts the funding sources' rules read.

Billing asks only `facts_on(session, elder, day)`. The facts come from records, not labels:
the age from the birth date on the day, the age class (高龄) derived from that age under the
policy's [version.age] rule, the disability level from the assessment that holds on the day
(expiry counts from the next month), and long-term care insurance from the elder's record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from sqlalchemy.orm import Session

from billing.policy import Policy, load_policy
from billing.policy_tables import AgeRule, parse_age
from dispatcher.assessments.records import level_on
from dispatcher.models import Elder

# The class every elder has without a means-tested one; it and the age class follow the age.
BASE_CLASS = "普通"


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


def age_class_from(birth_date: date, rule: AgeRule) -> date:
    """The first day the age class holds: the birthday, or the first of the month after it."""
    year = birth_date.year + rule.years
    try:
        birthday = birth_date.replace(year=year)
    except ValueError:  # 29 February in a common year: the birthday counts on 1 March
        birthday = date(year, 3, 1)
    if rule.starts == "next_month":
        return date(year + birthday.month // 12, birthday.month % 12 + 1, 1)
    return birthday


def derived_class(typed_class: str, birth_date: date, day: date, rule: AgeRule) -> str:
    """The class on `day`: a means-tested class as recorded; otherwise the age decides."""
    if typed_class not in (rule.elder_class, BASE_CLASS):
        return typed_class
    return rule.elder_class if day >= age_class_from(birth_date, rule) else BASE_CLASS


def age_class_problem(typed_class: str, birth_date: date, today: date,
                      rule: AgeRule | None = None) -> str | None:
    """Why a typed age class contradicts the birth date today, or None when it does not."""
    rule = rule or AgeRule()
    if typed_class != rule.elder_class or age_on(birth_date, today) >= rule.years:
        return None
    return (f"{typed_class} is for elders aged {rule.years} and over: born {birth_date}, "
            f"{age_on(birth_date, today)} on {today}")


@cache
def _default_policy() -> Policy:
    return load_policy()


def age_rule_on(policy: Policy, day: date) -> AgeRule:
    try:
        version = policy.version_for(day)
    except ValueError:
        return AgeRule()
    return parse_age(version.tables.get("age"))


def facts_on(session: Session, elder: Elder, day: date, *, policy: Policy | None = None
             ) -> ElderFacts:
    """The elder's facts on `day`.

    `policy` gives the age rule (the packaged policy when None): billing passes its own.
    """
    rule = age_rule_on(policy or _default_policy(), day)
    return ElderFacts(
        day=day,
        age=age_on(elder.birth_date, day),
        elder_class=derived_class(elder.elder_class, elder.birth_date, day, rule),
        disability_level=level_on(session, elder, day),
        insured=bool(elder.is_insured),
    )
