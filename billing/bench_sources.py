"""`vnh bench report`'s second half: the month close and `vnh report verify` on a month split
across funding sources, beside the same month booked as one unsplit subsidy (today's shape)."""

from __future__ import annotations

import multiprocessing
import random
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from billing import ledger
from billing.eligibility import ElderFacts, age_on
from billing.models import LedgerPosting
from billing.policy import load_policy
from billing.sources import split_by_sources
from dispatcher.models import Elder, Order, Visit

SPLIT_MONTH = "2026-12"
CLOSED_AT = datetime(2027, 1, 2, tzinfo=UTC)


def build_split_month(session: Session, *, month: str, seed: int) -> int:
    """Book `month`'s visits again in SPLIT_MONTH, a month later, split across the sources of the
    version in force then (a fifth of the elders insured); return the number of visits."""
    rng = random.Random(seed)
    funding = load_policy().version_for_month(SPLIT_MONTH).funding
    version = load_policy().version_for_month(SPLIT_MONTH).name
    elders = {e.id: e for e in session.execute(
        select(Elder.id, Elder.birth_date, Elder.elder_class, Elder.disability_level))}
    insured = {e: rng.random() < 0.2 for e in elders}
    old = session.execute(select(Order.id, Order.elder_id, Order.item_id, Order.provider_id,
                                 Order.quoted_price_fen, Order.window_start_at)
                          .where(Order.order_no.like("B%")).order_by(Order.id)).all()
    offset = max(o.id for o in old)
    used: dict[int, dict[str, int]] = {}
    orders, visit_rows, postings = [], [], []
    for o in old:
        n, at = o.id + offset, o.window_start_at + timedelta(days=30)
        elder = elders[o.elder_id]
        facts = ElderFacts(at.date(), age_on(elder.birth_date, at.date()), elder.elder_class,
                           elder.disability_level or None, insured[o.elder_id])
        price = o.quoted_price_fen
        mine = used.setdefault(o.elder_id, {})
        parts, copay = split_by_sources(price, funding, facts, is_free=False, used=mine)
        orders.append({"id": n, "order_no": f"S{n:011d}", "job_code": f"{n % 900000 + 100000}",
                       "elder_id": o.elder_id, "item_id": o.item_id, "state": "completed",
                       "source": "bench", "slot_code": "asap", "window_start_at": at,
                       "window_end_at": at, "quoted_price_fen": price,
                       "provider_id": o.provider_id, "created_at": at, "updated_at": at})
        visit_rows.append({"id": n, "order_id": n, "provider_id": o.provider_id,
                           "checked_in_at": at, "checked_out_at": at + timedelta(hours=1)})
        legs = [(ledger.CHARGE, None, ledger.charge_legs(price, copay, parts))]
        roll = rng.random()
        outcome = ledger.VERIFY if roll < 0.85 else ledger.WITHHOLD if roll < 0.88 else None
        pending = [(s, f) for (a, s), f in legs[0][2].items() if a == ledger.SUBSIDY_PENDING]
        if outcome:
            moved = {}
            for source, fen in pending:
                moved[(ledger.SUBSIDY_PENDING, source)] = -fen
                moved[(ledger.OUTCOME_ACCOUNTS[outcome], source)] = fen
            legs.append((outcome, f"visit:{n}:charge", moved))
        if outcome != ledger.WITHHOLD:
            for source, fen in parts:
                mine[source] = mine.get(source, 0) + fen
        for kind, original, amounts in legs:
            postings.extend({
                "txn_key": f"visit:{n}:{kind}", "kind": kind, "account": account,
                "source": source, "amount_fen": amount, "month": SPLIT_MONTH,
                "service_month": SPLIT_MONTH, "original_txn_key": original, "order_id": n,
                "visit_id": n, "elder_id": o.elder_id, "provider_id": o.provider_id,
                "elder_class": elder.elder_class, "policy_version": version, "created_at": at,
            } for (account, source), amount in amounts.items())
    for table, rows in ((Order, orders), (Visit, visit_rows), (LedgerPosting, postings)):
        for chunk in range(0, len(rows), 10000):
            session.execute(insert(table), rows[chunk:chunk + 10000])
    return len(old)


def _timed(url: str, what: str, month: str, conn) -> None:
    from sqlalchemy.orm import sessionmaker

    from billing.closing import close_month
    from billing.verify import verify_month
    from dispatcher.db import make_engine

    engine = make_engine(url)
    policy = load_policy()
    started = time.perf_counter()
    with sessionmaker(engine)() as session:
        if what == "close":
            close_month(session, month, policy=policy, now=CLOSED_AT, force=True)
            ok = True
        else:
            result = verify_month(session, month, policy)
            ok = result.ok
        elapsed = time.perf_counter() - started
        session.commit()
    conn.send((elapsed, ok))
    conn.close()


def timed(url: str, what: str, month: str) -> tuple[float, bool]:
    """Close or verify one month in a fresh forked process; return seconds and success."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=_timed, args=(url, what, month, send))
    process.start()
    result = receive.recv()
    process.join()
    return result
