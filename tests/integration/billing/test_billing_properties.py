"""Property tests: any sequence of visits, outcomes, corrections and closes keeps the books."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing import ledger
from billing.charges import charge_for_month, correct_visit, ref_for
from billing.closing import close_month
from billing.eligibility import facts_on
from billing.models import LedgerPosting as LP
from billing.months import first_day, month_of
from billing.policy import load_policy
from billing.reports import subsidy_csv_lines
from billing.verify import verify_month
from dispatcher.catalogue import load_catalogue
from dispatcher.db import make_engine
from dispatcher.enrollment.identity import check_digit
from dispatcher.models import Elder, Item, Order, Visit
from dispatcher.schema import metadata
from providers.models import Provider

POLICY = load_policy()
ELDERS = [("特困", "能力完好"), ("低保", "轻度失能"), ("优抚", ""), ("高龄", ""),
          ("高龄", "重度失能"), ("普通", "中度失能"), ("普通", "能力完好")]
START = datetime(2026, 11, 3, 1, 0, tzinfo=UTC)

operations = st.lists(st.one_of(
    st.tuples(st.just("visit"), st.integers(0, len(ELDERS) - 1), st.integers(0, 60_000),
              st.sampled_from(("HK06", "CP02"))),  # CP02 上门探访 is free: the government pays
    st.tuples(st.just("verify"), st.integers(0, 30)),
    st.tuples(st.just("deny"), st.integers(0, 30)),
    st.tuples(st.just("correct"), st.integers(0, 30), st.none() | st.integers(0, 60_000),
              st.none() | st.booleans()),
    st.tuples(st.just("reverse_outcome"), st.integers(0, 30)),
    st.tuples(st.just("later"), st.integers(1, 20)),
    st.tuples(st.just("close"),),
), max_size=40)


def _district(session: Session) -> tuple[list[Elder], Provider, dict[str, Item]]:
    load_catalogue(session)
    provider = Provider(code="P1", name="第一家政", license_no="L1", dispatch_phone="+8613800000001",
                        address="城关区", latitude=36.06, longitude=103.83, service_radius_m=5000,
                        capacity_per_day=99, opens_at=time(0), closes_at=time(23, 59),
                        created_at=START)
    elders = []
    for n, (elder_class, level) in enumerate(ELDERS):
        # 高龄 follows the birth date: the 普通 elders are under 80, the others over.
        born = date(1950, 1, 1) if elder_class == "普通" else date(1940, 1, 1)
        first17 = f"620102{born:%Y%m%d}{n:03d}"
        elders.append(Elder(id_number=first17 + check_digit(first17), name=f"老人{n}", gender="F",
                            birth_date=born, address="城关区", street=f"街道{n % 3}",
                            community=f"社区{n % 2}", latitude=36.06, longitude=103.83,
                            elder_class=elder_class, disability_level=level, created_at=START))
    session.add_all([provider, *elders])
    session.flush()
    items = {i.code: i for i in session.scalars(select(Item).where(Item.code.in_(("HK06", "CP02"))))}
    return elders, provider, items


def _book_visit(session, elder, provider, item, price, now, n) -> Visit:
    order = Order(order_no=f"N{n:08d}", job_code=f"{100000 + n}", elder=elder, item=item,
                  state="completed", source="test", slot_code="asap", window_start_at=now,
                  window_end_at=now, provider_id=provider.id, created_at=now, updated_at=now)
    visit = Visit(order=order, provider_id=provider.id, checked_in_at=now, checked_out_at=now)
    session.add(visit)
    session.flush()
    ref = ref_for(visit)
    charge, version = charge_for_month(session, elder=elder, item=item, price_fen=price,
                                       policy=POLICY, month=ref.month)
    ledger.post_charge(session, ref, price_fen=charge.price_fen, subsidy_fen=charge.subsidy_fen,
                       copay_fen=charge.copay_fen, policy_version=version.name, now=now,
                       parts=charge.parts)
    return visit


def _run(session, ops) -> tuple[list[Visit], dict[str, str]]:
    elders, provider, items = _district(session)
    now, visits, closed_reports = START, [], {}
    for op in ops:
        kind, args = op[0], op[1:]
        if kind == "visit":
            visits.append(_book_visit(session, elders[args[0]], provider, items[args[2]], args[1],
                                      now, len(visits)))
        elif kind == "later":
            now += timedelta(days=args[0])
        elif kind == "close":
            month = month_of(now)
            now = datetime(now.year + now.month // 12, now.month % 12 + 1, 2, 1, tzinfo=UTC)
            close_month(session, month, policy=POLICY, now=now, force=True)
            closed_reports[month] = "".join(subsidy_csv_lines(session, month))
        elif visits:
            visit = visits[args[0] % len(visits)]
            ref = ref_for(visit)
            if kind == "verify":
                ledger.post_verification(session, ref, now)
            elif kind == "deny":
                ledger.post_withholding(session, ref, now)
            elif kind == "reverse_outcome":
                # As the app does: a verification is reversed (an integrity hold); a denial the
                # supervisor overturns is corrected, its subsidy worked out again against the cap.
                for txn in ledger.live_transactions(session, visit.id):
                    if txn.kind == ledger.VERIFY:
                        ledger.reverse_transaction(session, ref, txn.key, now)
                    elif txn.kind == ledger.WITHHOLD:
                        correct_visit(session, visit, policy=POLICY, now=now, did_come=True)
            else:
                correct_visit(session, visit, policy=POLICY, now=now, price_fen=args[1],
                              did_come=args[2])
    session.flush()
    return visits, closed_reports


def _balances(session, *where) -> dict[str, int]:
    rows = session.execute(select(LP.account, func.sum(LP.amount_fen)).where(*where)
                           .group_by(LP.account))
    return dict.fromkeys(ledger.ACCOUNTS, 0) | {a: int(t) for a, t in rows}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_any_sequence_keeps_the_books_balanced_capped_and_reconciled(ops):
    engine = make_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as session:
        visits, closed_reports = _run(session, ops)

        unbalanced = session.execute(select(LP.txn_key).group_by(LP.txn_key)
                                     .having(func.sum(LP.amount_fen) != 0)).all()
        assert unbalanced == []

        used = session.execute(
            select(LP.elder_id, LP.service_month, LP.source, func.sum(LP.amount_fen))
            .where(LP.account.in_((ledger.SUBSIDY_PENDING, ledger.SUBSIDY_PAYABLE)))
            .group_by(LP.elder_id, LP.service_month, LP.source))
        pots: dict = {}
        for elder_id, month, source, total in used:
            elder = session.get(Elder, elder_id)
            version = POLICY.version_for_month(month)
            if total == 0:  # e.g. the zero pending leg of a charge no source pays
                continue
            if version.funding is None and source == "city_free":
                continue  # free items: paid whole, outside the pot
            if version.funding is None:  # one monthly pot, whichever entitlement paid
                pots[(elder_id, month)] = pots.get((elder_id, month), 0) + total
                cap = version.allowance_fen(elder.elder_class, elder.disability_level)
                assert 0 <= pots[(elder_id, month)] <= cap, (elder.elder_class, month, total)
            else:  # each source within its own cap
                facts = facts_on(session, elder, first_day(month))
                cap = version.funding.cap_for(source, facts)
                assert 0 <= total <= (cap if cap is not None else total), (source, month, total)

        for visit in visits:
            balance = _balances(session, LP.visit_id == visit.id)
            if visit.order.item.is_free:  # the elder never pays for a free item
                assert balance[ledger.ELDER_COPAY] == 0
            outcome = ledger.visit_outcome(session, visit.id)
            assert min(balance[ledger.SUBSIDY_PENDING], balance[ledger.SUBSIDY_PAYABLE],
                       balance[ledger.SUBSIDY_WITHHELD]) >= 0
            if outcome == ledger.WITHHOLD:  # a denied visit is never paid
                assert balance[ledger.SUBSIDY_PAYABLE] == balance[ledger.SUBSIDY_PENDING] == 0
            if outcome is None:
                assert balance[ledger.SUBSIDY_PAYABLE] == balance[ledger.SUBSIDY_WITHHELD] == 0

        for month in session.scalars(select(LP.month).distinct()):
            result = verify_month(session, month, POLICY)
            assert result.ok, result.problems
        for month, report in closed_reports.items():
            assert "".join(subsidy_csv_lines(session, month)) == report
    engine.dispose()
