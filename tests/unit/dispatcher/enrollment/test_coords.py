"""GCJ-02 and BD-09 to WGS-84, checked against point pairs published with other implementations."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.enrollment.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

# (WGS-84, GCJ-02) as published in the tests of the eviltransform library: Shanghai, Shenzhen,
# Beijing; agreement to 1e-6 degrees (about 10 cm).
WGS_GCJ = [
    ((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215)),
    ((22.543847, 113.912316), (22.540796131694766, 113.9171764808363)),
    ((39.911954, 116.377817), (39.91334545536069, 116.38404722455657)),
]
# The widely copied coordtransform example at Tiananmen, given there as (lng, lat). Its inverse
# conversions take one uncorrected step, good to a few metres; ours iterate to a centimetre.
TIANANMEN = (39.915, 116.404)
TIANANMEN_WGS_TO_GCJ = (39.91640428150164, 116.41024449916938)
TIANANMEN_WGS_TO_BD = (39.922699552216216, 116.41662724378733)
TIANANMEN_GCJ_TO_BD = (39.92133699351021, 116.41036949371029)
TIANANMEN_BD_TO_GCJ = (39.90865673957631, 116.39762729119315)
TIANANMEN_GCJ_TO_WGS_ONE_STEP = (39.91359571849836, 116.39775550083061)
TIANANMEN_BD_TO_WGS_ONE_STEP = (39.90725321448524, 116.39138369954496)


def metres(a, b) -> float:
    dy = (a[0] - b[0]) * 111_320
    dx = (a[1] - b[1]) * 111_320 * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ)
def test_wgs84_to_gcj02_matches_the_published_pairs(wgs, gcj):
    assert wgs84_to_gcj02(*wgs) == pytest.approx(gcj, abs=1e-6)


@pytest.mark.parametrize(("wgs", "gcj"), WGS_GCJ)
def test_gcj02_to_wgs84_recovers_the_published_point_within_a_centimetre(wgs, gcj):
    assert metres(gcj02_to_wgs84(*gcj), wgs) < 0.01


def test_the_tiananmen_forward_examples_match_to_the_last_digits():
    assert wgs84_to_gcj02(*TIANANMEN) == pytest.approx(TIANANMEN_WGS_TO_GCJ, abs=1e-12)
    assert wgs84_to_bd09(*TIANANMEN) == pytest.approx(TIANANMEN_WGS_TO_BD, abs=1e-12)
    assert gcj02_to_bd09(*TIANANMEN) == pytest.approx(TIANANMEN_GCJ_TO_BD, abs=1e-12)
    assert bd09_to_gcj02(*TIANANMEN) == pytest.approx(TIANANMEN_BD_TO_GCJ, abs=1e-12)


def test_the_tiananmen_inverse_examples_agree_within_the_one_step_error_and_ours_maps_back():
    gcj_back = gcj02_to_wgs84(*TIANANMEN)
    bd_back = bd09_to_wgs84(*TIANANMEN)

    assert metres(gcj_back, TIANANMEN_GCJ_TO_WGS_ONE_STEP) < 5
    assert metres(bd_back, TIANANMEN_BD_TO_WGS_ONE_STEP) < 5
    assert metres(wgs84_to_gcj02(*gcj_back), TIANANMEN) < 0.01
    assert metres(wgs84_to_bd09(*bd_back), TIANANMEN) < 0.01


def test_the_offset_in_lanzhou_is_hundreds_of_metres_not_zero():
    lanzhou = (36.057, 103.834)

    assert 100 < metres(wgs84_to_gcj02(*lanzhou), lanzhou) < 1000
    assert 100 < metres(wgs84_to_bd09(*lanzhou), lanzhou) < 2000


@given(
    st.floats(min_value=18.0, max_value=53.0),
    st.floats(min_value=74.0, max_value=134.0),
)
def test_going_to_a_chinese_datum_and_back_returns_the_same_point(latitude, longitude):
    point = (latitude, longitude)

    assert metres(gcj02_to_wgs84(*wgs84_to_gcj02(*point)), point) < 0.01
    assert metres(bd09_to_wgs84(*wgs84_to_bd09(*point)), point) < 0.01
    assert metres(to_wgs84(*wgs84_to_gcj02(*point), "gcj02"), point) < 0.01


def test_points_outside_china_are_left_alone():
    london = (51.5074, -0.1278)

    assert wgs84_to_gcj02(*london) == london
    assert gcj02_to_wgs84(*london) == london
    assert bd09_to_wgs84(*london) == london


def test_an_unknown_datum_is_refused():
    with pytest.raises(ValueError, match="unknown datum"):
        to_wgs84(36.0, 103.8, "cgcs2000")
