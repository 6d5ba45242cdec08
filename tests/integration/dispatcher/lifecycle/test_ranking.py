"""The spatial search behind matching: the SQL box and the widening search, on a real database."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from geopy.distance import distance as geo_distance
from sqlalchemy import select

from dispatcher.clock import local
from dispatcher.lifecycle.ranking import FIRST_SEARCH_M, rank_for
from dispatcher.lifecycle.slots import local_day_bounds
from dispatcher.models import Item
from providers.matching import rank_by_geodesic
from providers.queries import candidates_near

ELDER_AT = (36.0580, 103.8270)


def _point(metres, bearing):
    p = geo_distance(meters=metres).destination(ELDER_AT, bearing)
    return {"latitude": p.latitude, "longitude": p.longitude}


def _item(session, code="HK01") -> Item:
    return session.scalar(select(Item).where(Item.code == code))


def _everyone(session, elder, item, start):
    """The reference: every candidate in the widest box, each measured with the geodesic."""
    day_start, day_end = local_day_bounds(start)
    candidates = candidates_near(session, item.id, elder.latitude, elder.longitude, day_start, day_end)
    return rank_by_geodesic(elder.latitude, elder.longitude, local(start).time(), candidates)


def _answer(ranked):
    return [(r.candidate.provider_id, r.distance_m, r.score) for r in ranked]


def test_a_provider_whose_radius_just_reaches_the_elder_is_found_in_every_direction(
    session, clock, make_elder, make_provider
):
    make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    reaching = [make_provider(service_radius_m=6000, **_point(5990, bearing)) for bearing in (0, 90, 180, 270, 45)]
    make_provider(service_radius_m=2000, **_point(2100, 0))
    day_start, day_end = local_day_bounds(clock.now())

    found = candidates_near(session, _item(session).id, *ELDER_AT, day_start, day_end)

    assert {c.provider_id for c in found} == {p.id for p in reaching}


def test_the_search_widens_past_near_providers_when_a_farther_one_scores_higher(
    session, clock, make_elder, make_provider
):
    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    for n in range(5):
        make_provider(quality_score=0.5, **_point(300 + 10 * n, 90))
    best = make_provider(quality_score=5.0, service_radius_m=6000, **_point(FIRST_SEARCH_M + 500, 0))
    make_provider(quality_score=5.0, service_radius_m=8000, **_point(7500, 180))

    ranked = rank_for(session, elder, _item(session), clock.now())

    assert ranked[0].candidate.provider_id == best.id
    assert _answer(ranked) == _answer(_everyone(session, elder, _item(session), clock.now()))


def test_the_search_stops_close_when_nobody_farther_could_win_and_still_equals_the_full_scan(
    session, clock, make_elder, make_provider
):
    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    for n in range(6):
        make_provider(quality_score=5.0, **_point(100 + 20 * n, 45 * n))
    make_provider(quality_score=5.0, service_radius_m=8000, **_point(6000, 180))
    start = clock.now() + timedelta(hours=2)

    ranked = rank_for(session, elder, _item(session), start)

    assert len(ranked) == 5
    assert _answer(ranked) == _answer(_everyone(session, elder, _item(session), start))


def test_bench_match_finds_our_top_five_identical_to_the_naive_scan():
    from dispatcher.cli import main

    result = CliRunner().invoke(main, ["bench", "match", "--sizes", "80", "--queries", "6",
                                       "--naive-queries", "6"])

    assert result.exit_code == 0, result.output
    assert "temporary SQLite" in result.output
    assert "top five identical to the naive answer for 6 of 6 elders" in result.output
