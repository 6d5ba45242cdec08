"""Chinese map datums: GCJ-02 (Gaode, Tencent, Google in China) and BD-09 (Baidu) to WGS-84.

GCJ-02 is WGS-84 moved by a published, non-invertible polynomial offset (a few hundred metres);
BD-09 is GCJ-02 moved again. The forward transforms are the standard ones; going back to WGS-84
solves the forward transform by fixed-point iteration to well under a centimetre. Outside China
the services return WGS-84 unchanged, and so do these functions. Every function takes and
returns (latitude, longitude) in decimal degrees.
"""

from __future__ import annotations

import math

DATUMS = ("wgs84", "gcj02", "bd09")

# Krasovsky 1940, the ellipsoid of the published GCJ-02 offset.
_A = 6378245.0
_EE = 0.00669342162296594323
_BD_FACTOR = math.pi * 3000.0 / 180.0
_ITERATIONS = 10
_TOLERANCE_DEG = 1e-10


def is_in_china(latitude: float, longitude: float) -> bool:
    """Whether a point is inside the rough box where the Chinese datums apply."""
    return 0.8293 <= latitude <= 55.8271 and 72.004 <= longitude <= 137.8347


def wgs84_to_gcj02(latitude: float, longitude: float) -> tuple[float, float]:
    """Apply the GCJ-02 offset to a WGS-84 point."""
    if not is_in_china(latitude, longitude):
        return latitude, longitude
    d_lat, d_lon = _gcj_offset(latitude, longitude)
    return latitude + d_lat, longitude + d_lon


def gcj02_to_wgs84(latitude: float, longitude: float) -> tuple[float, float]:
    """Remove the GCJ-02 offset: find the WGS-84 point whose GCJ-02 image is the given one."""
    if not is_in_china(latitude, longitude):
        return latitude, longitude
    return _solve(wgs84_to_gcj02, (latitude, longitude), (latitude, longitude))


def gcj02_to_bd09(latitude: float, longitude: float) -> tuple[float, float]:
    """Apply Baidu's offset to a GCJ-02 point."""
    x, y = longitude, latitude
    z = math.hypot(x, y) + 0.00002 * math.sin(y * _BD_FACTOR)
    theta = math.atan2(y, x) + 0.000003 * math.cos(x * _BD_FACTOR)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def bd09_to_gcj02(latitude: float, longitude: float) -> tuple[float, float]:
    """Remove Baidu's offset from a BD-09 point (Baidu's published approximate inverse)."""
    x, y = longitude - 0.0065, latitude - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _BD_FACTOR)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _BD_FACTOR)
    return z * math.sin(theta), z * math.cos(theta)


def bd09_to_gcj02_exact(latitude: float, longitude: float) -> tuple[float, float]:
    """Remove Baidu's offset, refining the approximate inverse until it maps back exactly."""
    return _solve(gcj02_to_bd09, bd09_to_gcj02(latitude, longitude), (latitude, longitude))


def wgs84_to_bd09(latitude: float, longitude: float) -> tuple[float, float]:
    if not is_in_china(latitude, longitude):
        return latitude, longitude
    return gcj02_to_bd09(*wgs84_to_gcj02(latitude, longitude))


def bd09_to_wgs84(latitude: float, longitude: float) -> tuple[float, float]:
    """Convert a Baidu point to WGS-84."""
    if not is_in_china(latitude, longitude):
        return latitude, longitude
    return gcj02_to_wgs84(*bd09_to_gcj02_exact(latitude, longitude))


def to_wgs84(latitude: float, longitude: float, datum: str) -> tuple[float, float]:
    """Convert a point in `datum` (wgs84, gcj02 or bd09) to WGS-84."""
    if datum == "wgs84":
        return latitude, longitude
    if datum == "gcj02":
        return gcj02_to_wgs84(latitude, longitude)
    if datum == "bd09":
        return bd09_to_wgs84(latitude, longitude)
    raise ValueError(f"unknown datum {datum!r}: use one of {', '.join(DATUMS)}")


def _solve(forward, start: tuple[float, float], target: tuple[float, float]) -> tuple[float, float]:
    """Find p with forward(p) == target by fixed-point steps (the offsets vary slowly)."""
    lat, lon = start
    for _ in range(_ITERATIONS):
        image_lat, image_lon = forward(lat, lon)
        err_lat, err_lon = image_lat - target[0], image_lon - target[1]
        lat, lon = lat - err_lat, lon - err_lon
        if abs(err_lat) < _TOLERANCE_DEG and abs(err_lon) < _TOLERANCE_DEG:
            break
    return lat, lon


def _gcj_offset(latitude: float, longitude: float) -> tuple[float, float]:
    x, y = longitude - 105.0, latitude - 35.0
    d_lat = _offset_lat(x, y)
    d_lon = _offset_lon(x, y)
    rad_lat = math.radians(latitude)
    magic = 1 - _EE * math.sin(rad_lat) ** 2
    sqrt_magic = math.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * math.cos(rad_lat) * math.pi)
    return d_lat, d_lon


def _offset_lat(x: float, y: float) -> float:
    value = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    value += _waves(x) + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
    value += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2 / 3
    return value


def _offset_lon(x: float, y: float) -> float:
    value = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    value += _waves(x) + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
    value += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    return value


def _waves(x: float) -> float:
    return (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
