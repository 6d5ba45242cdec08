"""Each check with visits built to trip it and visits built to just pass it (pure, no database)."""

from datetime import UTC, datetime, timedelta

import pytest

from billing.policy import load_policy
from dispatcher.integrity.rules import (
    Denial,
    Rules,
    VisitFacts,
    booked_minutes,
    distance_km,
    no_proof,
    outside_window,
    repeated_denials,
    shared_device,
    short_visit,
    sweep_worker_visits,
)
from dispatcher.integrity.settings import (
    DEFAULT_MIN_SHARE_PERCENT,
    IntegritySettingError,
    min_share_percent,
    rules_from,
)

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
HOME = (36.0580, 103.8270)
RULES = Rules()


def visit(visit_id, *, worker=1, start=T0, minutes=60, home=HOME, window=None, booked=None,
          in_method="location", out_method="location", out=True):
    window = window or (start - timedelta(minutes=30), start + timedelta(hours=2))
    return VisitFacts(visit_id, worker, 1, visit_id, f"{1000 + visit_id}", start,
                      start + timedelta(minutes=minutes) if out else None, window[0], window[1],
                      home[0], home[1], in_method, out_method, booked)


def north_of(km):
    return (HOME[0] + km / 111.195, HOME[1])


def checks(findings):
    return sorted((f.visit_id, f.check) for f in findings)


def test_two_visits_of_one_worker_whose_times_cross_are_both_flagged_as_an_overlap():
    a = visit(1, minutes=60)
    b = visit(2, start=T0 + timedelta(minutes=59), home=north_of(0.2))
    found = list(sweep_worker_visits([a, b], RULES, T0 + timedelta(days=1)))
    assert checks(found) == [(1, "overlap"), (2, "overlap")]
    assert found[0].evidence["other"]["visit_id"] == 1 and found[0].evidence["overlap_minutes"] == 1


def test_a_visit_starting_the_minute_the_last_ended_is_no_overlap():
    a = visit(1, minutes=60)
    b = visit(2, start=T0 + timedelta(minutes=60), home=north_of(0.2))
    assert checks(sweep_worker_visits([a, b], RULES, T0 + timedelta(days=1))) == []


def test_two_workers_at_the_same_time_are_no_overlap():
    a, b = visit(1, worker=1), visit(2, worker=2)
    assert checks(sweep_worker_visits([a, b], RULES, T0 + timedelta(days=1))) == []


def test_a_visit_never_checked_out_overlaps_the_next_check_in_within_its_assumed_length():
    a = visit(1, out=False)
    b = visit(2, start=T0 + timedelta(minutes=1), home=north_of(5))
    assert checks(sweep_worker_visits([a, b], RULES, T0 + timedelta(days=1))) == [
        (1, "overlap"), (2, "overlap")]


def test_every_visit_inside_a_long_one_is_flagged():
    long = visit(1, minutes=300)
    inside = [visit(2, start=T0 + timedelta(minutes=10), minutes=20),
              visit(3, start=T0 + timedelta(minutes=100), minutes=20)]
    found = checks(sweep_worker_visits([long, *inside], RULES, T0 + timedelta(days=1)))
    assert {v for v, _ in found} == {1, 2, 3}


def test_a_hop_across_the_city_faster_than_the_limit_is_flagged_and_just_slower_passes():
    # 20 km in 29 minutes is over 40 km/h; in 31 minutes it is under.
    a = visit(1, minutes=60)
    fast = visit(2, start=T0 + timedelta(minutes=89), home=north_of(20))
    slow = visit(2, start=T0 + timedelta(minutes=91), home=north_of(20))
    until = T0 + timedelta(days=1)
    found = list(sweep_worker_visits([a, fast], RULES, until))
    assert checks(found) == [(2, "travel")]
    assert found[0].evidence["distance_km"] == pytest.approx(20, abs=0.05)
    assert found[0].evidence["speed_kmh"] > 40
    assert checks(sweep_worker_visits([a, slow], RULES, until)) == []


def test_neighbours_closer_than_the_minimum_distance_are_not_judged_on_speed():
    a = visit(1, minutes=60)
    b = visit(2, start=T0 + timedelta(minutes=61), home=north_of(0.9))
    assert checks(sweep_worker_visits([a, b], RULES, T0 + timedelta(days=1))) == []


def test_an_hourly_visit_shorter_than_the_minimum_share_of_its_booking_is_flagged():
    # Booked two hours at 50%: 59 minutes trips, 60 passes.
    assert short_visit(visit(1, minutes=59, booked=120), RULES).check == "short"
    assert short_visit(visit(1, minutes=60, booked=120), RULES) is None


def test_a_visit_priced_per_visit_is_not_judged_short_unless_a_floor_is_set():
    assert short_visit(visit(1, minutes=0), RULES) is None
    floor = Rules(min_visit_minutes=5)
    assert short_visit(visit(1, minutes=4), floor).check == "short"
    assert short_visit(visit(1, minutes=5), floor) is None


def test_a_check_in_beyond_the_slack_around_the_window_is_flagged_and_at_the_slack_passes():
    window = (T0, T0 + timedelta(hours=3))
    at_edge = visit(1, start=window[1] + timedelta(minutes=120), window=window)
    beyond = visit(2, start=window[1] + timedelta(minutes=121), window=window)
    early = visit(3, start=window[0] - timedelta(minutes=121), window=window)
    assert outside_window(at_edge, RULES) is None
    assert outside_window(beyond, RULES).evidence["off_minutes"] == 121
    assert "早于" in outside_window(early, RULES).reason


def test_an_end_proved_by_nothing_is_flagged_and_a_proved_one_passes():
    required = Rules(proof_required_since=T0)
    assert no_proof(visit(1, in_method="none"), required).evidence["check_in_method"] == "none"
    assert "签退" in no_proof(visit(1, out_method="none"), required).reason
    assert no_proof(visit(1, in_method="elder_phone", out_method="visit_code"), required) is None


def test_an_end_proved_by_nothing_passes_until_the_programme_requires_proof():
    assert no_proof(visit(1, in_method="none"), RULES) is None
    assert no_proof(visit(1, in_method="none"), Rules(proof_required_since=T0 + timedelta(days=1))) is None


def test_unrecorded_proof_counts_only_from_the_configured_day():
    old = visit(1, in_method=None, out_method=None)
    assert no_proof(old, RULES) is None
    assert no_proof(old, Rules(proof_required_since=T0)).check == "no_proof"
    assert no_proof(old, Rules(proof_required_since=T0 + timedelta(days=1))) is None


def test_wrong_visit_codes_are_a_finding_even_when_the_ends_were_proved():
    assert "输错3次" in no_proof(visit(1), RULES, failed_codes=3).reason


def denial(visit_id, days, elder=1, provider=1):
    return Denial(elder, provider, visit_id, f"{visit_id}", T0 + timedelta(days=days))


def test_an_elder_denying_one_provider_twice_within_thirty_days_flags_both_visits():
    found = list(repeated_denials([denial(1, 0), denial(2, 30)], RULES))
    assert checks(found) == [(1, "denials"), (2, "denials")]
    assert len(found[0].evidence["denied"]) == 2


def test_denials_further_apart_or_of_different_providers_pass():
    assert list(repeated_denials([denial(1, 0), denial(2, 31)], RULES)) == []
    assert list(repeated_denials([denial(1, 0, provider=1), denial(2, 1, provider=2)], RULES)) == []
    assert list(repeated_denials([denial(1, 0)], RULES)) == []


def test_a_provider_whose_three_workers_share_one_device_has_every_such_visit_flagged():
    rows = {7: [(1, 1, "dev"), (2, 2, "dev"), (3, 3, "dev")]}
    assert checks(shared_device(rows, RULES)) == [(1, "device"), (2, "device"), (3, "device")]


def test_two_workers_on_one_device_or_three_on_two_devices_pass():
    assert list(shared_device({7: [(1, 1, "dev"), (2, 2, "dev")]}, RULES)) == []
    assert list(shared_device({7: [(1, 1, "a"), (2, 2, "a"), (3, 3, "b")]}, RULES)) == []


def test_booked_minutes_read_hourly_units_and_leave_per_visit_units_alone():
    assert booked_minutes("小时") == 60
    assert booked_minutes("次(2小时)") is None
    assert booked_minutes("次") is None
    assert booked_minutes("次(不含材料)") is None


def test_distance_of_one_degree_of_latitude_is_about_111_km():
    assert distance_km(36.0, 103.8, 37.0, 103.8) == pytest.approx(111.2, abs=0.1)


def test_the_minimum_share_is_the_policy_versions_hourly_key_else_50_percent():
    from dataclasses import dataclass, field

    @dataclass
    class Version:
        tables: dict = field(default_factory=dict)

    class Policy:
        def __init__(self, version):
            self.version = version

        def version_for_month(self, month):
            if month < "2026-01":
                raise ValueError("no version")
            return self.version

    assert min_share_percent(Policy(Version({"hourly": {"min_share_percent": 70}})), "2026-11") == 70
    assert min_share_percent(Policy(Version()), "2026-11") == DEFAULT_MIN_SHARE_PERCENT == 50
    assert min_share_percent(Policy(Version()), "1999-01") == 50
    assert min_share_percent(None, "2026-11") == 50
    assert min_share_percent(load_policy(), "2026-11") == 50


def test_settings_name_a_bad_value():
    assert rules_from({"VNH_INTEGRITY_MAX_SPEED_KMH": "25"}).max_speed_kmh == 25
    with pytest.raises(IntegritySettingError, match="VNH_INTEGRITY_DENIALS"):
        rules_from({"VNH_INTEGRITY_DENIALS": "two"})
    with pytest.raises(IntegritySettingError, match="VNH_INTEGRITY_PROOF_SINCE"):
        rules_from({"VNH_INTEGRITY_PROOF_SINCE": "soon"})
