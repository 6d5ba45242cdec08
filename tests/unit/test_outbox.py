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
