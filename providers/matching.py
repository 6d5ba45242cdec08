"""Matching: hard filters, then an explainable weighted score. Pure: values in, values out."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import time

from geopy.distance import geodesic

EARTH_RADIUS_M = 6_371_008.8


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
    """Rank the providers that pass every hard filter, best first, with the reasons for each."""
    passed = []
    for candidate in candidates:
        distance = haversine_m(latitude, longitude, candidate.latitude, candidate.longitude)
        if rejection(candidate, distance, at, excluded) is None:
            passed.append((candidate, distance))
    scored = [_score(c, d, weights) for c, d in passed]
    scored.sort(key=lambda r: (-r.score, r.distance_m, r.candidate.provider_id))
    # The precise geodesic only for the few that can win.
    return [_with_geodesic(r, latitude, longitude) for r in scored[:top]]


def _score(candidate: Candidate, distance_m: float, weights: Weights) -> Ranked:
    parts = {
        "distance": round(weights.distance * (1 - distance_m / candidate.service_radius_m), 6),
        "quality": round(weights.quality * candidate.quality_score / 5, 6),
        "load": round(weights.load / (1 + candidate.booked_that_day), 6),
    }
    reasons = {
        "distance_m": round(distance_m),
        "service_radius_m": candidate.service_radius_m,
        "quality_score": candidate.quality_score,
        "booked_that_day": candidate.booked_that_day,
        "capacity_per_day": candidate.capacity_per_day,
        "price_fen": candidate.price_fen,
        "parts": parts,
    }
    return Ranked(candidate, round(distance_m), round(sum(parts.values()), 6), reasons)


def _with_geodesic(ranked: Ranked, latitude: float, longitude: float) -> Ranked:
    c = ranked.candidate
    metres = round(geodesic((latitude, longitude), (c.latitude, c.longitude)).meters)
    return Ranked(c, metres, ranked.score, {**ranked.reasons, "distance_m": metres, "score": ranked.score})
