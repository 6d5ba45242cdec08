"""Proof of place: plausible locations, distance from the home, the visit code's shape."""

from __future__ import annotations

import pytest

from dispatcher.lifecycle.proof import (
    DEFAULT_DISTANCE_M,
    device_hash,
    location_proof,
    new_visit_code,
    plausible,
)

HOME = (36.0580, 103.8270)


@pytest.mark.parametrize("lat, lng", [(0.0, 0.0), (48.8566, 2.3522), (40.7, -74.0), (None, 103.8),
                                      (float("nan"), 103.8), (36.05, 200.0)])
def test_an_implausible_location_is_not_a_place(lat, lng):
    assert not plausible(lat, lng)
    assert location_proof(lat, lng, *HOME, DEFAULT_DISTANCE_M).method == "none"
    assert location_proof(lat, lng, *HOME, DEFAULT_DISTANCE_M).lat is None  # not kept as a place


def test_a_location_just_inside_the_distance_proves_the_place_and_just_outside_does_not():
    # 0.0025 degrees of latitude is about 278 m; 0.0030 about 334 m.
    inside = location_proof(HOME[0] + 0.0025, HOME[1], *HOME, 300)
    outside = location_proof(HOME[0] + 0.0030, HOME[1], *HOME, 300)
    assert (inside.method, inside.lat) == ("location", HOME[0] + 0.0025)
    assert outside.method == "none" and outside.lat == HOME[0] + 0.0030 and "超出300米" in outside.note


def test_an_elder_without_coordinates_cannot_be_proved_by_location():
    found = location_proof(*HOME, None, None, 300)
    assert found.method == "none" and "无坐标" in found.note


def test_a_visit_code_is_four_digits_and_codes_differ():
    codes = {new_visit_code() for _ in range(200)}
    assert all(len(c) == 4 and c.isdigit() for c in codes)
    assert len(codes) > 100


def test_a_device_is_named_by_a_stable_short_hash_that_hides_the_number():
    first = device_hash("sms", "+8613912340001")
    assert first == device_hash("sms", "+8613912340001") != device_hash("sms", "+8613912340002")
    assert len(first) <= 64 and "1391234" not in first
