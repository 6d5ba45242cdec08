"""Matching: hard filters, then an explainable weighted score. Pure: values in, values out."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import time

from geopy.distance import geodesic

EARTH_RADIUS_M = 6_371_008.8
# Haversine is within 0.5% of the geodesic; prefilter with that margin, decide with the geodesic.
HAVERSINE_ERROR = 0.005
SHORTLIST_MARGIN = 5
# Distance scores fall linearly to zero at this distance, whatever radius a provider declares.
DISTANCE_SCALE_M = 10_000


@dataclass(frozen=True)
class Candidate:
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


@dataclass(frozen=True)
class Weights:
    distance: float = 0.6
    quality: float = 0.25
    load: float = 0.15


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    distance_m: int
    score: float
    reasons: dict = field(compare=False)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres: cheap, within 0.5% of the geodesic."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def is_open(candidate: Candidate, at: time) -> bool:
    return candidate.opens_at <= at < candidate.closes_at


def rejection(candidate: Candidate, distance_m: float, at: time, excluded: frozenset[int]) -> str | None:
    """Return why a candidate fails the hard filters, or None if it passes."""
    if candidate.provider_id in excluded:
        return "already offered"
    if candidate.contract_status != "active":
        return f"contract {candidate.contract_status}"
    if distance_m > candidate.service_radius_m:
        return "outside service radius"
    if candidate.booked_that_day >= candidate.capacity_per_day:
        return "no capacity left that day"
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
) -> list[Ranked]:
    """Rank the providers that pass every hard filter, best first, with the reasons for each.

    Haversine (cheap) prefilters with a margin and ranks; the geodesic (precise) then decides
    the radius filter and the score of the few that can win, so the answer equals a full
    geodesic scan.
    """
    rough = []
    for candidate in candidates:
        distance = haversine_m(latitude, longitude, candidate.latitude, candidate.longitude)
        if rejection(candidate, distance / (1 + HAVERSINE_ERROR), at, excluded) is None:
            rough.append(_score(candidate, distance, weights))
    rough.sort(key=_order)
    precise = []
    for ranked in rough[: 2 * top + SHORTLIST_MARGIN]:
        c = ranked.candidate
        metres = geodesic((latitude, longitude), (c.latitude, c.longitude)).meters
        if metres <= c.service_radius_m:
            precise.append(_score(c, metres, weights))
    precise.sort(key=_order)
    return precise[:top]


def _order(ranked: Ranked):
    return (-ranked.score, ranked.distance_m, ranked.candidate.provider_id)


def _score(candidate: Candidate, distance_m: float, weights: Weights) -> Ranked:
    parts = {
        "distance": round(weights.distance * max(0.0, 1 - distance_m / DISTANCE_SCALE_M), 6),
        "quality": round(weights.quality * candidate.quality_score / 5, 6),
        "load": round(weights.load / (1 + candidate.booked_that_day), 6),
    }
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
    return Ranked(candidate, round(distance_m), score, reasons)
