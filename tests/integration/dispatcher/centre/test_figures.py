"""The centre's figures against a small hand-built day whose counts are known."""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest
from sqlalchemy import select

from dispatcher.centre.figures import day_period, figures, month_period
from dispatcher.centre.summary import format_summary, summary_lines
from dispatcher.clock import local

STREET_A, STREET_B = "酒泉路街道", "张掖路街道"


@pytest.fixture
def day(session, clock, make_elder, make_provider):
    """One day of calls, orders, offers, visits and reviews (see each figure's expected count)."""
    from dispatcher.consoles.auth import add_user
    from dispatcher.models import CallbackReview, HotlineCall, Item, OperatorTask, Order, Visit
    from dispatcher.programmes.supervision import Complaint
    from providers.models import Offer

    start, end = day_period(local(clock.now()).date())
    t = start + timedelta(hours=9)
    a, b = make_elder(street=STREET_A), make_elder(street=STREET_B)
    make_elder(street=STREET_A)  # enrolled, never served
    provider = make_provider()
    staff = add_user(session, username="jiandu", password="long-enough-pw", role="supervisor",
                     display_name="监督", provider_id=None, now=clock.now())
    n = iter(range(1000))

    def call(elder, step, answered_after=None, when=t, **data):
        sid = f"CA{next(n):04d}"
        session.add(HotlineCall(call_sid=sid, caller="+8613900000000", elder_id=elder.id if elder else None,
                                step=step, data=data, created_at=when, updated_at=when))
        if "dial_kind" in data:
            session.add(OperatorTask(kind=data["dial_kind"], reason="转人工", dedupe_key=f"call:{sid}",
                                     call_sid=sid, elder_id=elder.id if elder else None, created_at=when,
                                     answered_at=None if answered_after is None
                                     else when + timedelta(seconds=answered_after)))

    call(a, "done")                                              # the IVR alone
    call(b, "done")                                              # the IVR alone
    call(a, "category")                                          # hung up in the menu
    call(a, "done", voicemail_kind="after_hours")                # a night message
    call(a, "done", 15, dial_kind="operator_request")            # answered in 15 s
    call(b, "done", 45, dial_kind="emergency", emergency=True)   # answered in 45 s
    call(a, "done", dial_kind="silence", voicemail_kind="silence")  # nobody answered: a message
    call(None, "dialling", dial_kind="unknown_caller")           # hung up while it rang
    call(a, "done", dial_kind="operator_request")                # answered, time not reported
    call(a, "done", when=start - timedelta(minutes=1))           # the day before
    call(b, "after_hours", when=start - timedelta(hours=2))      # the night before, hung up at once

    item = session.scalar(select(Item).where(Item.code == "HK01"))

    def order(elder, state, source="phone", checked_in_after=None, provider_id=provider.id, review=None,
              rating=None):
        o = Order(order_no=f"N{next(n):06d}", job_code=f"{next(n):06d}", elder_id=elder.id, item_id=item.id,
                  state=state, source=source, slot_code="asap", window_start_at=t + timedelta(hours=1),
                  window_end_at=t + timedelta(hours=3), provider_id=provider_id, created_at=t, updated_at=t)
        session.add(o)
        session.flush()
        if checked_in_after is not None:
            visit = Visit(order_id=o.id, provider_id=provider.id,
                          checked_in_at=o.window_start_at + timedelta(minutes=checked_in_after))
            session.add(visit)
            session.flush()
            if review:
                session.add(CallbackReview(visit_id=visit.id, order_id=o.id, state=review, due_at=t + timedelta(hours=5),
                                           rating=rating))
        return o

    def offer(o, status, minutes, rank=1):
        session.add(Offer(order_id=o.id, provider_id=make_provider().id if rank > 1 else provider.id,
                          status=status, rank=rank, price_fen=4800, distance_m=100, score=1.0, reasons={},
                          offered_at=t, expires_at=t + timedelta(minutes=10),
                          responded_at=t + timedelta(minutes=minutes)))

    o1 = order(a, "completed", checked_in_after=10, review="verified", rating=5)
    offer(o1, "declined", 2, rank=2)
    offer(o1, "accepted", 10)
    o2 = order(b, "verified", checked_in_after=45, review="verified", rating=3)   # late
    offer(o2, "accepted", 3)
    session.add(OperatorTask(kind="unassigned", reason="无人接单", dedupe_key="unassigned:o2", order_id=o2.id,
                             created_at=t))
    o3 = order(a, "completed", source="operator", checked_in_after=0, review="denied")
    o4 = order(a, "accepted")                                                     # missed
    offer(o4, "accepted", 1)
    order(a, "cancelled", provider_id=None)
    order(a, "completed", checked_in_after=5, review="unreachable")
    session.add(Complaint(elder_id=a.id, provider_id=provider.id, order_id=o3.id, text="态度不好",
                          logged_by=staff.id, created_at=t))
    session.add(OperatorTask(kind="dispute", reason="否认上门", dedupe_key="dispute:o3", order_id=o3.id,
                             elder_id=a.id, created_at=t))
    session.commit()
    return start, end


def test_every_figure_of_the_day_matches_the_rows(session, day):
    start, end = day
    f = figures(session, start=start, end=end)
    assert (f.calls_offered, f.ivr_alone, f.after_hours, f.abandoned_in_ivr, f.transferred) == (9, 2, 1, 1, 5)
    assert f.transferred_by_reason == {"operator_request": 2, "emergency": 1, "silence": 1, "unknown_caller": 1}
    assert (f.operator_answered, f.messages_left, f.abandoned_in_queue) == (3, 1, 1)
    assert (f.ivr_containment.num, f.ivr_containment.den) == (2, 8)
    assert f.answer_seconds == {15: 1, 45: 1}
    assert f.queue_offered == 4
    assert str(f.answered_within(20)) == "25.0%" and str(f.answered_within(60)) == "50.0%"
    assert (f.answer_time.p50, f.answer_time.p95) == (15, 45)
    assert (f.emergencies, f.emergencies_answered, f.emergency_time.p95) == (1, 1, 45)
    assert str(f.queue_abandonment) == "20.0%"
    assert f.orders_by_channel == {"phone": 5, "operator": 1}
    assert (f.orders_completed, f.completed_without_operator) == (4, 2)
    assert (f.offers, f.orders_offered, f.offers_per_order) == (4, 3, "1.33")
    assert f.acceptance_minutes == {10: 1, 3: 1, 1: 1}
    assert (f.visits_due, f.visits_late, f.visits_missed) == (5, 1, 1)
    assert (f.reviews_closed, f.reviews_reached, f.reviews_denied) == (4, 3, 1)
    assert (f.ratings, f.ratings_satisfied, str(f.satisfaction)) == (2, 1, "50.0%")
    assert (f.complaints, f.disputes) == (1, 1)
    assert (f.elders_enrolled, f.elders_served) == (3, 2)


def test_a_street_counts_only_its_elders(session, day):
    start, end = day
    f = figures(session, start=start, end=end, street=STREET_A)
    assert (f.calls_offered, f.ivr_alone, f.abandoned_in_ivr, f.transferred) == (6, 1, 1, 3)
    assert f.transferred_by_reason == {"operator_request": 2, "silence": 1}
    assert (f.abandoned_in_queue, f.emergencies, f.answer_seconds) == (0, 0, {15: 1})
    assert f.orders_by_channel == {"phone": 4, "operator": 1}
    assert (f.visits_due, f.visits_late, f.visits_missed) == (4, 0, 1)
    assert (f.ratings, f.ratings_satisfied, f.complaints) == (1, 1, 1)
    assert (f.elders_enrolled, f.elders_served) == (2, 1)


def test_a_month_holds_its_days(session, day, clock):
    start, end = month_period(f"{local(clock.now()):%Y-%m}")
    f = figures(session, start=start, end=end)
    assert (f.calls_offered, f.after_hours, f.abandoned_in_ivr, f.orders_booked) == (11, 2, 1, 6)


def test_a_period_with_nothing_shows_dashes_not_a_division_by_zero(session, day):
    start, end = month_period("2030-01")
    f = figures(session, start=start, end=end)
    assert f.calls_offered == 0 and f.answer_time.p95 is None
    assert str(f.ivr_containment) == "—" and str(f.satisfaction) == "—" and f.offers_per_order == "—"
    lines = {line.name: line.value for line in summary_lines(f)}
    assert lines["满意率（4–5分）"] == "—" and lines["接听用时"] == "—" and lines["60秒内接听率"] == "—"
    text = format_summary(f)
    assert "运营统计 2030-01-01" in text and "满意率（4–5分）: —" in text


def test_the_summary_shows_each_ratio_with_its_counts(session, day):
    start, end = day
    text = format_summary(figures(session, start=start, end=end))
    assert "60秒内接听率: 50.0%  (2/4)" in text
    assert "转人工：紧急求助（按9）: 1" in text
    assert "满意率（4–5分）: 50.0%  (1/2)" in text
    assert "接听用时: 中位 15秒，95% 45秒  (n=2)" in text


# -- vnh report operations -----------------------------------------------------------------------
@pytest.fixture
def cli(app, monkeypatch):
    from click.testing import CliRunner

    from dispatcher.cli import main

    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    return lambda *args: CliRunner().invoke(main, ["report", "operations", *args])


def test_the_report_prints_a_day_as_text(cli, day):
    result = cli("--month", "2026-11", "--day", "2026-11-25")
    assert result.exit_code == 0, result.output
    assert "运营统计 2026-11-25，全部街道" in result.output
    assert "来电总数: 9" in result.output and "60秒内接听率: 50.0%  (2/4)" in result.output


def test_the_report_writes_a_street_as_csv(cli, day, tmp_path):
    out = tmp_path / "ops.csv"
    result = cli("--month", "2026-11", "--street", STREET_A, "--format", "csv", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith("\ufeff".encode())
    rows = {row["指标"]: row for row in csv.DictReader(out.open(encoding="utf-8-sig"))}
    assert rows["来电总数"]["数值"] == "7"  # the day's six and the one the day before
    assert (rows["满意率（4–5分）"]["分子"], rows["满意率（4–5分）"]["分母"]) == ("1", "1")


def test_the_report_writes_xlsx_that_openpyxl_reads(cli, day, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "ops.xlsx"
    result = cli("--month", "2026-11", "--format", "xlsx", "--output", str(out))
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out).active
    values = {row[1]: row for row in sheet.iter_rows(min_row=3, values_only=True)}
    assert sheet["A1"].value.startswith("运营统计 2026-11-01")
    assert values["来电总数"][2] == "11" and values["新建工单"][3] == 6
    assert values["满意率（4–5分）"][3:] == (1, 2)


@pytest.mark.parametrize(("args", "message"), [
    (("--month", "2026-13"), "not a month"),
    (("--month", "2099-01"), "--month"),
    (("--month", "2026-11", "--day", "2026-12-01"), "not in 2026-11"),
    (("--month", "2026-11", "--day", "25"), "not a day"),
    (("--month", "2026-11", "--format", "xlsx"), "xlsx needs --output"),
])
def test_the_report_refuses_bad_input_naming_the_option(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2 and message in result.output


def test_an_elder_entered_after_the_period_but_served_in_it_counts_as_enrolled(session, day):
    """A record typed in after the visit (or the demo district, simulated in last month)."""
    from dispatcher.models import Elder, Order, Visit

    start, end = day
    served = session.scalars(select(Order.elder_id).join(Visit, Visit.order_id == Order.id)
                             .where(Visit.checked_in_at >= start, Visit.checked_in_at < end)).first()
    session.get(Elder, served).created_at = end + timedelta(days=3)
    session.commit()

    f = figures(session, start=start, end=end)
    assert (f.elders_enrolled, f.elders_served) == (3, 2)
    assert f.elders_served <= f.elders_enrolled
