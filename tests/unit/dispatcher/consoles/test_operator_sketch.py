"""The console's map-free sketch and its masking rules: pure functions."""

from __future__ import annotations

import math

from dispatcher.consoles.operator import id_number_for, phone_for, sketch

LAT, LON = 36.0580, 103.8270


def test_the_elder_is_at_the_centre_and_a_provider_to_the_north_east_is_up_and_right():
    drawn = sketch(LAT, LON, [("1", LAT + 0.009, LON + 0.011, 1400)], size=240)
    (mark,) = drawn.marks
    assert mark.x > 120 and mark.y < 120 and mark.label == "1" and mark.distance_m == 1400


def test_the_farthest_provider_fits_inside_the_drawing_and_nearer_ones_sit_closer_in():
    drawn = sketch(LAT, LON, [("1", LAT + 0.005, LON, 556), ("2", LAT - 0.05, LON, 5560)], size=240)
    near, far = (math.hypot(m.x - 120, m.y - 120) for m in drawn.marks)
    assert near < far <= 120 - 18 + 0.1
    assert far > 90  # the scale uses the room there is


def test_distance_rings_are_round_numbers_within_the_farthest_provider():
    drawn = sketch(LAT, LON, [("1", LAT + 0.03, LON, 3340)])
    assert [label for _, label in drawn.rings] == ["1公里", "2公里", "3公里"]


def test_east_west_distances_shrink_with_latitude():
    drawn = sketch(LAT, LON, [("N", LAT + 0.01, LON, 0), ("E", LAT, LON + 0.01, 0)], size=240)
    north, east = drawn.marks
    assert (120 - north.y) > (east.x - 120) > 0.75 * (120 - north.y)


def test_an_operator_reads_phone_numbers_in_full_and_others_masked():
    assert phone_for("operator", "+8613912340001") == "139 1234 0001"  # as staff write it (issue 19)
    assert phone_for("supervisor", "+8613912340001") == "139 **** 0001"
    assert phone_for("provider", None) == ""


def test_only_an_administrator_reads_an_id_number_in_full():
    number = "62010219410305001X"
    assert id_number_for("admin", number) == number
    assert id_number_for("operator", number) == "620102********001X"
