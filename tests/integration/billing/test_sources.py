"""Funding sources through the services, the ledger, the reports and `vnh`: free items paid by
the government, every posting naming its source, corrections re-split, closed months kept."""

from __future__ import annotations

import csv
from datetime import date

from click.testing import CliRunner
from sqlalchemy import select

from billing import ledger
from billing.charges import correct_visit
from billing.closing import close_month
from billing.models import LedgerPosting
from billing.reports import report_tables
from billing.verify import verify_month
from dispatcher.lifecycle import attendance, orders, reviews
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import CallbackReview, Item, Order, Visit

NEAR = (36.0590, 103.8280)
TO_DECEMBER = 6 * 86400 + 3600  # from the tests' 25 November 09:00 to 1 December 10:00 (Beijing)
AGED_70 = date(1956, 3, 5)  # under 80: no 高龄 tier, no age voucher


def _visit(session, policy, settings, clock, elder, item_code) -> Visit:
    item = session.scalar(select(Item).where(Item.code == item_code))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    offer = next(o for o in session.scalars(select(orders.Offer).where(
        orders.Offer.order_id == order.id)) if o.status == "offered")
    assert orders.accept_offer(session, offer, offer.provider_id, "sms", settings, clock.now()).ok
    assert attendance.check_in(session, order, offer.provider_id, "sms", clock.now()).ok
    clock.advance(3600)
    assert attendance.check_out(session, order, offer.provider_id, "sms", policy, settings,
                                clock.now()).ok
    session.commit()
    return session.get(Order, order.id).visit


def _answer(session, visit, did_come, clock):
    review = session.scalar(select(CallbackReview).where(CallbackReview.visit_id == visit.id))
    reviews.record_review_answer(session, review, did_come, clock.now())
    session.commit()


def _detail(session, month):
    return {r["item_code"] + ":" + r["elder_name"]: r
            for t in report_tables(session, "subsidy", month) for r in t.records()}


def _cli(app, monkeypatch, *args):
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    from dispatcher.cli import main

    return CliRunner().invoke(main, list(args))


def test_a_free_item_is_billed_at_its_price_all_subsidy_and_spares_the_elders_cap(
    app, session, policy, settings, clock, make_elder, make_provider, tmp_path, monkeypatch
):
    clock.advance(TO_DECEMBER)
    make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"CP02": 4000, "HK06": 12800})
    elder = make_elder(elder_class="低保", name="李桂兰", birth_date=AGED_70)
    free = _visit(session, policy, settings, clock, elder, "CP02")
    _visit(session, policy, settings, clock, elder, "HK06")
    _answer(session, free, True, clock)

    rows = _detail(session, "2026-12")
    visited = rows["CP02:李桂兰"]
    assert (visited["price"], visited["subsidy"], visited["copay"]) == (4000, 4000, 0)
    assert visited["funding_sources"] == "city_free" and visited["subsidy_city_free"] == 4000
    paid = rows["HK06:李桂兰"]  # the free visit used none of the city's 400.00 for 低保
    assert (paid["subsidy"], paid["copay"], paid["funding_sources"]) == (10240, 2560, "city_class")
    assert paid["subsidy_city_class"] == 10240 and paid["subsidy_city_free"] == 0

    session.commit()
    out = tmp_path / "subsidy.csv"
    result = _cli(app, monkeypatch, "report", "subsidy", "--month", "2026-12", "--lang", "en", "--output",
                  str(out))
    assert result.exit_code == 0, result.output
    for row in csv.DictReader(out.open(encoding="utf-8-sig")):
        named = row["funding_sources"].split(";")
        assert sum(float(row[f"subsidy_{s}"]) for s in named) == float(row["subsidy"])
    result = _cli(app, monkeypatch, "report", "verify", "--month", "2026-12")
    assert result.exit_code == 0, result.output
    assert "city_class 102.40, city_free 40.00" in result.output


def test_every_posting_names_its_source_and_each_source_transaction_balances(
    session, policy, settings, clock, make_elder, make_provider
):
    clock.advance(TO_DECEMBER)
    make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"HK06": 12800})
    elder = make_elder(elder_class="低保", disability_level="中度失能", name="张德明",
                       birth_date=AGED_70)
    visit = _visit(session, policy, settings, clock, elder, "HK06")
    _answer(session, visit, True, clock)

    postings = session.scalars(select(LedgerPosting).where(LedgerPosting.visit_id == visit.id))
    legs = {(p.kind, p.account, p.source): p.amount_fen for p in postings}
    assert legs == {
        ("charge", "subsidy_pending", "national_voucher"): 6400,
        # the city's 80% of the price, down to what the voucher left
        ("charge", "subsidy_pending", "city_class"): 6400,
        ("charge", "elder_copay", "elder"): 0,
        ("charge", "provider_revenue", "all"): -12800,
        ("verify", "subsidy_pending", "national_voucher"): -6400,
        ("verify", "subsidy_payable", "national_voucher"): 6400,
        ("verify", "subsidy_pending", "city_class"): -6400,
        ("verify", "subsidy_payable", "city_class"): 6400,
    }
    assert verify_month(session, "2026-12", policy).ok


def test_a_correction_re_splits_and_a_closed_month_never_changes(
    app, session, policy, settings, clock, make_elder, make_provider, tmp_path, monkeypatch
):
    make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"HK06": 12800})
    elder = make_elder(elder_class="特困", disability_level="中度失能", name="王秀英")
    november = _visit(session, policy, settings, clock, elder, "HK06")
    _answer(session, november, True, clock)
    clock.advance(TO_DECEMBER)
    december = _visit(session, policy, settings, clock, elder, "HK06")
    close_month(session, "2026-11", policy=policy, now=clock.now())
    session.commit()
    closed_report = [list(t.records()) for t in report_tables(session, "subsidy", "2026-11")]

    correct_visit(session, december, policy=policy, now=clock.now(), price_fen=10000)
    correct_visit(session, november, policy=policy, now=clock.now(), price_fen=10000)
    session.commit()

    live = ledger.live_transactions(session, december.id)
    assert [t.parts for t in live if t.kind == "charge"] == [{
        ("subsidy_pending", "national_voucher"): 5000, ("subsidy_pending", "city_class"): 5000,
        ("elder_copay", "elder"): 0, ("provider_revenue", "all"): -10000}]
    # November's version was written before sources: its one entitlement names the source.
    adjustment = [t for t in ledger.live_transactions(session, november.id) if t.kind == "charge"]
    assert adjustment[0].month == "2026-12"
    assert adjustment[0].parts[("subsidy_pending", "city_class")] == 10000
    assert [list(t.records()) for t in report_tables(session, "subsidy", "2026-11")] == \
        closed_report
    for month in ("2026-11", "2026-12"):
        result = verify_month(session, month, policy)
        assert result.ok, result.problems
    assert sum(result.sources.values()) == result.expected["subsidy"]

    session.commit()  # end the read, so that the command's own session may write
    out = tmp_path / "voucher.xlsx"
    result = _cli(app, monkeypatch, "report", "source", "--source", "national_voucher",
                  "--month", "2026-12", "--format", "xlsx", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 1 rows of the national_voucher report" in result.output


def test_a_source_report_lists_only_what_that_source_paid(
    app, session, policy, settings, clock, make_elder, make_provider, tmp_path, monkeypatch
):
    clock.advance(TO_DECEMBER)
    make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"HK06": 12800})
    _visit(session, policy, settings, clock, make_elder(elder_class="普通",
                                                        disability_level="重度失能",
                                                        name="刘建国"), "HK06")
    _visit(session, policy, settings, clock, make_elder(elder_class="特困", name="赵淑珍"),
           "HK06")
    out = tmp_path / "voucher.csv"
    result = _cli(app, monkeypatch, "report", "source", "--source", "national_voucher",
                  "--month", "2026-12", "--lang", "en", "--output", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [(r["elder_name"], r["source"], r["price"], r["source_subsidy"], r["source_pending"])
            for r in rows] == [("刘建国", "national_voucher", "128.00", "64.00", "64.00")]
    # For people (the default): the funding body's report in Chinese, the source by its name.
    result = _cli(app, monkeypatch, "report", "source", "--source", "national_voucher",
                  "--month", "2026-12", "--output", str(out))
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [(r["老人姓名"], r["资金来源"], r["该来源补贴（元）"]) for r in rows] == [
        ("刘建国", "国家居家养老服务消费补贴", "64.00")]

    result = _cli(app, monkeypatch, "report", "source", "--source", "lottery", "--month",
                  "2026-12", "--output", str(out))
    assert result.exit_code == 2 and "'lottery' is not a funding source" in result.output


def test_vnh_refuses_to_start_on_a_policy_whose_sources_cannot_work_naming_the_line(
    app, tmp_path, monkeypatch
):
    from billing.policy import DEFAULT_POLICY_PATH

    bad = tmp_path / "policy.toml"
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    bad.write_text(text.replace("share_percent = 70", "share_percent = 120", 1), encoding="utf-8")
    line = next(n for n, t in enumerate(bad.read_text(encoding="utf-8").splitlines(), 1)
                if t == "share_percent = 120")
    monkeypatch.setenv("VNH_POLICY_FILE", str(bad))
    result = _cli(app, monkeypatch, "report", "verify", "--month", "2026-11")
    assert result.exit_code == 1
    assert f"{bad}:{line}: version '2026-12': source 'ltc_insurance': share_percent: 120%" in \
        result.output


def test_under_sources_an_elder_with_no_class_is_refused_at_check_out_naming_the_field(
    session, policy, settings, clock, make_elder, make_provider
):
    import pytest

    clock.advance(TO_DECEMBER)
    make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"HK06": 12800})
    elder = make_elder(elder_class="")
    with pytest.raises(ValueError, match="elder_class"):
        _visit(session, policy, settings, clock, elder, "HK06")
    session.rollback()
    assert session.scalar(select(LedgerPosting.id).limit(1)) is None
