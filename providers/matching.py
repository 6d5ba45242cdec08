"""Matching: hard filters, then an explainable weighted score. Pure: values in, values out."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, time
from typing import NamedTuple

from geographiclib.geodesic import Geodesic
from geopy.distance import ELLIPSOIDS, geodesic

EARTH_RADIUS_M = 6_371_008.8
# Haversine reads at most 0.56% long (north-south at the equator; 0.22% at Lanzhou) and 0.45%
# short of the geodesic; bound with that margin, decide with the geodesic.
HAVERSINE_ERROR = 0.006
# Four roundings to 6 places (three parts and their sum) move a score by at most this.
ROUNDING_SLACK = 2.5e-6
# Distance scores fall linearly to zero at this distance, whatever radius a provider declares.
DISTANCE_SCALE_M = 10_000


class Candidate(NamedTuple):
    """A provider as matching sees it for one item, day and slot; a tuple, cheap to build from a row."""

    provider_id: int
    code: str
    name: str
    latitude: float
    longitude: float
    service_radius_m: int
    contract_status: str
    opens_at: time
    closes_at: time
    capacity_per_day: int
    booked_that_day: int
    quality_score: float
    price_fen: int
    contract_starts_on: date | None = None
    contract_ends_on: date | None = None
    capacity_per_slot: int | None = None
    booked_that_slot: int = 0
    is_day_off: bool = False
    # The elder's community is on the provider's list: inside its area wherever it lies.
    serves_community: bool = False


@dataclass(frozen=True)
class Weights:
    """How much each part counts; non-negative, and quality scores run from 0 to 5."""

    distance: float = 0.6
    quality: float = 0.25
    load: float = 0.15
    # Continuity (issue 17): a provider this elder rated 4 or 5 before gets this much more.
    continuity: float = 0.1


DEFAULT_WEIGHTS = Weights()
# Emergencies ignore fairness: the nearest good provider, however busy today.
EMERGENCY_WEIGHTS = Weights(load=0.0)


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    distance_m: int
    score: float
    reasons: dict = field(compare=False)


# geopy's own WGS-84 in kilometres, built once: geopy builds it again for every distance.
_WGS84_KM = Geodesic(ELLIPSOIDS["WGS-84"][0], ELLIPSOIDS["WGS-84"][2])


def geodesic_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """geopy's `geodesic((lat1, lon1), (lat2, lon2)).meters`, the same float, at half the cost."""
    return _WGS84_KM.Inverse(lat1, lon1, lat2, lon2, Geodesic.DISTANCE)["s12"] * 1000


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres: cheap, within 0.5% of the geodesic."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def is_open(candidate: Candidate, at: time) -> bool:
    return candidate.opens_at <= at < candidate.closes_at


def in_area(candidate: Candidate, distance_m: float, radius_factor: float = 1.0) -> bool:
    """Inside the radius from the base, or in one of the communities the provider lists."""
    return candidate.serves_community or distance_m <= candidate.service_radius_m * radius_factor


def rejection(candidate: Candidate, distance_m: float, at: time, excluded: frozenset[int],
              radius_factor: float = 1.0, on: date | None = None) -> str | None:
    """Return why a candidate fails the hard filters, or None if it passes.

    `radius_factor` widens every service radius (emergencies); `on` is the visit's local date,
    checked against the contract's dates when given.
    """
    if candidate.provider_id in excluded:
        return "already offered"
    if candidate.contract_status != "active":
        return f"contract {candidate.contract_status}"
    if on is not None and candidate.contract_starts_on is not None and on < candidate.contract_starts_on:
        return "contract not started by that day"
    if on is not None and candidate.contract_ends_on is not None and on > candidate.contract_ends_on:
        return "contract ended by that day"
    if not in_area(candidate, distance_m, radius_factor):
        return "outside service radius"
    if candidate.booked_that_day >= candidate.capacity_per_day:
        return "no capacity left that day"
    if candidate.capacity_per_slot is not None and candidate.booked_that_slot >= candidate.capacity_per_slot:
        return "no capacity left in that slot"
    if candidate.is_day_off:
        return "closed that day"
    if not is_open(candidate, at):
        return "closed at that time"
    return None


def rank_candidates(
    latitude: float,
    longitude: float,
    at: time,
    candidates: list[Candidate],
    *,
    weights: Weights = Weights(),
    excluded: frozenset[int] = frozenset(),
    top: int = 5,
    radius_factor: float = 1.0,
    on: date | None = None,
    measured: dict[int, float] | None = None,
    favoured: frozenset[int] = frozenset(),
) -> list[Ranked]:
    """Rank the providers that pass every hard filter, best first, with the reasons for each.

    Haversine (cheap) bounds every candidate's best possible score; the geodesic (precise) is
    then measured best bound first, only until no remaining bound can beat the last of the
    `top`. So the answer equals a full geodesic scan (`rank_by_geodesic`) with a few geodesics.
    `measured` (provider id → geodesic metres from this point) saves measuring again when a
    widening search ranks a larger set around the same point; it is filled in as a side effect.
    `favoured` are the providers the elder rated well before: their score adds `continuity`.
    """
    # Each bound is the score at the nearest the provider can be, unrounded plus the most the
    # rounding of the precise score can add; the loop is the hot path at scale, so it is inline.
    bounds = []
    near = 1 / (1 + HAVERSINE_ERROR)
    w_distance, w_quality, w_load = weights.distance, weights.quality / 5, weights.load
    for c in candidates:
        nearest = haversine_m(latitude, longitude, c.latitude, c.longitude) * near
        if rejection(c, nearest, at, excluded, radius_factor, on) is None:
            bound = (w_distance * max(0.0, 1 - nearest / DISTANCE_SCALE_M) + w_quality * c.quality_score
                     + w_load / (1 + c.booked_that_day) + ROUNDING_SLACK
                     + (weights.continuity if c.provider_id in favoured else 0.0))
            bounds.append((-bound, nearest, c.provider_id, c))
    bounds.sort(key=lambda b: b[:3])
    precise: list[Ranked] = []
    for negative_bound, _, _, c in bounds:
        if top <= 0 or (len(precise) >= top and -negative_bound < precise[top - 1].score):
            break
        metres = None if measured is None else measured.get(c.provider_id)
        if metres is None:
            metres = geodesic_m(latitude, longitude, c.latitude, c.longitude)
            if measured is not None:
                measured[c.provider_id] = metres
        if in_area(c, metres, radius_factor):
            precise.append(_score(c, metres, weights, radius_factor, c.provider_id in favoured))
            precise.sort(key=_order)
    return precise[:top]


def score_ceiling(distance_m: float, weights: Weights = Weights(), favoured: bool = False) -> float:
    """The best score any provider at least `distance_m` away can have (quality 5, nothing booked,
    and rated well by the elder when any provider is `favoured`)."""
    return round(sum(_parts(distance_m, 5.0, 0, weights, favoured).values()), 6)


def rank_by_geodesic(
    latitude: float,
    longitude: float,
    at: time,
    candidates: list[Candidate],
    *,
    weights: Weights = Weights(),
    excluded: frozenset[int] = frozenset(),
    top: int = 5,
    radius_factor: float = 1.0,
    on: date | None = None,
) -> list[Ranked]:
    """Rank with the geodesic for every candidate: slow, the reference `rank_candidates` must equal."""
    ranked = []
    for c in candidates:
        metres = geodesic((latitude, longitude), (c.latitude, c.longitude)).meters
        if rejection(c, metres, at, excluded, radius_factor, on) is None:
            ranked.append(_score(c, metres, weights, radius_factor))
    ranked.sort(key=_order)
    return ranked[:top]


def _order(ranked: Ranked):
    return (-ranked.score, ranked.distance_m, ranked.candidate.provider_id)


def _parts(distance_m: float, quality_score: float, booked_that_day: int, weights: Weights,
           favoured: bool = False) -> dict:
    parts = {
        "distance": round(weights.distance * max(0.0, 1 - distance_m / DISTANCE_SCALE_M), 6),
        "quality": round(weights.quality * quality_score / 5, 6),
        "load": round(weights.load / (1 + booked_that_day), 6),
    }
    if favoured:
        parts["continuity"] = round(weights.continuity, 6)
    return parts


def _score(candidate: Candidate, distance_m: float, weights: Weights, radius_factor: float = 1.0,
           favoured: bool = False) -> Ranked:
    parts = _parts(distance_m, candidate.quality_score, candidate.booked_that_day, weights, favoured)
    score = round(sum(parts.values()), 6)
    reasons = {
        "distance_m": round(distance_m),
        "service_radius_m": candidate.service_radius_m,
        "quality_score": candidate.quality_score,
        "booked_that_day": candidate.booked_that_day,
        "capacity_per_day": candidate.capacity_per_day,
        "price_fen": candidate.price_fen,
        "parts": parts,
        "score": score,
    }
    if radius_factor != 1.0:
        reasons["radius_factor"] = radius_factor
    if candidate.capacity_per_slot is not None:
        reasons["booked_that_slot"] = candidate.booked_that_slot
        reasons["capacity_per_slot"] = candidate.capacity_per_slot
    if distance_m > candidate.service_radius_m * radius_factor:
        reasons["area"] = "community"
    return Ranked(candidate, round(distance_m), score, reasons)
