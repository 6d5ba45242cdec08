"""Issue 5 from outside: a month of visits for elders of every subsidy class, reported and closed.

The server's clock is set into October 2026 (VNH_CLOCK_START) so that the month can be closed
from the command line, whose clock is the real one. Every visit is booked by phone, accepted and
checked in and out by the provider's SMS replies, and reviewed by answering the app's call.

The expected amounts below are worked by hand from billing/policy.toml (version 2026-01):
  特困 100% up to 600.00 · 低保 80% up to 400.00 · 优抚 80% up to 400.00 · 高龄 50% up to 200.00 ·
  普通 0% · the voucher for 中度失能 or worse 50% up to 800.00; the best entitlement applies, all
  draw on one monthly pot, the subsidy is rounded down to the fen and the co-pay is the rest.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from .harness import ElderRow, ProviderRow, read_csv

pytestmark = pytest.mark.acceptance

MONTH, NEXT_MONTH = "2026-10", "2026-11"
# 10:00 on Thursday 15 October 2026 in Lanzhou, when the server starts.
SERVER_START = datetime(2026, 10, 15, 2, 0, tzinfo=UTC)

P1 = ProviderRow("T5P1", "城关颐养服务中心", "+8613812350001", 36.0605, 103.8305, 5,
                 {"LC01": "80.00", "LC02": "19.99", "RN01": "96.00"})
P2 = ProviderRow("T5P2", "金城家政服务社", "+8613812350002", 36.0800, 103.8600, 5,
                 {"LC01": "80.00", "LC02": "20.00", "RN01": "96.00"})

A = ElderRow("孙玉兰", "F", date(1946, 2, 3), "+8613712350001", "特困", serial=101)
B = ElderRow("周志刚", "M", date(1950, 7, 9), "+8613712350002", "低保", serial=103)
C = ElderRow("吴秀芳", "F", date(1951, 11, 30), "+8613712350003", "优抚", "轻度失能", serial=104)
D = ElderRow("郑德胜", "M", date(1939, 5, 12), "+8613712350004", "高龄", serial=105)
E = ElderRow("冯丽华", "F", date(1955, 8, 21), "+8613712350005", "普通", serial=106)
F = ElderRow("陈建国", "M", date(1953, 3, 14), "+8613712350006", "普通", "中度失能", serial=107)
G = ElderRow("褚桂英", "F", date(1938, 12, 1), "+8613712350007", "高龄", "重度失能", serial=108)
H = ElderRow("卫长顺", "M", date(1947, 6, 6), "+8613712350008", "特困", serial=109)

# Keys: category, item, as soon as possible, confirm. A caller's most booked category comes first.
BATH, HAIRCUT = ("1", "1", "1", "1"), ("1", "2", "1", "1")
THERAPY_FIRST, THERAPY_AGAIN = ("5", "1", "1", "1"), ("1", "1", "1", "1")

# (elder, keys, item, price, subsidy, co-pay, review) — worked by hand, in the order checked out.
VISITS = [
    (A, BATH, "LC01", "80.00", "80.00", "0.00", "verified"),       # 100% of 80.00
    (B, HAIRCUT, "LC02", "19.99", "15.99", "4.00", "verified"),    # 80% of 19.99 = 15.992 → 15.99
    (C, BATH, "LC01", "80.00", "64.00", "16.00", "pending"),       # 80%; reviewed after the close
    (D, THERAPY_FIRST, "RN01", "96.00", "48.00", "48.00", "verified"),  # 50% of 96.00
    (D, THERAPY_AGAIN, "RN01", "96.00", "48.00", "48.00", "verified"),  # used 48.00
    (D, THERAPY_AGAIN, "RN01", "96.00", "48.00", "48.00", "verified"),  # used 96.00
    (D, THERAPY_AGAIN, "RN01", "96.00", "48.00", "48.00", "verified"),  # used 144.00
    (D, THERAPY_AGAIN, "RN01", "96.00", "8.00", "88.00", "verified"),   # used 192.00: cap 200.00 leaves 8.00
    (E, BATH, "LC01", "80.00", "0.00", "80.00", "verified"),       # 普通, able: no subsidy
    (F, BATH, "LC01", "80.00", "40.00", "40.00", "verified"),      # the voucher, 50%
    (G, HAIRCUT, "LC02", "19.99", "9.99", "10.00", "verified"),    # 50% either way = 9.995 → 9.99
    (H, HAIRCUT, "LC02", "19.99", "19.99", "0.00", "denied"),      # "2": withheld, not payable
]
MONEY = ("price", "subsidy", "copay", "payable", "withheld", "pending")
REAL_CLOCK = {"VNH_CLOCK_START": "", "VNH_CLOCK_ANCHOR": ""}


def _yuan(text: str) -> Decimal:
    return Decimal(text)


def _expected_standing(subsidy: str, review: str) -> dict[str, str]:
    zero = "0.00"
    return {"verified": {"payable": subsidy, "withheld": zero, "pending": zero},
            "denied": {"payable": zero, "withheld": subsidy, "pending": zero},
            "pending": {"payable": zero, "withheld": zero, "pending": subsidy}}[review]


@pytest.fixture(scope="module")
def month(start_server):
    """Drive October from outside; return the server and C's review call, left unanswered."""
    # Every process of the server (and each `vnh` command) reads the same moment at the same anchor.
    server = start_server(VNH_CLOCK_START=SERVER_START.isoformat(), VNH_CLOCK_ANCHOR=str(time.time()),
                          VNH_REVIEW_DELAY_S="0")
    server.enroll([A, B, C, D, E, F, G, H], [P1, P2])
    for elder, keys, *_ in VISITS:
        _, job_code = server.book(elder.phone, *keys)
        assert server.offer_sms(job_code)["to"] == P1.dispatch_phone, "the nearest provider is offered it"
        server.visit(P1.dispatch_phone, job_code)
    # The review calls follow each check-out (VNH_REVIEW_DELAY_S=0): the elders answer them now.
    seen: set[int] = set()
    late_review = None
    for elder, *_, review in VISITS:
        call = server.review_call(elder.phone, seen)
        if review == "pending":
            late_review = call
        else:
            server.answer_review(call, came=review == "verified", rating=5 if review == "verified" else None)
    return server, late_review


@pytest.fixture(scope="module")
def october(month):
    server, _ = month
    return read_csv(server.report("subsidy", MONTH, "october"))


def test_every_visit_is_charged_as_the_policy_worked_by_hand(october):
    rows = october
    got = defaultdict(list)
    for row in rows:
        assert row["month"] == MONTH and row["entry"] == "visit"
        assert row["provider_code"] == P1.code
        got[row["elder_name"]].append(
            (row["elder_class"], row["item_code"], row["price"], row["subsidy"], row["copay"],
             row["review_result"], row["payable"], row["withheld"], row["pending"]))
    expected = defaultdict(list)
    for elder, _keys, item, price, subsidy, copay, review in VISITS:
        standing = _expected_standing(subsidy, review)
        expected[elder.name].append((elder.elder_class, item, price, subsidy, copay, review,
                                     standing["payable"], standing["withheld"], standing["pending"]))
    assert {name: sorted(v) for name, v in got.items()} == {name: sorted(v) for name, v in expected.items()}


def test_the_summaries_reconcile_to_the_detail_and_verify_passes(month, october):
    server, _ = month
    detail = october
    totals = {m: sum((_yuan(r[m]) for r in detail), Decimal("0")) for m in MONEY}
    assert totals["price"] == totals["subsidy"] + totals["copay"]
    assert totals["subsidy"] == totals["payable"] + totals["withheld"] + totals["pending"]
    summary = read_csv(server.report("summary", MONTH, "october-summary"))
    dimensions = {r["dimension"] for r in summary}
    assert {"street", "community", "category", "elder_class", "provider"} <= dimensions
    for dimension in dimensions:
        rows = [r for r in summary if r["dimension"] == dimension]
        assert sum(int(r["visits"]) for r in rows) == len(detail), dimension
        for m in MONEY:
            assert sum((_yuan(r[m]) for r in rows), Decimal("0")) == totals[m], (dimension, m)
    by_class = {r["group_code"]: r for r in summary if r["dimension"] == "elder_class"}
    assert set(by_class) == {"特困", "低保", "优抚", "高龄", "普通"}
    assert by_class["高龄"]["subsidy"] == "209.99"  # 4 × 48.00 + 8.00 (郑德胜) + 9.99 (褚桂英)
    assert "agree" in server.vnh("report", "verify", "--month", MONTH).stdout


def test_closing_the_month_freezes_its_report_and_a_late_review_lands_in_the_next_month(month):
    server, late_review = month
    refused = server.vnh("month", "close", MONTH, check=False, env=REAL_CLOCK)
    assert refused.returncode != 0 and "pending" in refused.stderr, "a review is still pending"
    server.vnh("month", "close", MONTH, "--force", env=REAL_CLOCK)
    frozen = server.report("subsidy", MONTH, "october-at-close", env=REAL_CLOCK).read_bytes()

    # November now: the server runs on the real clock, and C finally answers the review call.
    server.restart(**REAL_CLOCK)
    server.answer_review(late_review, came=True, rating=4)

    assert server.report("subsidy", MONTH, "october-after", env=REAL_CLOCK).read_bytes() == frozen
    november = read_csv(server.report("subsidy", NEXT_MONTH, "november", env=REAL_CLOCK))
    adjustments = [r for r in november if r["elder_name"] == C.name]
    assert len(adjustments) == 1
    adjustment = adjustments[0]
    assert adjustment["entry"] == "adjustment" and adjustment["adjusts_month"] == MONTH
    assert adjustment["payable"] == "64.00" and adjustment["review_result"] == "verified"
    for m in ("price", "subsidy", "copay"):
        assert adjustment[m] == "0.00", f"the charge itself stays in {MONTH}"
    assert not [r for r in november if r["elder_name"] == H.name and r["payable"] != "0.00"], \
        "the denied visit is never paid"
    for checked in (MONTH, NEXT_MONTH):
        assert "agree" in server.vnh("report", "verify", "--month", checked, env=REAL_CLOCK).stdout
