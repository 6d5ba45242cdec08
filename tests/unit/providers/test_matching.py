from datetime import date, time

import pytest
from geopy.distance import distance as geo_distance
from geopy.distance import geodesic
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.matching import (
    Candidate,
    Weights,
    geodesic_m,
    haversine_m,
    rank_by_geodesic,
    rank_candidates,
    rejection,
    score_ceiling,
)

# An elder in Chengguan district, Lanzhou.
ELDER = (36.0611, 103.8343)
TEN_AM = time(10, 0)


def point_at(metres: float, bearing: float = 90.0, origin=ELDER) -> tuple[float, float]:
    p = geo_distance(meters=metres).destination(origin, bearing)
    return p.latitude, p.longitude


@pytest.fixture
def make_candidate():
    ids = iter(range(1, 10_000))

    def make(*, metres: float = 1000.0, bearing: float = 90.0, **fields) -> Candidate:
        provider_id = fields.pop("provider_id", next(ids))
        latitude, longitude = point_at(metres, bearing)
        values = dict(
            provider_id=provider_id,
            code=f"P{provider_id:03d}",
            name=f"服务商{provider_id}",
            latitude=latitude,
            longitude=longitude,
            service_radius_m=5000,
            contract_status="active",
            opens_at=time(8, 0),
            closes_at=time(18, 0),
            capacity_per_day=10,
            booked_that_day=0,
            quality_score=4.0,
            price_fen=4800,
        )
        values.update(fields)
        return Candidate(**values)

    return make


def rank(candidates, at=TEN_AM, **kwargs):
    return rank_candidates(*ELDER, at, candidates, **kwargs)


def ids(ranked):
    return [r.candidate.provider_id for r in ranked]


def test_a_provider_passing_every_filter_is_offered(make_candidate):
    good = make_candidate()
    assert ids(rank([good])) == [good.provider_id]


@pytest.mark.parametrize("status", ["suspended", "ended", "pending", ""])
def test_a_provider_without_an_active_contract_is_not_offered(make_candidate, status):
    good, bad = make_candidate(), make_candidate(contract_status=status)
    assert ids(rank([bad, good])) == [good.provider_id]
    assert rejection(bad, 1000, TEN_AM, frozenset()) == f"contract {status}"


def test_a_provider_outside_its_radius_is_not_offered(make_candidate):
    inside = make_candidate(metres=2900, service_radius_m=3000)
    outside = make_candidate(metres=3100, service_radius_m=3000)
    assert ids(rank([outside, inside])) == [inside.provider_id]


def test_a_provider_with_no_capacity_left_that_day_is_not_offered(make_candidate):
    one_left = make_candidate(capacity_per_day=4, booked_that_day=3)
    full = make_candidate(capacity_per_day=4, booked_that_day=4)
    overbooked = make_candidate(capacity_per_day=4, booked_that_day=5)
    assert ids(rank([full, overbooked, one_left])) == [one_left.provider_id]


@pytest.mark.parametrize(
    ("at", "is_offered"),
    [
        (time(7, 59), False),
        (time(8, 0), True),
        (time(17, 59), True),
        (time(18, 0), False),
        (time(22, 0), False),
    ],
)
def test_a_provider_closed_at_the_visit_time_is_not_offered(make_candidate, at, is_offered):
    candidate = make_candidate(opens_at=time(8, 0), closes_at=time(18, 0))
    assert bool(rank([candidate], at=at)) is is_offered


TODAY = date(2026, 11, 25)


@pytest.mark.parametrize(
    ("starts_on", "ends_on", "is_offered", "why"),
    [
        (None, None, True, None),
        (date(2026, 1, 1), date(2026, 12, 31), True, None),
        (TODAY, TODAY, True, None),
        (date(2026, 11, 26), None, False, "contract not started by that day"),
        (None, date(2026, 11, 24), False, "contract ended by that day"),
    ],
)
def test_a_provider_whose_contract_does_not_cover_the_visit_day_is_not_offered(
    make_candidate, starts_on, ends_on, is_offered, why
):
    candidate = make_candidate(contract_starts_on=starts_on, contract_ends_on=ends_on)
    assert bool(rank([candidate], on=TODAY)) is is_offered
    assert rejection(candidate, 1000, TEN_AM, frozenset(), on=TODAY) == why


def test_contract_dates_are_not_checked_when_no_visit_day_is_given(make_candidate):
    ended = make_candidate(contract_ends_on=date(2020, 1, 1))
    assert ids(rank([ended])) == [ended.provider_id]


@pytest.mark.parametrize("status", ["suspended", "terminated"])
def test_a_suspended_or_terminated_contract_is_not_offered_even_within_its_dates(make_candidate, status):
    candidate = make_candidate(contract_status=status, contract_starts_on=date(2026, 1, 1))
    assert rank([candidate], on=TODAY) == []


def test_a_provider_listing_the_elders_community_is_offered_outside_its_radius(make_candidate):
    listed = make_candidate(metres=9000, service_radius_m=3000, serves_community=True)
    unlisted = make_candidate(metres=9000, service_radius_m=3000)
    ranked = rank([unlisted, listed])
    assert ids(ranked) == [listed.provider_id]
    assert ranked[0].reasons["area"] == "community"
    assert ranked[0].distance_m > 3000


def test_a_community_provider_inside_its_radius_is_reported_as_within_the_radius(make_candidate):
    (ranked,) = rank([make_candidate(metres=1000, serves_community=True)])
    assert "area" not in ranked.reasons


def test_a_provider_whose_slot_is_full_is_not_offered_though_the_day_has_room(make_candidate):
    full = make_candidate(capacity_per_day=10, booked_that_day=2, capacity_per_slot=2, booked_that_slot=2)
    room = make_candidate(capacity_per_day=10, booked_that_day=2, capacity_per_slot=3, booked_that_slot=2)
    unlimited = make_candidate(capacity_per_day=10, booked_that_day=2, booked_that_slot=7)
    ranked = rank([full, room, unlimited])
    assert set(ids(ranked)) == {room.provider_id, unlimited.provider_id}
    assert rejection(full, 1000, TEN_AM, frozenset()) == "no capacity left in that slot"
    by_id = {r.candidate.provider_id: r for r in ranked}
    assert by_id[room.provider_id].reasons["capacity_per_slot"] == 3
    assert "capacity_per_slot" not in by_id[unlimited.provider_id].reasons


def test_a_provider_on_its_day_off_is_not_offered_even_within_its_hours(make_candidate):
    closed = make_candidate(is_day_off=True)
    open_ = make_candidate()
    assert ids(rank([closed, open_])) == [open_.provider_id]
    assert rejection(closed, 1000, TEN_AM, frozenset()) == "closed that day"


def test_an_excluded_provider_is_not_offered_again(make_candidate):
    first, second = make_candidate(metres=500), make_candidate(metres=1500)
    assert ids(rank([first, second], excluded=frozenset({first.provider_id}))) == [
        second.provider_id
    ]


def test_nobody_is_offered_when_every_provider_fails_a_filter(make_candidate):
    candidates = [
        make_candidate(contract_status="suspended"),
        make_candidate(metres=9000),
        make_candidate(booked_that_day=10),
        make_candidate(opens_at=time(12, 0)),
    ]
    assert rank(candidates) == []


def test_the_nearest_provider_wins_when_all_else_is_equal(make_candidate):
    far, near, middle = (
        make_candidate(metres=3000),
        make_candidate(metres=500),
        make_candidate(metres=1500),
    )
    ranked = rank([far, near, middle])
    assert ids(ranked) == [near.provider_id, middle.provider_id, far.provider_id]
    assert ranked[0].score > ranked[1].score > ranked[2].score


def test_a_better_quality_score_ranks_a_provider_higher(make_candidate):
    plain = make_candidate(metres=1000, bearing=0, quality_score=3.0)
    good = make_candidate(metres=1000, bearing=180, quality_score=4.8)
    ranked = rank([plain, good])
    assert ids(ranked) == [good.provider_id, plain.provider_id]
    assert ranked[0].reasons["parts"]["quality"] - ranked[1].reasons["parts"][
        "quality"
    ] == pytest.approx(0.25 * 1.8 / 5)


def test_a_provider_with_fewer_bookings_that_day_ranks_higher(make_candidate):
    busy = make_candidate(metres=1000, bearing=0, booked_that_day=3)
    idle = make_candidate(metres=1000, bearing=180, booked_that_day=0)
    ranked = rank([busy, idle])
    assert ids(ranked) == [idle.provider_id, busy.provider_id]
    assert ranked[0].reasons["parts"]["load"] == pytest.approx(0.15)
    assert ranked[1].reasons["parts"]["load"] == pytest.approx(0.15 / 4)


def test_quality_can_outweigh_a_small_difference_in_distance(make_candidate):
    near_poor = make_candidate(metres=1000, quality_score=2.0)
    farther_good = make_candidate(metres=1200, quality_score=5.0)
    assert ids(rank([near_poor, farther_good])) == [farther_good.provider_id, near_poor.provider_id]


def test_the_weights_decide_what_counts(make_candidate):
    near_poor = make_candidate(metres=1000, quality_score=2.0)
    farther_good = make_candidate(metres=1200, quality_score=5.0)
    only_distance = Weights(distance=1.0, quality=0.0, load=0.0)
    assert ids(rank([near_poor, farther_good], weights=only_distance))[0] == near_poor.provider_id


def test_the_reasons_explain_the_score(make_candidate):
    candidate = make_candidate(
        metres=2000,
        service_radius_m=4000,
        quality_score=4.5,
        booked_that_day=1,
        capacity_per_day=6,
        price_fen=3300,
    )
    (ranked,) = rank([candidate])
    reasons = ranked.reasons
    assert reasons["distance_m"] == ranked.distance_m == pytest.approx(2000, abs=1)
    assert reasons["service_radius_m"] == 4000
    assert reasons["quality_score"] == 4.5
    assert reasons["booked_that_day"] == 1
    assert reasons["capacity_per_day"] == 6
    assert reasons["price_fen"] == 3300
    assert reasons["parts"] == pytest.approx(
        {"distance": 0.6 * (1 - 2000 / 10_000), "quality": 0.25 * 4.5 / 5, "load": 0.15 / 2}, abs=0.003
    )
    assert (
        reasons["score"] == ranked.score == pytest.approx(sum(reasons["parts"].values()), abs=1e-6)
    )


def test_no_more_than_top_providers_are_returned_and_they_are_the_best(make_candidate):
    candidates = [make_candidate(metres=300 * n) for n in range(1, 9)]
    assert ids(rank(candidates, top=3)) == [c.provider_id for c in candidates[:3]]
    assert len(rank(candidates)) == 5


@pytest.mark.parametrize("bearing", [0, 45, 90, 180, 270])
def test_the_distance_reported_is_within_half_a_percent_of_the_geodesic(make_candidate, bearing):
    candidate = make_candidate(metres=4321, bearing=bearing)
    (ranked,) = rank([candidate])
    exact = geodesic(ELDER, (candidate.latitude, candidate.longitude)).meters
    assert ranked.distance_m == pytest.approx(exact, rel=0.005)
    assert ranked.reasons["distance_m"] == ranked.distance_m


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param((39.9042, 116.4074), (31.2304, 121.4737), id="beijing-shanghai"),
        pytest.param((36.0611, 103.8343), (34.3416, 108.9398), id="lanzhou-xian"),
        pytest.param((23.1291, 113.2644), (22.5431, 114.0579), id="guangzhou-shenzhen"),
        pytest.param((45.8038, 126.5349), (18.2528, 109.5119), id="harbin-sanya"),
        pytest.param((31.2989, 120.5853), (31.2304, 121.4737), id="suzhou-shanghai"),
        pytest.param((36.0611, 103.8343), (36.0700, 103.8500), id="across-chengguan"),
    ],
)
def test_haversine_is_within_half_a_percent_of_the_geodesic_between_chinese_cities(a, b):
    assert haversine_m(*a, *b) == pytest.approx(geodesic(a, b).meters, rel=0.005)


def test_haversine_of_a_point_to_itself_is_zero():
    assert haversine_m(*ELDER, *ELDER) == 0


def test_an_offered_provider_is_never_reported_outside_its_own_radius(make_candidate):
    # Due east at Lanzhou's latitude haversine reads about 0.2% short of the geodesic.
    candidate = make_candidate(metres=3005, bearing=90, service_radius_m=3000)
    ranked = rank([candidate])
    assert all(r.distance_m <= r.candidate.service_radius_m for r in ranked)


@st.composite
def candidate_lists(draw):
    count = draw(st.integers(min_value=0, max_value=12))
    candidates = []
    for provider_id in range(1, count + 1):
        opens = draw(st.integers(min_value=0, max_value=22))
        closes = draw(st.integers(min_value=opens + 1, max_value=23))
        capacity = draw(st.integers(min_value=1, max_value=8))
        candidates.append(
            Candidate(
                provider_id=provider_id,
                code=f"P{provider_id}",
                name=f"服务商{provider_id}",
                latitude=ELDER[0] + draw(st.floats(min_value=-0.08, max_value=0.08)),
                longitude=ELDER[1] + draw(st.floats(min_value=-0.08, max_value=0.08)),
                service_radius_m=draw(st.integers(min_value=500, max_value=15_000)),
                contract_status=draw(st.sampled_from(["active", "active", "suspended", "ended"])),
                opens_at=time(opens),
                closes_at=time(closes),
                capacity_per_day=capacity,
                booked_that_day=draw(st.integers(min_value=0, max_value=capacity + 1)),
                quality_score=draw(st.floats(min_value=0, max_value=5)),
                price_fen=draw(st.integers(min_value=0, max_value=20_000)),
                contract_starts_on=draw(st.sampled_from([None, date(2026, 1, 1), date(2026, 12, 1)])),
                contract_ends_on=draw(st.sampled_from([None, date(2026, 11, 1), date(2027, 1, 1)])),
                capacity_per_slot=draw(st.sampled_from([None, 1, 2])),
                booked_that_slot=draw(st.integers(min_value=0, max_value=2)),
                is_day_off=draw(st.booleans()),
                serves_community=draw(st.booleans()),
            )
        )
    return candidates


@settings(max_examples=200, deadline=None)
@given(
    candidates=candidate_lists(),
    at=st.times(),
    excluded=st.frozensets(st.integers(min_value=1, max_value=12), max_size=4),
    top=st.integers(min_value=1, max_value=6),
)
def test_the_ranking_is_best_first_and_every_provider_in_it_passes_the_filters(
    candidates, at, excluded, top
):
    ranked = rank(candidates, at=at, excluded=excluded, top=top)
    # The product decides with the geodesic (haversine only bounds the search): at a radius's
    # edge the two disagree, so the oracle must use the geodesic too.
    passing = [
        c
        for c in candidates
        if rejection(c, geodesic_m(*ELDER, c.latitude, c.longitude), at, excluded) is None
    ]
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True)
    assert len(ranked) == min(top, len(passing))
    assert {r.candidate.provider_id for r in ranked} <= {c.provider_id for c in passing}
    assert len(set(ids(ranked))) == len(ranked)
    best_left_out = max(
        (
            r.score
            for r in rank(passing, at=at, top=len(passing))
            if r.candidate.provider_id not in ids(ranked)
        ),
        default=None,
    )
    assert best_left_out is None or best_left_out <= scores[-1]


def test_providers_just_outside_their_radius_do_not_crowd_out_eligible_ones(make_candidate):
    # Due north haversine reads long, so these look inside their 3 km radius until measured.
    outside = [make_candidate(metres=3006, bearing=0, service_radius_m=3000, quality_score=5.0)
               for _ in range(20)]
    inside = [make_candidate(metres=4000 + 10 * n, bearing=90, service_radius_m=5000, quality_score=1.0)
              for n in range(5)]
    assert ids(rank(outside + inside)) == [c.provider_id for c in inside]


def _answer(ranked):
    return [(r.candidate.provider_id, r.distance_m, r.score) for r in ranked]


@settings(max_examples=200, deadline=None)
@given(candidates=candidate_lists(), at=st.times(), top=st.integers(min_value=1, max_value=6))
def test_the_ranking_equals_a_full_geodesic_scan(candidates, at, top):
    assert _answer(rank(candidates, at=at, top=top, on=TODAY)) == _answer(
        rank_by_geodesic(*ELDER, at, candidates, top=top, on=TODAY)
    )


@settings(max_examples=100, deadline=None)
@given(
    radius=st.integers(min_value=1000, max_value=3000),
    offsets=st.lists(st.floats(min_value=0.995, max_value=1.005), min_size=1, max_size=30),
    bearing=st.sampled_from([0, 45, 90, 135, 180]),
    qualities=st.lists(st.floats(min_value=0, max_value=5), min_size=30, max_size=30),
)
def test_the_ranking_equals_a_full_geodesic_scan_when_many_sit_on_their_radius(
    radius, offsets, bearing, qualities
):
    candidates = [
        Candidate(provider_id=n, code=f"P{n}", name=f"服务商{n}",
                  latitude=point_at(radius * offset, bearing)[0],
                  longitude=point_at(radius * offset, bearing)[1], service_radius_m=radius,
                  contract_status="active", opens_at=time(0), closes_at=time(23), capacity_per_day=5,
                  booked_that_day=n % 3, quality_score=qualities[n], price_fen=4800)
        for n, offset in enumerate(offsets)
    ]
    assert _answer(rank(candidates)) == _answer(rank_by_geodesic(*ELDER, TEN_AM, candidates))


@settings(max_examples=200, deadline=None)
@given(
    ceiling_at=st.floats(min_value=0, max_value=20_000),
    farther=st.floats(min_value=0, max_value=20_000),
    quality=st.floats(min_value=0, max_value=5),
    booked=st.integers(min_value=0, max_value=20),
)
def test_nobody_farther_than_a_distance_scores_above_its_ceiling(ceiling_at, farther, quality, booked):
    candidate = Candidate(provider_id=1, code="P1", name="服务商1", latitude=ELDER[0], longitude=ELDER[1],
                          service_radius_m=50_000, contract_status="active", opens_at=time(0),
                          closes_at=time(23), capacity_per_day=30, booked_that_day=booked,
                          quality_score=quality, price_fen=0)
    (ranked,) = rank_by_geodesic(*point_at(ceiling_at + farther), TEN_AM, [candidate])
    assert ranked.score <= score_ceiling(ceiling_at)


@settings(max_examples=300, deadline=None)
@given(
    lat1=st.floats(min_value=-80, max_value=80), lon1=st.floats(min_value=-179, max_value=179),
    lat2=st.floats(min_value=-80, max_value=80), lon2=st.floats(min_value=-179, max_value=179),
)
def test_our_geodesic_is_exactly_geopys(lat1, lon1, lat2, lon2):
    assert geodesic_m(lat1, lon1, lat2, lon2) == geodesic((lat1, lon1), (lat2, lon2)).meters


def test_distances_measured_once_are_reused_and_give_the_same_ranking(make_candidate):
    candidates = [make_candidate(metres=300 * n, bearing=40 * n) for n in range(1, 9)]
    measured: dict[int, float] = {}
    first = rank(candidates, measured=measured)
    assert measured and set(measured) <= {c.provider_id for c in candidates}
    # A wrong remembered distance would change the answer: proof that it is used, not re-measured.
    again = rank(candidates, measured=dict(measured))
    assert _answer(again) == _answer(first)
    best = first[0].candidate.provider_id
    assert rank(candidates, measured={**measured, best: 4999.0})[0].candidate.provider_id != best
