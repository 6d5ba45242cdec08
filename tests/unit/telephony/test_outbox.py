import random
from datetime import timedelta

import pytest

from telephony.outbox import STATUS_RANK, retry_delay

CEILINGS = {1: 5, 2: 10, 3: 20, 4: 40, 5: 80, 6: 160, 7: 320, 8: 600, 9: 600, 30: 600, 1000: 600}
SEEDS = range(50)


@pytest.mark.parametrize(("attempts", "ceiling"), CEILINGS.items())
def test_the_retry_delay_is_jittered_between_half_the_ceiling_and_the_ceiling(attempts, ceiling):
    delays = [retry_delay(attempts, random.Random(seed)) for seed in SEEDS]
    assert all(timedelta(seconds=ceiling / 2) <= d <= timedelta(seconds=ceiling) for d in delays)
    assert len(set(delays)) > 1


@pytest.mark.parametrize("attempts", range(1, 7))
def test_each_retry_waits_at_least_as_long_as_the_one_before_until_the_cap(attempts):
    longest_now = max(retry_delay(attempts, random.Random(seed)) for seed in SEEDS)
    shortest_next = min(retry_delay(attempts + 1, random.Random(seed)) for seed in SEEDS)
    assert shortest_next >= longest_now


def test_the_retry_delay_never_exceeds_ten_minutes():
    rng = random.Random(7)
    assert max(retry_delay(n, rng) for n in range(1, 200)) <= timedelta(minutes=10)
    assert retry_delay(200, rng) >= timedelta(minutes=5)


def test_the_same_seed_gives_the_same_delay():
    assert retry_delay(4, random.Random(42)) == retry_delay(4, random.Random(42))


def test_call_statuses_rank_in_the_order_they_happen():
    order = ["queued", "sent", "ringing", "in-progress", "completed"]
    ranks = [STATUS_RANK[s] for s in order]
    assert ranks == sorted(set(ranks))


def test_sms_statuses_rank_in_the_order_they_happen():
    assert (
        STATUS_RANK["queued"]
        < STATUS_RANK["sending"]
        < STATUS_RANK["sent"]
        < STATUS_RANK["delivered"]
    )


@pytest.mark.parametrize(
    "final", ["completed", "delivered", "undelivered", "busy", "no-answer", "canceled", "failed"]
)
def test_every_final_status_outranks_every_passing_one(final):
    passing = ["queued", "sending", "sent", "initiated", "ringing", "in-progress", "answered"]
    assert all(STATUS_RANK[final] > STATUS_RANK[s] for s in passing)


def _claimed():
    from datetime import UTC, datetime

    from telephony.models import OutboxMessage

    claimed = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    return OutboxMessage(id=7, kind="sms", status="sending", sid=None, attempts=1, to_number="+8613912340001",
                         from_number="+869312345678", body="您好", claimed_at=claimed,
                         next_attempt_at=claimed, created_at=claimed)


def test_an_abandoned_claim_the_network_carried_adopts_its_sid_as_sent_at_the_claim():
    from telephony.outbox import settle

    message = _claimed()
    assert settle(message, "SM" + "1" * 32, message.claimed_at + timedelta(minutes=5)) is True
    assert (message.status, message.sid, message.sent_at) == ("sent", "SM" + "1" * 32, message.claimed_at)


def test_an_abandoned_claim_the_network_never_carried_is_queued_again_at_once():
    from telephony.outbox import settle

    message = _claimed()
    later = message.claimed_at + timedelta(minutes=5)
    assert settle(message, None, later) is False
    assert (message.status, message.sid, message.next_attempt_at) == ("queued", None, later)


def test_an_abandoned_claim_stays_claimed_while_the_network_cannot_say():
    from telephony.outbox import settle
    from telephony.ports import DeliveryError

    message = _claimed()
    assert settle(message, DeliveryError("twilio 503", permanent=False), message.claimed_at) is False
    assert (message.status, message.sid) == ("sending", None) and "503" in message.last_error


def test_the_idempotency_key_names_the_outbox_message():
    from telephony.outbox import Send

    assert Send.of(_claimed()).key == "outbox-7"
