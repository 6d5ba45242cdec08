from datetime import UTC, datetime

import pytest

from billing.ledger import (
    ELDER_COPAY,
    PROVIDER_REVENUE,
    SUBSIDY_PENDING,
    UnbalancedTransaction,
    VisitRef,
    _post,
    post_charge,
)

REF = VisitRef(
    order_id=1, visit_id=7, elder_id=3, provider_id=5, elder_class="low_income", month="2026-11"
)
NOW = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


class RecordingSession:
    """Just enough of a Session to see what a posting would write."""

    def __init__(self, existing_id=None):
        self.existing_id = existing_id
        self.added = []
        self.flushes = 0

    def scalar(self, statement):
        return self.existing_id

    def add_all(self, rows):
        self.added.extend(rows)

    def flush(self):
        self.flushes += 1


@pytest.mark.parametrize(
    "legs",
    [
        {SUBSIDY_PENDING: 2400, ELDER_COPAY: 2400, PROVIDER_REVENUE: -4799},
        {SUBSIDY_PENDING: 1, PROVIDER_REVENUE: 0},
        {SUBSIDY_PENDING: -100},
    ],
)
def test_an_unbalanced_transaction_is_refused_before_anything_is_written(legs):
    session = RecordingSession()
    with pytest.raises(UnbalancedTransaction, match="visit 7"):
        _post(session, REF, "charge", legs, "2026-01", NOW)
    assert (session.added, session.flushes) == ([], 0)


def test_a_charge_whose_shares_do_not_add_up_to_the_price_is_refused():
    session = RecordingSession()
    with pytest.raises(UnbalancedTransaction):
        post_charge(
            session,
            REF,
            price_fen=4800,
            subsidy_fen=2400,
            copay_fen=2399,
            policy_version="2026-01",
            now=NOW,
        )
    assert session.added == []


def test_a_balanced_charge_writes_one_posting_per_leg():
    session = RecordingSession()
    assert (
        post_charge(
            session,
            REF,
            price_fen=4800,
            subsidy_fen=2400,
            copay_fen=2400,
            policy_version="2026-01",
            now=NOW,
        )
        is True
    )
    legs = {p.account: p.amount_fen for p in session.added}
    assert legs == {SUBSIDY_PENDING: 2400, ELDER_COPAY: 2400, PROVIDER_REVENUE: -4800}
    assert {p.txn_key for p in session.added} == {"visit:7:charge"}
    assert session.flushes == 1


def test_a_transaction_already_written_is_not_written_again():
    session = RecordingSession(existing_id=99)
    assert (
        post_charge(
            session,
            REF,
            price_fen=4800,
            subsidy_fen=2400,
            copay_fen=2400,
            policy_version="2026-01",
            now=NOW,
        )
        is False
    )
    assert session.added == []
