"""Funding sources: the split of a price across the policy's sources, worked by hand and by
property, and policy files whose sources cannot work refused with their line."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.eligibility import ElderFacts
from billing.policy import DEFAULT_POLICY_PATH, DISABILITY_LEVELS, PolicyError, load_policy
from billing.sources import split_by_sources

POLICY = load_policy()
FUNDING = POLICY.version_for_month("2026-12").funding
DAY = date(2026, 12, 10)
CLASSES = ("特困", "低保", "优抚", "高龄", "普通")


def facts(elder_class="普通", age=70, level=None, insured=False) -> ElderFacts:
    return ElderFacts(DAY, age, elder_class, level, insured)


def split(price, f, used=None, is_free=False):
    return split_by_sources(price, FUNDING, f, is_free=is_free, used=used or {})


# Worked by hand from billing/policy.toml's version 2026-12, in the order
# ltc_insurance (insured, 中度失能+: 70%, 1500.00) → national_voucher (中度失能+: 50%, 800.00)
# → city_class (特困 100%/600.00; 低保, 优抚 80%/400.00; 80+ 50%/200.00)
# → age_voucher (90+ 30%/200.00; 80–89 30%/100.00) → the elder. Prices and caps in fen.
WORKED = [
    # (case, facts, price, used so far this month, sources paid, co-pay)
    ("普通 pays everything", facts(), 10000, {}, (), 10000),
    ("特困: the city pays all", facts("特困"), 10000, {}, (("city_class", 10000),), 0),
    ("特困 near the city cap", facts("特困"), 10000, {"city_class": 55000},
     (("city_class", 5000),), 5000),
    ("特困 at the city cap", facts("特困"), 10000, {"city_class": 60000}, (), 10000),
    ("低保: 80%", facts("低保"), 12800, {}, (("city_class", 10240),), 2560),
    ("优抚: 80%, down to the fen", facts("优抚"), 999, {}, (("city_class", 799),), 200),
    ("低保 near the city cap", facts("低保"), 12800, {"city_class": 35000},
     (("city_class", 5000),), 7800),
    ("高龄 label under 80 gets nothing", facts("高龄", age=79), 10000, {}, (), 10000),
    ("80-year-old: city 50% then the 80–89 voucher 30%", facts("高龄", age=80), 10000, {},
     (("city_class", 5000), ("age_voucher", 3000)), 2000),
    ("89-year-old, 80–89 voucher near its cap", facts("普通", age=89), 10000,
     {"age_voucher": 9000}, (("city_class", 5000), ("age_voucher", 1000)), 4000),
    ("90-year-old: the 90+ voucher", facts("普通", age=90), 10000, {"age_voucher": 9000},
     (("city_class", 5000), ("age_voucher", 3000)), 2000),
    ("90+ voucher at its cap", facts("普通", age=95), 10000,
     {"age_voucher": 20000, "city_class": 20000}, (), 10000),
    ("轻度失能 gets no voucher", facts(level="轻度失能"), 10000, {}, (), 10000),
    ("中度失能: the national voucher's 50%", facts(level="中度失能"), 12800, {},
     (("national_voucher", 6400),), 6400),
    ("完全失能 at the voucher cap", facts(level="完全失能"), 12800, {"national_voucher": 80000},
     (), 12800),
    ("重度失能 near the voucher cap", facts(level="重度失能"), 12800,
     {"national_voucher": 79000}, (("national_voucher", 1000),), 11800),
    ("insured 中度失能: insurance first, the voucher takes the rest", facts(
        level="中度失能", insured=True), 10000, {},
     (("ltc_insurance", 7000), ("national_voucher", 3000)), 0),
    ("insured but able: no insurance", facts(level="能力完好", insured=True), 10000, {}, (),
     10000),
    ("insured 重度失能 at the insurance cap: the voucher's 50%", facts(
        level="重度失能", insured=True), 10000, {"ltc_insurance": 150000},
     (("national_voucher", 5000),), 5000),
    ("低保 with 中度失能: voucher 50%, the city tops up to its 80%-of-price share", facts(
        "低保", level="中度失能"), 10000, {},
     (("national_voucher", 5000), ("city_class", 5000)), 0),
    ("特困 with 中度失能 at the voucher cap: the city pays", facts("特困", level="中度失能"),
     10000, {"national_voucher": 80000}, (("city_class", 10000),), 0),
    ("85-year-old 低保: the class tier comes first, then the voucher", facts(
        "低保", age=85), 10000, {}, (("city_class", 8000), ("age_voucher", 2000)), 0),
    ("a zero price pays nothing", facts("特困"), 0, {}, (), 0),
]


@pytest.mark.parametrize(("case", "elder", "price", "used", "parts", "copay"), WORKED,
                         ids=[w[0] for w in WORKED])
def test_the_split_matches_the_policy_worked_by_hand(case, elder, price, used, parts, copay):
    assert split(price, elder, used) == (parts, copay)


@pytest.mark.parametrize("elder_class", CLASSES)
def test_a_free_item_is_paid_whole_by_the_government_whatever_the_caps(elder_class):
    spent = {code: 10**9 for code in FUNDING.order}
    assert split(15000, facts(elder_class), spent, is_free=True) == ((("city_free", 15000),), 0)


def test_free_items_that_count_against_the_cap_draw_on_the_sources_first():
    from dataclasses import replace

    counting = replace(FUNDING, free_counts_against_cap=True)
    parts, copay = split_by_sources(10000, counting, facts("低保"), is_free=True,
                                    used={"city_class": 36000})
    assert (parts, copay) == ((("city_class", 4000), ("city_free", 6000)), 0)


# -- properties ---------------------------------------------------------------------------

any_facts = st.builds(facts, st.sampled_from(CLASSES), st.integers(55, 110),
                      st.sampled_from((None, *DISABILITY_LEVELS)), st.booleans())
any_used = st.dictionaries(st.sampled_from(FUNDING.order), st.integers(0, 200_000), max_size=4)


@settings(max_examples=400, deadline=None)
@given(price=st.integers(0, 5_000_000), elder=any_facts, used=any_used, is_free=st.booleans())
def test_sources_sum_to_the_subsidy_and_no_cap_is_exceeded(price, elder, used, is_free):
    parts, copay = split(price, elder, used, is_free)
    subsidy = sum(fen for _, fen in parts)
    assert subsidy + copay == price and copay >= 0
    assert all(fen > 0 for _, fen in parts) and len({s for s, _ in parts}) == len(parts)
    if is_free:
        assert copay == 0
    for source, fen in parts:
        if source == FUNDING.free_source:
            assert is_free
            continue
        tier = FUNDING.sources[source].tier_for(elder)
        assert tier is not None, source  # only an eligible source pays
        assert fen <= price * tier.share_percent // 100
        assert used.get(source, 0) + fen <= max(tier.monthly_cap_fen, used.get(source, 0))


@settings(max_examples=200, deadline=None)
@given(prices=st.lists(st.integers(1, 200_000), max_size=30), elder=any_facts)
def test_a_month_of_visits_never_takes_a_source_past_its_cap(prices, elder):
    used: dict[str, int] = {}
    for price in prices:
        parts, _ = split(price, elder, used)
        for source, fen in parts:
            used[source] = used.get(source, 0) + fen
    for source, total in used.items():
        assert total <= FUNDING.cap_for(source, elder)


# -- policy files whose sources cannot work ------------------------------------------------

def _bad(tmp_path, old, new):
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    lines = path.read_text(encoding="utf-8").splitlines()
    return path, lines


def _line_of(lines, needle, after=None):
    start = lines.index(after) if after else 0
    return next(n for n, line in enumerate(lines, 1) if n > start and needle in line)


@pytest.mark.parametrize(("old", "new", "needle", "reason"), [
    ('share_percent = 70\nmonthly_cap_yuan = "1500.00"',
     'share_percent = 170\nmonthly_cap_yuan = "1500.00"', "share_percent = 170",
     "over 100%"),
    ('eligibility = { disability_levels = ["中度失能", "重度失能", "完全失能"] }\n'
     'share_percent = 50', 'share_percent = 50', "[[version.source]]", "no eligibility rule"),
    ('"city_class", "age_voucher", "elder"]', '"city_class", "age_voucher", "city_class"]',
     "order = [", "appears twice"),
    ('"city_class", "age_voucher", "elder"]', '"city_class", "age_vouchr", "elder"]',
     "order = [", "'age_vouchr' is not a [[version.source]]"),
    ('eligibility = { min_age = 90 }', 'eligibility = { min_age = 90, wealthy = true }',
     "wealthy", "unknown rule"),
    ('eligibility = { min_age = 80, max_age = 89 }', 'eligibility = { min_age = 89, max_age = 80 }',
     "min_age = 89", "nobody"),
    ('source = "city_free"', 'source = "national_voucher"', 'source = "national_voucher"',
     "must not be in the order"),
])
def test_a_policy_whose_sources_cannot_work_is_refused_naming_the_line(
        tmp_path, old, new, needle, reason):
    path, lines = _bad(tmp_path, old, new)
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    message = str(error.value)
    assert message.startswith(f"{path}:") and reason in message, message
    line = int(message.split(":")[1])
    assert needle in lines[line - 1], (line, lines[line - 1], message)


def test_the_line_named_is_the_offending_key_of_the_right_source(tmp_path):
    path, lines = _bad(tmp_path, 'eligibility = { min_age = 90 }\nshare_percent = 30',
                       'eligibility = { min_age = 90 }\nshare_percent = 130')
    with pytest.raises(PolicyError) as error:
        load_policy(path)
    assert str(error.value).startswith(f"{path}:{_line_of(lines, 'share_percent = 130')}: "
                                       f"version '2026-12': source 'age_voucher' tier #1:")


def test_the_shipped_policy_has_every_source_in_its_order():
    assert FUNDING.order == ("ltc_insurance", "national_voucher", "city_class", "age_voucher")
    assert FUNDING.free_source == "city_free" and not FUNDING.free_counts_against_cap
