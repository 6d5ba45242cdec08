"""The ledger, the monthly close and the reports on a real database, driven through the orders."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import func, select, text

from billing import ledger
from billing.charges import correct_visit
from billing.closing import PendingReviewsBlockClose, close_month
from billing.models import ClosedMonth, LedgerIsAppendOnly, LedgerPosting
from billing.months import MonthError
from billing.reports import (
    SUBSIDY_COLUMNS,
    report_tables,
    settlement_tables,
    subsidy_csv_lines,
    subsidy_rows,
)
from billing.verify import verify_month
from dispatcher.lifecycle import attendance, orders, ranking, reviews
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import CallbackReview, Item, Order, Visit

NEAR = (36.0590, 103.8280)
DECEMBER = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 on 1 December in Beijing


def _visit(session, policy, settings, clock, elder, item_code="HK01") -> Visit:
    """Book, accept, check in and check out one visit for the elder; return the visit."""
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


def _rows(session, kind, month):
    return [row for table in report_tables(session, kind, month) for row in table.records()]


def _txn_sums(session):
    return dict(session.execute(select(LedgerPosting.txn_key, func.sum(LedgerPosting.amount_fen))
                                .group_by(LedgerPosting.txn_key)).all())


@pytest.fixture
def provider(make_provider):
    return make_provider(latitude=NEAR[0], longitude=NEAR[1],
                         offerings={"HK01": 4800, "HK06": 12800, "LC01": 0})


# -- append-only ------------------------------------------------------------------------------

def test_a_ledger_posting_cannot_be_updated_or_deleted_through_the_orm(
    session, policy, settings, clock, make_elder, provider
):
    _visit(session, policy, settings, clock, make_elder())
    posting = session.scalars(select(LedgerPosting)).first()
    posting.amount_fen += 1
    with pytest.raises(LedgerIsAppendOnly, match="never|must not be updated"):
        session.flush()
    session.rollback()
    session.delete(session.scalars(select(LedgerPosting)).first())
    with pytest.raises(LedgerIsAppendOnly, match="must not be deleted"):
        session.flush()


def test_the_database_itself_refuses_to_update_or_delete_a_posting(
    session, policy, settings, clock, make_elder, provider
):
    _visit(session, policy, settings, clock, make_elder())
    for statement in ("UPDATE ledger_postings SET amount_fen = 0",
                      "DELETE FROM ledger_postings"):
        with pytest.raises(Exception, match="never"):
            session.execute(text(statement))
        session.rollback()
    assert session.scalar(select(func.count()).select_from(LedgerPosting)) == 3


# -- reversal and correction ------------------------------------------------------------------

def test_a_denied_visit_found_to_have_happened_is_corrected_by_reversal_and_new_entries(
    session, policy, settings, clock, make_elder, provider
):
    visit = _visit(session, policy, settings, clock, make_elder(elder_class="低保"))
    _answer(session, visit, False, clock)

    correct_visit(session, visit, policy=policy, now=clock.now(), did_come=True)
    session.commit()

    kinds = [(t.key, t.kind) for t in ledger.visit_transactions(session, visit.id)]
    assert kinds == [
        (f"visit:{visit.id}:charge", "charge"), (f"visit:{visit.id}:withhold", "withhold"),
        (f"visit:{visit.id}:withhold:rev", "reverse_withhold"),
        (f"visit:{visit.id}:charge:rev", "reverse_charge"),
        (f"visit:{visit.id}:charge:2", "charge"), (f"visit:{visit.id}:verify", "verify"),
    ]
    assert all(total == 0 for total in _txn_sums(session).values())
    assert ledger.visit_outcome(session, visit.id) == "verify"
    (row,) = _rows(session, "subsidy", "2026-11")
    assert (row["subsidy"], row["payable"], row["withheld"], row["review_result"]) == (
        3840, 3840, 0, "verified")


def test_a_restored_visit_never_takes_the_elder_past_the_monthly_cap(
    session, policy, settings, clock, make_elder, provider
):
    elder = make_elder(elder_class="高龄")  # 50%, 200 yuan a month
    first = _visit(session, policy, settings, clock, elder, "HK06")  # 128 yuan → 64 subsidy
    _answer(session, first, False, clock)
    for _ in range(3):  # 64 + 64 + 64 = 192 once the first is withheld
        _visit(session, policy, settings, clock, elder, "HK06")

    charge = correct_visit(session, first, policy=policy, now=clock.now(), did_come=True)
    session.commit()

    assert (charge.subsidy_fen, charge.copay_fen) == (800, 12000)
    assert ledger.subsidy_used(session, elder.id, "2026-11") == 20000


def test_a_reversal_is_never_reversed_and_a_charge_is_not_reversed_under_its_outcome(
    session, policy, settings, clock, make_elder, provider
):
    visit = _visit(session, policy, settings, clock, make_elder())
    ref = attendance.visit_ref(visit.order, visit)
    _answer(session, visit, True, clock)
    with pytest.raises(ledger.LedgerError, match="outcome before its charge"):
        ledger.reverse_transaction(session, ref, f"visit:{visit.id}:charge", clock.now())
    assert ledger.reverse_transaction(session, ref, f"visit:{visit.id}:verify", clock.now())
    assert not ledger.reverse_transaction(session, ref, f"visit:{visit.id}:verify", clock.now())
    with pytest.raises(ledger.LedgerError, match="is a reversal"):
        ledger.reverse_transaction(session, ref, f"visit:{visit.id}:verify:rev", clock.now())


def test_a_withholding_is_not_reversed_on_its_own_so_the_month_s_cap_is_asked_again(
    session, policy, settings, clock, make_elder, provider
):
    """Reversing a denial would put its subsidy back on a pot another visit may have used since
    (found by the property test: 100.01 + 100.00 yuan on a 200-yuan month). A correction works
    the subsidy out again against the cap."""
    elder = make_elder(elder_class="高龄")  # 50%, 200 yuan a month
    first = _visit(session, policy, settings, clock, elder, "HK06")  # 64 yuan subsidy
    _answer(session, first, False, clock)
    for _ in range(3):
        _visit(session, policy, settings, clock, elder, "HK06")  # 192 yuan used
    ref = attendance.visit_ref(first.order, first)
    with pytest.raises(ledger.LedgerError, match="corrected"):
        ledger.reverse_transaction(session, ref, f"visit:{first.id}:withhold", clock.now())
    correct_visit(session, first, policy=policy, now=clock.now(), did_come=True)
    session.commit()
    assert ledger.subsidy_used(session, elder.id, "2026-11") == 20000
    assert ledger.visit_outcome(session, first.id) == ledger.VERIFY


# -- the monthly close ------------------------------------------------------------------------

def test_a_month_with_pending_reviews_closes_only_with_force_and_lists_them(
    session, policy, settings, clock, make_elder, provider
):
    visit = _visit(session, policy, settings, clock, make_elder())
    clock.set(DECEMBER)

    with pytest.raises(PendingReviewsBlockClose) as refused:
        close_month(session, "2026-11", policy=policy, now=clock.now())
    session.rollback()
    assert [p.visit_id for p in refused.value.pending] == [visit.id]
    assert session.get(ClosedMonth, "2026-11") is None

    result = close_month(session, "2026-11", policy=policy, now=clock.now(), force=True)
    session.commit()
    assert result.closed.is_forced and result.closed.pending_reviews == 1
    assert result.closed.totals[ledger.SUBSIDY_PENDING] == 4800


def test_closing_twice_is_harmless(session, policy, settings, clock, make_elder, provider):
    _answer(session, _visit(session, policy, settings, clock, make_elder()), True, clock)
    clock.set(DECEMBER)
    first = close_month(session, "2026-11", policy=policy, now=clock.now())
    session.commit()
    clock.advance(86400)
    again = close_month(session, "2026-11", policy=policy, now=clock.now())
    session.commit()
    assert not first.was_closed_already and again.was_closed_already
    assert again.closed.closed_at == DECEMBER


def test_a_month_that_has_not_ended_cannot_be_closed(session, policy, clock):
    with pytest.raises(MonthError, match="month: 2026-11 has not ended yet"):
        close_month(session, "2026-11", policy=policy, now=clock.now())
    assert session.scalar(select(func.count()).select_from(ClosedMonth)) == 0


def test_a_late_outcome_for_a_closed_month_is_an_adjustment_in_the_next_month_and_the_closed_report_never_moves(
    session, policy, settings, clock, make_elder, provider
):
    elder = make_elder(elder_class="低保")
    verified = _visit(session, policy, settings, clock, elder)
    late = _visit(session, policy, settings, clock, elder)
    _answer(session, verified, True, clock)
    clock.set(DECEMBER)
    close_month(session, "2026-11", policy=policy, now=clock.now(), force=True)
    session.commit()
    november_csv = "".join(subsidy_csv_lines(session, "2026-11"))

    _answer(session, late, False, clock)

    withhold = session.scalars(select(LedgerPosting).where(
        LedgerPosting.visit_id == late.id, LedgerPosting.kind == "withhold")).all()
    assert {(p.month, p.service_month, p.original_txn_key) for p in withhold} == {
        ("2026-12", "2026-11", f"visit:{late.id}:charge")}
    assert "".join(subsidy_csv_lines(session, "2026-11")) == november_csv
    (adjustment,) = _rows(session, "subsidy", "2026-12")
    assert (adjustment["entry"], adjustment["adjusts_month"], adjustment["order_no"]) == (
        "adjustment", "2026-11", late.order.order_no)
    assert (adjustment["price"], adjustment["pending"], adjustment["withheld"],
            adjustment["review_result"]) == (0, -3840, 3840, "denied")
    (settlement,) = _rows(session, "settlement", "2026-12")
    assert (settlement["visits"], settlement["adjustments"], settlement["withheld"]) == (0, 1, 3840)
    assert verify_month(session, "2026-11", policy).ok
    assert verify_month(session, "2026-12", policy).ok


def test_the_database_refuses_a_posting_booked_into_a_closed_month(
    session, policy, settings, clock, make_elder, provider
):
    visit = _visit(session, policy, settings, clock, make_elder())
    _answer(session, visit, True, clock)
    clock.set(DECEMBER)
    close_month(session, "2026-11", policy=policy, now=clock.now())
    session.commit()
    ref = attendance.visit_ref(visit.order, visit)
    with pytest.raises(Exception, match="closed"):
        session.execute(LedgerPosting.__table__.insert().values(
            txn_key="sneaky", kind="charge", account=ledger.ELDER_COPAY, amount_fen=0,
            month="2026-11", service_month="2026-11", order_id=ref.order_id,
            visit_id=ref.visit_id, elder_id=ref.elder_id, provider_id=ref.provider_id,
            elder_class="特困", policy_version="2026-01", created_at=clock.now()))


# -- a month driven through the orders, worked by hand ----------------------------------------

def _november(session, policy, settings, clock, make_elder, make_provider):
    """Elders of every class, a visit each (two for 高龄), one denied, one left pending."""
    make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"HK01": 4800, "HK06": 12800},
                  code="P9001", name="=cmd|' /C calc'!A0")
    elders = {
        "特困": make_elder(elder_class="特困", name="王秀英"),
        "低保": make_elder(elder_class="低保", name="李桂兰", street="张掖路街道",
                          community="南关社区"),
        "优抚": make_elder(elder_class="优抚", name="张德明"),
        "高龄": make_elder(elder_class="高龄", name="赵淑珍", street="张掖路街道",
                          community="南关社区"),
        "普通": make_elder(elder_class="普通", disability_level="中度失能", name="刘建国",
                          birth_date=date(1956, 6, 1)),  # under 80: 高龄 follows the birth date
    }
    visits = {c: _visit(session, policy, settings, clock, e, "HK06") for c, e in elders.items()}
    visits["高龄2"] = _visit(session, policy, settings, clock, elders["高龄"], "HK06")
    for key in ("特困", "低保", "高龄", "高龄2", "普通"):
        _answer(session, visits[key], key != "低保", clock)
    return elders, visits  # 优抚 stays pending


# 128.00 yuan each: 特困 100% → 128.00; 低保 80% → 102.40 (denied); 优抚 80% → 102.40 (pending);
# 高龄 50% → 64.00 twice; 普通 with 中度失能 → the voucher's 50% → 64.00.
HAND_WORKED = {
    "王秀英": ("128.00", "128.00", "0.00", "verified"),
    "李桂兰": ("128.00", "102.40", "25.60", "denied"),
    "张德明": ("128.00", "102.40", "25.60", "pending"),
    "赵淑珍": ("128.00", "64.00", "64.00", "verified"),
    "刘建国": ("128.00", "64.00", "64.00", "verified"),
}


def test_the_subsidy_report_of_a_month_matches_the_policy_worked_by_hand(
    app, session, policy, settings, clock, make_elder, make_provider, tmp_path, monkeypatch
):
    _november(session, policy, settings, clock, make_elder, make_provider)
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    from dispatcher.cli import main

    out = tmp_path / "subsidy.csv"
    result = CliRunner().invoke(main, ["report", "subsidy", "--month", "2026-11",
                                       "--output", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith("\ufeff".encode())
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert len(rows) == 6
    for row in rows:
        assert (row["price"], row["subsidy"], row["copay"], row["review_result"]) == \
            HAND_WORKED[row["elder_name"]]
        assert row["provider_name"] == "'=cmd|' /C calc'!A0"
        assert row["entry"] == "visit" and row["month"] == "2026-11"
    payable = sum(float(r["payable"]) for r in rows)
    assert f"{payable:.2f}" == "320.00"  # 128 + 64 + 64 + 64; the denied 102.40 is never paid


def test_every_summary_and_the_settlement_total_to_the_detail_to_the_fen(
    session, policy, settings, clock, make_elder, make_provider
):
    _november(session, policy, settings, clock, make_elder, make_provider)
    detail = _rows(session, "subsidy", "2026-11")
    want = {m: sum(r[m] for r in detail) for m in ("price", "subsidy", "copay", "payable",
                                                    "withheld", "pending")}
    assert want == {"price": 76800, "subsidy": 52480, "copay": 24320, "payable": 32000,
                    "withheld": 10240, "pending": 10240}
    tables = report_tables(session, "summary", "2026-11") + \
        report_tables(session, "settlement", "2026-11")
    assert len(tables) == 6
    for table in tables:
        rows = list(table.records())
        assert {m: sum(r[m] for r in rows) for m in want} == want, table.title
        assert sum(r["visits"] for r in rows) == 6
    streets = {r["group_code"]: r for r in list(report_tables(session, "summary", "2026-11")[0].records())}
    assert streets["张掖路街道"]["elders"] == 2 and streets["张掖路街道"]["visits"] == 3
    (settlement,) = _rows(session, "settlement", "2026-11")
    assert (settlement["verified"], settlement["denied"], settlement["pending_reviews"]) == (4, 1, 1)


def test_xlsx_reports_have_a_totals_row_equal_to_the_ledger(
    app, session, policy, settings, clock, make_elder, make_provider, tmp_path, monkeypatch
):
    _november(session, policy, settings, clock, make_elder, make_provider)
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    from dispatcher.cli import main

    for kind, sheets in (("subsidy", 1), ("summary", 5), ("settlement", 1)):
        out = tmp_path / f"{kind}.xlsx"
        result = CliRunner().invoke(main, ["report", kind, "--month", "2026-11", "--format",
                                           "xlsx", "--output", str(out), "--lang", "en"])
        assert result.exit_code == 0, result.output
        book = load_workbook(out)
        assert len(book.worksheets) == sheets
        for sheet in book.worksheets:
            header = [c.value for c in sheet[1]]
            last = [c.value for c in sheet[sheet.max_row]]
            assert last[0] == "合计" and sheet.freeze_panes == "A2"
            assert last[header.index("subsidy")] == pytest.approx(524.80)
            assert last[header.index("payable")] == pytest.approx(320.00)
            assert sheet.cell(2, header.index("price") + 1).number_format == "#,##0.00"


def test_verify_passes_on_a_sound_month_and_names_every_difference_otherwise(
    app, session, policy, settings, clock, make_elder, make_provider, monkeypatch
):
    elders, visits = _november(session, policy, settings, clock, make_elder, make_provider)
    _answer(session, visits["优抚"], True, clock)
    clock.set(DECEMBER)
    close_month(session, "2026-11", policy=policy, now=clock.now())
    session.commit()
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    from dispatcher.cli import main

    ok = CliRunner().invoke(main, ["report", "verify", "--month", "2026-11"])
    assert ok.exit_code == 0, ok.output
    assert "agree with the ledger to the fen" in ok.output and "subsidy 524.80" in ok.output

    # Tamper behind the ledger's back: the snapshot taken at the close no longer matches.
    session.execute(text("UPDATE closed_months SET totals = :t"),
                    {"t": '{"subsidy_payable": 42000}'})
    session.commit()
    bad = CliRunner().invoke(main, ["report", "verify", "--month", "2026-11"])
    assert bad.exit_code == 1
    assert "subsidy_payable was 420.00 at the close and is 422.40 now" in bad.output


def test_verify_names_an_unbalanced_transaction_and_a_charge_under_the_wrong_version(
    session, policy, settings, clock, make_elder, make_provider
):
    elders, visits = _november(session, policy, settings, clock, make_elder, make_provider)
    ref = attendance.visit_ref(visits["特困"].order, visits["特困"])
    session.execute(LedgerPosting.__table__.insert().values(
        txn_key="hand-made", kind="charge", account=ledger.SUBSIDY_PAYABLE, amount_fen=1,
        month="2026-11", service_month="2026-11", order_id=ref.order_id, visit_id=ref.visit_id,
        elder_id=ref.elder_id, provider_id=ref.provider_id, elder_class="特困",
        policy_version="2025-07", created_at=clock.now()))
    problems = verify_month(session, "2026-11", policy).problems
    assert "ledger: transaction hand-made sums to 0.01, not zero" in problems
    assert any("name policy version 2025-07, but 2026-01 is in force" in p for p in problems)


# -- bad input: a clear error naming the field, nothing written --------------------------------

def test_check_out_for_an_elder_with_no_class_fails_naming_the_field_and_writes_nothing(
    session, policy, settings, clock, make_elder, provider
):
    elder = make_elder(elder_class="")
    with pytest.raises(ValueError, match="elder_class"):
        _visit(session, policy, settings, clock, elder)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(LedgerPosting)) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "subsidy", "--month", "2026-13", "--output", "{out}"], "not a month like"),
        (["report", "summary", "--month", "2099-01", "--output", "{out}"],
         "2099-01 has not started yet"),
        (["report", "verify", "--month", "11/2026"], "not a month like"),
        (["month", "close", "2099-01"], "2099-01 has not ended yet"),
        (["month", "close", "2026-1"], "not a month like"),
    ],
)
def test_a_bad_month_is_a_clear_error_and_nothing_is_written(
    app, tmp_path, monkeypatch, args, message
):
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    from dispatcher.cli import main

    (tmp_path / "reports").mkdir()
    out = tmp_path / "reports" / "out.csv"
    result = CliRunner().invoke(main, [a.format(out=out) for a in args])
    assert result.exit_code == 2
    assert message in result.output
    assert list((tmp_path / "reports").iterdir()) == []


def test_a_policy_file_with_a_typo_is_a_clear_error_for_the_report_commands(
    app, tmp_path, monkeypatch
):
    from billing.policy import DEFAULT_POLICY_PATH

    bad = tmp_path / "policy.toml"
    bad.write_text(DEFAULT_POLICY_PATH.read_text(encoding="utf-8").replace(
        "share_percent = 80", "share_percnt = 80", 1), encoding="utf-8")
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("VNH_POLICY_FILE", str(bad))
    from dispatcher.cli import main

    out = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["report", "subsidy", "--month", "2026-11",
                                       "--output", str(out), "--lang", "en"])
    assert result.exit_code == 1
    assert "share_percnt: unknown field" in result.output
    assert not out.exists()


def test_month_close_on_the_command_line_lists_pending_reviews_and_needs_force(
    app, session, policy, settings, clock, make_elder, provider, monkeypatch
):
    # The command line runs on the real clock, so the month must be over for real: October.
    clock.set(datetime(2026, 10, 20, 1, 0, tzinfo=UTC))
    order_no = _visit(session, policy, settings, clock, make_elder(name="王秀英")).order.order_no
    session.rollback()  # SQLite: every transaction holds the write lock until it ends
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    from dispatcher.cli import main

    refused = CliRunner().invoke(main, ["month", "close", "2026-10"])
    assert refused.exit_code == 1
    assert f"order {order_no}" in refused.output and "--force" in refused.output
    forced = CliRunner().invoke(main, ["month", "close", "2026-10", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "closed 2026-10 under policy version 2026-01 with 1 reviews pending" in forced.output
    again = CliRunner().invoke(main, ["month", "close", "2026-10"])
    assert again.exit_code == 0 and "already closed" in again.output
    assert session.get(ClosedMonth, "2026-10").pending_reviews == 1


def test_verify_names_a_policy_version_edited_after_the_month_was_closed(
    session, policy, settings, clock, make_elder, provider, tmp_path
):
    from billing.policy import DEFAULT_POLICY_PATH, load_policy

    _answer(session, _visit(session, policy, settings, clock, make_elder()), True, clock)
    clock.set(DECEMBER)
    close_month(session, "2026-11", policy=policy, now=clock.now())
    session.commit()
    edited = tmp_path / "policy.toml"
    edited.write_text(DEFAULT_POLICY_PATH.read_text(encoding="utf-8").replace(
        'monthly_cap_yuan = "600.00"', 'monthly_cap_yuan = "650.00"'), encoding="utf-8")

    assert verify_month(session, "2026-11", policy).ok
    (problem,) = verify_month(session, "2026-11", load_policy(edited)).problems
    assert "version 2026-01, in force for the closed month 2026-11, has been edited" in problem


# -- rollover ---------------------------------------------------------------------------------

ROLLOVER_POLICY = """
rounding = "down"
[[version]]
name = "2026-01"
effective_from = 2026-01-01
rollover = false
[[version.class]]
code = "高龄"
share_percent = 100
monthly_cap_yuan = "60.00"
[[version]]
name = "2026-12"
effective_from = 2026-12-01
rollover = true
[[version.class]]
code = "高龄"
share_percent = 100
monthly_cap_yuan = "60.00"
"""


def test_under_a_rollover_version_novembers_unused_allowance_is_quoted_and_charged_in_december(
    session, settings, clock, make_elder, provider, tmp_path
):
    from billing.policy import load_policy

    path = tmp_path / "policy.toml"
    path.write_text(ROLLOVER_POLICY, encoding="utf-8")
    policy = load_policy(path)
    elder = make_elder(elder_class="高龄")
    november = _visit(session, policy, settings, clock, elder)  # 48 yuan of November's 60
    assert ledger.subsidy_used(session, elder.id, "2026-11") == 4800

    clock.set(DECEMBER)
    item = session.scalar(select(Item).where(Item.code == "HK06"))
    quoted = ranking.quote(session, elder, item, slot_for("asap", clock.now()), policy, clock.now())
    assert (quoted.price_fen, quoted.subsidy_fen, quoted.copay_fen) == (12800, 7200, 5600)
    december = _visit(session, policy, settings, clock, elder, item_code="HK06")
    charged = {p.account: p.amount_fen for p in session.scalars(
        select(LedgerPosting).where(LedgerPosting.visit_id == december.id))}
    assert (charged[ledger.SUBSIDY_PENDING], charged[ledger.ELDER_COPAY]) == (7200, 5600)
    assert november.id != december.id


def test_one_providers_settlement_and_detail_are_its_rows_of_the_whole_months(
    session, policy, settings, clock, make_elder, make_provider
):
    cleaning = make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"HK01": 4800}, code="P1")
    bathing = make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"HK06": 12800}, code="P2")
    for code in ("HK01", "HK06", "HK06"):
        _answer(session, _visit(session, policy, settings, clock, make_elder(), code), True, clock)

    (whole,) = settlement_tables(session, "2026-11")
    everything = list(subsidy_rows(session, "2026-11"))
    column = SUBSIDY_COLUMNS.index("provider_code")
    for provider, visits in ((cleaning, 1), (bathing, 2)):
        (own,) = settlement_tables(session, "2026-11", provider.id)
        assert list(own.records()) == [r for r in whole.records() if r["provider_code"] == provider.code]
        rows = list(subsidy_rows(session, "2026-11", provider.id))
        assert len(rows) == visits and rows == [r for r in everything if r[column] == provider.code]
