"""The gazetteer, the geopy adapter (with a fake service, never the network) and the settings."""

import csv

import pytest
from geopy.exc import GeocoderServiceError
from geopy.extra.rate_limiter import RateLimiter
from geopy.location import Location

from dispatcher.demo.district import STREETS
from dispatcher.demo.gazetteer import COLUMNS, demo_gazetteer_rows
from dispatcher.enrollment.coords import wgs84_to_bd09, wgs84_to_gcj02
from dispatcher.enrollment.geocoding import (
    DEFAULT_GAZETTEER,
    Gazetteer,
    GazetteerGeocoder,
    GeocodeQuery,
    GeocoderUnavailable,
    GeopyGeocoder,
    build_geocoder,
    geocoder_settings,
    normalise_address,
)

LANZHOU_WGS = (36.0601, 103.8307)


@pytest.fixture(scope="module")
def gazetteer():
    return Gazetteer.from_file()


def point_of(gazetteer, street, community, address=""):
    key = gazetteer.canonical(address) if address else None
    return gazetteer.addresses[key] if key else gazetteer.communities[(street, community)]


def test_the_shipped_gazetteer_is_the_one_generated_from_the_demo_district():
    with DEFAULT_GAZETTEER.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))

    assert rows[0] == list(COLUMNS)
    assert [tuple(r) for r in rows[1:]] == demo_gazetteer_rows()
    assert {(r[0], r[1]) for r in rows[1:]} == {
        (s, c) for s, entries in STREETS.items() for c, _, _ in entries
    }


def test_a_known_building_is_found_whatever_precedes_it_and_however_it_is_written(gazetteer):
    expected = point_of(gazetteer, "", "", "酒泉路街道金塔巷社区3号楼")
    writings = [
        "兰州市城关区酒泉路街道金塔巷社区3号楼2单元101室",
        "甘肃省兰州市城关区 酒泉路街道 金塔巷社区 3栋 2单元",
        "金塔巷社区３＃楼",
        "城关区金塔巷社区3幢",
    ]

    for address in writings:
        place = gazetteer.locate(GeocodeQuery(address))
        assert (place.latitude, place.longitude, place.precision) == (*expected, "address")


def test_building_12_is_not_mistaken_for_building_1(gazetteer):
    place = gazetteer.locate(GeocodeQuery("酒泉路街道金塔巷社区12号楼"))

    assert (place.latitude, place.longitude) == point_of(
        gazetteer, "", "", "酒泉路街道金塔巷社区12号楼"
    )
    assert (place.latitude, place.longitude) != point_of(
        gazetteer, "", "", "酒泉路街道金塔巷社区1号楼"
    )


def test_an_unknown_building_in_a_known_community_is_placed_at_the_community_centre(gazetteer):
    place = gazetteer.locate(GeocodeQuery("兰州市城关区雁南街道雁园里社区99号楼"))

    assert place.precision == "community"
    assert (place.latitude, place.longitude) == point_of(gazetteer, "雁南街道", "雁园里社区")


def test_an_address_naming_no_place_falls_back_to_the_rows_community_columns(gazetteer):
    place = gazetteer.locate(
        GeocodeQuery("7号楼3单元", street="白银路街道", community="秦安里社区")
    )

    assert place.precision == "community"
    assert (place.latitude, place.longitude) == point_of(gazetteer, "白银路街道", "秦安里社区")


def test_an_address_nobody_knows_is_not_guessed(gazetteer):
    for query in (
        GeocodeQuery("北京市朝阳区建国路88号"),
        GeocodeQuery("某某路1号", street="酒泉路街道", community="不存在社区"),
        GeocodeQuery(""),
    ):
        assert gazetteer.locate(query) is None


def test_a_community_name_used_in_two_streets_needs_the_street():
    rows = [
        {"street": "甲街道", "community": "东湖社区", "address": "", "latitude": "36.0", "longitude": "103.0"},
        {"street": "乙街道", "community": "东湖社区", "address": "", "latitude": "36.5", "longitude": "103.5"},
    ]  # fmt: skip
    gazetteer = Gazetteer(rows)

    assert gazetteer.locate(GeocodeQuery("乙街道东湖社区5号")).latitude == 36.5
    assert (
        gazetteer.locate(
            GeocodeQuery("东湖社区5号", street="甲街道", community="东湖社区")
        ).latitude
        == 36.0
    )
    assert gazetteer.locate(GeocodeQuery("东湖社区5号")) is None


def test_normalising_folds_full_width_digits_spaces_and_building_words():
    assert normalise_address(" 金塔巷社区 １２栋 ") == "金塔巷社区12号楼"
    assert normalise_address("3#楼2单元") == normalise_address("3#2单元") == "3号楼2单元"


class FakeService:
    """Stands in for a geopy geocoder: answers from a table, records every query."""

    def __init__(self, answers, fail=0):
        self.answers = answers
        self.queries = []
        self.fail = fail

    def geocode(self, text):
        self.queries.append(text)
        if self.fail:
            self.fail -= 1
            raise GeocoderServiceError("503 Service Unavailable")
        answer = self.answers.get(text)
        if answer is None:
            return None
        (latitude, longitude), raw = answer
        return Location(text, (latitude, longitude), raw)


def adapter(service, datum, region=""):
    limited = RateLimiter(
        service.geocode, min_delay_seconds=0, max_retries=0, swallow_exceptions=False
    )
    return GeopyGeocoder("fake", limited, datum=datum, region=region)


@pytest.mark.parametrize(("datum", "forward"), [("bd09", wgs84_to_bd09), ("gcj02", wgs84_to_gcj02)])
def test_a_chinese_services_answer_is_converted_to_wgs84(datum, forward):
    service = FakeService({"金塔巷社区3号楼": (forward(*LANZHOU_WGS), {"level": "门址"})})

    place = adapter(service, datum).geocode(GeocodeQuery("金塔巷社区3号楼"))

    assert (place.latitude, place.longitude) == pytest.approx(LANZHOU_WGS, abs=1e-7)
    assert service.queries == ["金塔巷社区3号楼"]


def test_the_service_is_asked_with_the_community_and_region_the_address_leaves_out():
    service = FakeService({})

    adapter(service, "wgs84", region="甘肃省兰州市").geocode(
        GeocodeQuery("3号楼", street="酒泉路街道", community="金塔巷社区")
    )

    assert service.queries == ["甘肃省兰州市酒泉路街道金塔巷社区3号楼"]


@pytest.mark.parametrize(
    "raw",
    [{"level": "城市"}, {"addresstype": "city"}, {"types": ["locality", "political"]}],
    ids=["baidu-city", "nominatim-city", "google-locality"],
)
def test_an_answer_that_only_names_the_city_is_refused_not_used(raw):
    service = FakeService({"兰州": (LANZHOU_WGS, raw)})

    assert adapter(service, "wgs84").geocode(GeocodeQuery("兰州")) is None


def test_an_answer_outside_china_or_at_zero_zero_is_refused():
    service = FakeService({"a": ((0.0, 0.0), {}), "b": ((51.5, -0.12), {})})

    assert adapter(service, "wgs84").geocode(GeocodeQuery("a")) is None
    assert adapter(service, "wgs84").geocode(GeocodeQuery("b")) is None


def test_a_failing_service_is_reported_and_given_up_after_three_failures_in_a_row():
    service = FakeService({}, fail=10)
    geocoder = adapter(service, "wgs84")

    for _ in range(5):
        with pytest.raises(GeocoderUnavailable):
            geocoder.geocode(GeocodeQuery("金塔巷社区3号楼"))

    assert len(service.queries) == 3


def test_settings_default_to_the_offline_gazetteer():
    geocoder = build_geocoder(geocoder_settings({}))

    assert isinstance(geocoder, GazetteerGeocoder)
    assert not geocoder.is_remote


def test_a_service_is_built_wrapped_in_a_rate_limiter_with_its_datum_and_without_calling_it():
    geocoder = build_geocoder(
        geocoder_settings(
            {"VNH_GEOCODER": "baidu", "VNH_GEOCODER_KEY": "k", "VNH_GEOCODER_MIN_DELAY_S": "2"}
        )
    )

    assert (geocoder.name, geocoder.datum, geocoder.is_remote) == ("baidu", "bd09", True)
    assert isinstance(geocoder.lookup, RateLimiter)
    assert geocoder.lookup.min_delay_seconds == 2.0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VNH_GEOCODER": "amap"}, "VNH_GEOCODER must be one of"),
        ({"VNH_GEOCODER": "baidu"}, "needs VNH_GEOCODER_KEY"),
        ({"VNH_GEOCODER": "nominatim"}, "USER_AGENT"),
        ({"VNH_GEOCODER_DATUM": "cgcs2000"}, "VNH_GEOCODER_DATUM"),
        ({"VNH_GEOCODER_MIN_DELAY_S": "soon"}, "MIN_DELAY_S"),
    ],
)
def test_unusable_settings_are_refused_with_the_setting_named(env, message):
    with pytest.raises(ValueError, match=message):
        geocoder_settings(env)
