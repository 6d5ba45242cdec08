"""Proof of place and time at a check-in or check-out (EVV): which method proved it. Pure.

Methods, strongest first: `elder_phone` (the worker called from the elder's own phone: caller ID),
`visit_code` (the one-time code the elder was told, read to the worker and entered by them),
`location` (the worker's phone location, within a set distance of the elder's home), `none`.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass

from providers.matching import haversine_m

METHODS = ("elder_phone", "visit_code", "location", "none")
METHOD_NAMES = {"elder_phone": "老人电话来电", "visit_code": "老人告知的验证码", "location": "手机定位",
                "none": "未核验"}
# A visit code entered wrongly this many times is locked: refused, and Order.visit_code_failures
# keeps the count for the integrity checks.
MAX_CODE_FAILURES = 3
DEFAULT_DISTANCE_M = 300
VISIT_CODE_DIGITS = 4
# Mainland China, Hong Kong, Macao and Taiwan, generously: a location outside is not a place we serve.
CHINA_BOX = (3.0, 54.0, 73.0, 136.0)  # south, north, west, east


@dataclass(frozen=True)
class Proof:
    """How one end of a visit was proved; lat/lng only for a plausible location; `note` tells the worker."""

    method: str
    lat: float | None = None
    lng: float | None = None
    note: str = ""


def new_visit_code() -> str:
    """A fresh one-time code for a visit: 4 digits, not guessable from the job code."""
    return f"{secrets.randbelow(10 ** VISIT_CODE_DIGITS):0{VISIT_CODE_DIGITS}d}"


def plausible(lat: float | None, lng: float | None) -> bool:
    """Whether a reported location could be real: numbers, not 0,0, inside China's bounding box."""
    if lat is None or lng is None or not (math.isfinite(lat) and math.isfinite(lng)):
        return False
    if abs(lat) < 1e-6 and abs(lng) < 1e-6:
        return False
    south, north, west, east = CHINA_BOX
    return south <= lat <= north and west <= lng <= east


def location_proof(lat: float | None, lng: float | None, home_lat: float | None, home_lng: float | None,
                   max_m: int) -> Proof:
    """Judge a reported location against the elder's home: `location` if near, else `none`."""
    if not plausible(lat, lng):
        return Proof("none", note="定位不可信，按未核验记录")
    if home_lat is None or home_lng is None:
        return Proof("none", lat, lng, "老人住址无坐标，定位无法核验")
    away = haversine_m(lat, lng, home_lat, home_lng)
    if away > max_m:
        return Proof("none", lat, lng, f"定位距老人家约{round(away)}米，超出{max_m}米，按未核验记录")
    return Proof("location", lat, lng)


def device_hash(kind: str, value: str | int) -> str:
    """A stable, non-reversible name for the device or account that reported a check-in (≤64 chars)."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:32]
