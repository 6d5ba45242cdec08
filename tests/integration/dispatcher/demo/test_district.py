"""The demo district: deterministic, complete, valid, and the same as its enrollment files."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import delete, select

from billing.policy import DISABILITY_LEVELS, load_policy
from dispatcher.clock import local
from dispatcher.demo.district import (
    DEMO_ELDER_PHONE,
    DEMO_PROVIDER_PHONE,
    STREETS,
    build_demo_district,
    write_demo_csvs,
)
from dispatcher.enrollment.identity import birth_of, validate_id_number
from dispatcher.enrollment.importer import import_file
from dispatcher.models import Elder, ElderPhone, EmergencyContact, Item
from providers.models import Offering, Provider, Worker
from telephony.numbers import to_e164


def clear_enrollment(session) -> None:
    session.flush()
    for model in (Worker, Offering, Provider, ElderPhone, EmergencyContact, Elder):
        session.execute(delete(model))
    session.expunge_all()


def snapshot(session) -> list:
    """Everything enrolled, by natural keys, in a stable order."""
    elders = sorted(
        (
            e.id_number, e.name, e.gender, e.birth_date, e.address, e.street, e.community,
            e.latitude, e.longitude, e.elder_class, e.disability_level, e.is_living_alone,
            sorted((p.phone, p.is_primary) for p in e.phones),
            sorted((c.name, c.phone) for c in e.emergency_contacts),
        )
        for e in session.scalars(select(Elder))
    )  # fmt: skip
    providers = sorted(
        (
            p.code, p.name, p.license_no, p.dispatch_phone, p.address, p.latitude, p.longitude,
            p.service_radius_m, p.capacity_per_day, p.opens_at, p.closes_at, p.contract_status,
        )
        for p in session.scalars(select(Provider))
    )  # fmt: skip
    offerings = sorted(
        session.execute(
            select(Provider.code, Item.code, Offering.price_fen)
            .join(Offering.provider)
            .join(Item, Item.id == Offering.item_id)
        ).all()
    )
    return [elders, providers, [tuple(o) for o in offerings]]


def digest(session) -> str:
    return hashlib.sha256(repr(snapshot(session)).encode()).hexdigest()


@pytest.fixture
def demo(session, clock):
    return build_demo_district(session, seed=2026, now=clock.now())


def test_the_same_seed_builds_the_same_district_and_another_seed_another(session, clock):
    build_demo_district(session, seed=7, elders=60, providers=6, now=clock.now())
    first = digest(session)
    clear_enrollment(session)
    build_demo_district(session, seed=7, elders=60, providers=6, now=clock.now())
    again = digest(session)
    clear_enrollment(session)
    build_demo_district(session, seed=8, elders=60, providers=6, now=clock.now())

    assert again == first
    assert digest(session) != first


def test_the_summary_counts_what_was_built(session, demo):
    assert demo.streets == len(STREETS) >= 5
    assert demo.communities == sum(len(c) for c in STREETS.values())
    assert (demo.elders, demo.providers) == (200, 12)
    assert len(session.scalars(select(Elder)).all()) == 200
    assert len(session.scalars(select(Offering)).all()) == demo.offerings


def test_every_policy_class_and_disability_level_is_represented(session, demo, clock):
    elders = session.scalars(select(Elder)).all()
    classes = Counter(e.elder_class for e in elders)
    today = local(clock.now()).date()

    assert set(classes) == set(load_policy().versions[-1].classes)
    assert {e.disability_level for e in elders} == set(DISABILITY_LEVELS)
    assert 0.2 < sum(e.is_living_alone for e in elders) / len(elders) < 0.5
    for elder in elders:
        age = (
            today.year
            - elder.birth_date.year
            - ((today.month, today.day) < (elder.birth_date.month, elder.birth_date.day))
        )
        assert 60 <= age <= 96
        if elder.elder_class == "高龄":
            assert age >= 80
        if elder.elder_class == "普通":
            assert age < 80


def test_a_small_demo_still_represents_every_class_and_level(session, clock):
    build_demo_district(session, seed=1, elders=5, providers=2, now=clock.now())
    elders = session.scalars(select(Elder)).all()

    assert {e.elder_class for e in elders} == set(load_policy().versions[-1].classes)
    assert {e.disability_level for e in elders} == set(DISABILITY_LEVELS)


def test_every_catalogue_item_is_offered_by_two_providers_at_a_contract_price(session, demo):
    offered = Counter(o.item_id for o in session.scalars(select(Offering)))
    items = {i.id: i for i in session.scalars(select(Item))}

    assert all(offered[item_id] >= 2 for item_id in items)
    for offering in session.scalars(select(Offering)):
        item = items[offering.item_id]  # free items too: the government pays their price
        assert 0 < offering.price_fen
        assert 0.6 * item.market_price_fen <= offering.price_fen <= 0.8 * item.market_price_fen


def test_providers_have_two_to_four_categories_and_plausible_terms(session, demo):
    providers = session.scalars(select(Provider)).all()
    items = {i.id: i.category_id for i in session.scalars(select(Item))}

    assert [p.code for p in sorted(providers, key=lambda p: p.code)][:2] == ["P001", "P002"]
    for provider in providers:
        assert 2 <= len({items[o.item_id] for o in provider.offerings}) <= 4
        assert 3000 <= provider.service_radius_m <= 8000
        assert 8 <= provider.capacity_per_day <= 30
        assert provider.opens_at < provider.closes_at
    assert any(p.closes_at.hour == 23 and p.opens_at.hour == 0 for p in providers)


def test_id_numbers_are_valid_and_match_birth_dates(session, demo):
    elders = session.scalars(select(Elder)).all()

    assert len({e.id_number for e in elders}) == len(elders)
    for elder in elders:
        assert validate_id_number(elder.id_number) == elder.id_number
        assert elder.id_number.startswith("620102")
        assert birth_of(elder.id_number) == elder.birth_date
        assert int(elder.id_number[16]) % 2 == (1 if elder.gender == "M" else 0)
        assert date(1930, 1, 1) <= elder.birth_date <= date(1965, 12, 31)


def test_every_phone_is_e164_and_unique(session, demo):
    numbers = [p.phone for p in session.scalars(select(ElderPhone))]
    numbers += [c.phone for c in session.scalars(select(EmergencyContact))]
    numbers += [p.dispatch_phone for p in session.scalars(select(Provider))]
    landlines = [n for n in numbers if n.startswith("+86931")]

    assert all(to_e164(n) == n for n in numbers)
    assert len(set(numbers)) == len(numbers)
    assert landlines and all(len(n) == len("+86931") + 7 for n in landlines)


def test_the_documented_demo_numbers_belong_to_the_first_elder_and_provider(session, demo):
    elder = session.scalars(select(Elder).order_by(Elder.id)).first()
    provider = session.scalars(select(Provider).where(Provider.code == "P001")).one()
    hk01 = session.scalars(select(Item).where(Item.code == "HK01")).one()

    assert [p.phone for p in elder.phones if p.is_primary] == [DEMO_ELDER_PHONE]
    assert provider.dispatch_phone == DEMO_PROVIDER_PHONE
    assert hk01.id in {o.item_id for o in provider.offerings}
    assert _distance_m(elder, provider) < provider.service_radius_m


def test_elders_live_near_their_community(session, demo):
    centroids = {name: (north, east) for c in STREETS.values() for name, north, east in c}
    for elder in session.scalars(select(Elder)):
        north, east = centroids[elder.community]
        dy = (elder.latitude - 36.057) * 111_320 - north
        dx = (elder.longitude - 103.834) * 111_320 * math.cos(math.radians(36.057)) - east
        assert math.hypot(dx, dy) <= 601


def test_a_database_with_elders_is_refused(session, clock, make_elder):
    make_elder()

    with pytest.raises(ValueError, match="already has elders"):
        build_demo_district(session, seed=1, now=clock.now())


def test_the_demo_csv_files_import_into_an_empty_database_as_the_same_data(
    session, demo, tmp_path, clock
):
    before = snapshot(session)
    paths = write_demo_csvs(session, tmp_path)
    clear_enrollment(session)

    reports = [
        import_file(session, kind, tmp_path / f"{kind}.csv", clock.now())
        for kind in ("elders", "providers", "offerings")
    ]

    assert [p.name for p in paths] == ["elders.csv", "providers.csv", "offerings.csv"]
    assert all(r.ok for r in reports), [r.errors[:3] for r in reports]
    assert [r.added for r in reports] == [200, 12, demo.offerings]
    session.expire_all()
    assert snapshot(session) == before


def _distance_m(elder: Elder, provider: Provider) -> float:
    dy = (elder.latitude - provider.latitude) * 111_320
    dx = (elder.longitude - provider.longitude) * 111_320 * math.cos(math.radians(36.057))
    return math.hypot(dx, dy)


def test_every_demo_provider_has_workers_on_record(session, clock):
    """Issue 18: check-ins name a worker on record, so the demo registers two per provider."""
    from sqlalchemy import func, select

    from dispatcher.catalogue import load_catalogue
    from dispatcher.demo.district import DEMO_WORKERS, build_demo_district
    from providers.models import Provider, Worker

    load_catalogue(session)
    build_demo_district(session, seed=7, elders=20, providers=3, now=clock.now())
    for provider in session.scalars(select(Provider)):
        numbers = session.scalars(select(Worker.work_number).where(Worker.provider_id == provider.id)).all()
        assert sorted(numbers) == [f"{n:04d}" for n in range(1, len(DEMO_WORKERS) + 1)]
    assert session.scalar(select(func.count(func.distinct(Worker.id_number)))) == 3 * len(DEMO_WORKERS)
