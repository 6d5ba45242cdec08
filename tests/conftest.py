"""Fixtures: a migrated database per test (SQLite file, or PostgreSQL when asked), the app, factories."""

from __future__ import annotations

import itertools
import os
import shutil
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import text

from dispatcher.clock import FakeClock
from dispatcher.db import make_engine

PG_URL = os.environ.get("VNH_TEST_DATABASE_URL", "").strip()
# 09:00 on a Wednesday in Asia/Shanghai.
START = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory):
    """Migrate once per run: a template SQLite file, or the PostgreSQL schema."""
    from dispatcher.migrate import upgrade

    if PG_URL:
        engine = make_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade(engine)
        engine.dispose()
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "vnh.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def database_url(_template_db, tmp_path):
    if PG_URL:
        from dispatcher.schema import metadata

        engine = make_engine(PG_URL)
        names = ", ".join(t.name for t in metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return PG_URL
    path = tmp_path / "vnh.sqlite"
    shutil.copy(_template_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def app(database_url, clock):
    from dispatcher import create_app
    from dispatcher.catalogue import load_catalogue
    from dispatcher.db import session_scope

    app = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "TELEPHONY": "local",
        "TWILIO_ACCOUNT_SID": "",
        "TWILIO_AUTH_TOKEN": "test-auth-token",
        "PUBLIC_URL": "",
        "SECRET_KEY": "test-secret",
        "CLOCK": clock,
        "OFFER_WINDOW_S": 600,
        "REVIEW_DELAY_S": 3600,
        "QUIET_HOURS": "21:00-08:00",
        "WTF_CSRF_ENABLED": False,
        "POLL_REUSE_S": 0,  # a poll sees what the test just did; tests/web/.../test_polls.py turns it on
    })
    with session_scope(app) as session:
        load_catalogue(session)
    yield app
    app.extensions["vnh.engine"].dispose()


@pytest.fixture
def session(app):
    session = app.extensions["vnh.sessionmaker"]()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def settings(app):
    from dispatcher.config import Settings

    return Settings(app.config)


@pytest.fixture
def policy(app):
    return app.extensions["vnh.policy"]


_serial = itertools.count(1)


def _id_number(birth: date, serial: int) -> str:
    from dispatcher.enrollment.identity import check_digit

    first17 = f"620102{birth:%Y%m%d}{serial % 1000:03d}"
    return first17 + check_digit(first17)


@pytest.fixture
def make_elder(session, clock):
    """Create an elder near Lanzhou's Chengguan district centre; keywords override."""
    from dispatcher.models import Elder, ElderPhone, EmergencyContact

    def make(*, phone=None, other_phones=(), contacts=(), **fields):
        n = next(_serial)
        birth = fields.pop("birth_date", date(1941, 3, 5))
        values = {
            "id_number": _id_number(birth, n), "name": "王秀英", "gender": "F", "birth_date": birth,
            "address": "城关区酒泉路街道民勤街社区3号楼2单元", "street": "酒泉路街道",
            "community": "民勤街社区", "latitude": 36.0580, "longitude": 103.8270,
            "elder_class": "特困", "disability_level": "能力完好", "is_living_alone": True,
            "created_at": clock.now(),
        }
        values.update(fields)
        elder = Elder(**values)
        elder.phones.append(ElderPhone(phone=phone or f"+8613900{n:06d}", is_primary=True))
        elder.phones.extend(ElderPhone(phone=p) for p in other_phones)
        elder.emergency_contacts.extend(EmergencyContact(name=c[0], phone=c[1]) for c in contacts)
        session.add(elder)
        session.commit()
        return elder

    return make


@pytest.fixture
def make_provider(session, clock):
    """Create an active provider with offerings {item_code: price_fen}; keywords override."""
    from dispatcher.models import Item
    from providers.models import Offering, Provider

    def make(*, offerings=None, **fields):
        n = next(_serial)
        values = {
            "code": f"P{n:04d}", "name": f"第{n}家政服务有限公司", "license_no": f"91620102MA{n:08d}",
            "dispatch_phone": f"+8613800{n:06d}", "address": "城关区张掖路", "latitude": 36.0600,
            "longitude": 103.8300, "service_radius_m": 5000, "capacity_per_day": 10,
            "opens_at": time(8, 0), "closes_at": time(18, 0), "contract_status": "active",
            "quality_score": 4.5, "created_at": clock.now(),
        }
        values.update(fields)
        provider = Provider(**values)
        session.add(provider)
        session.flush()
        for code, price in (offerings or {"HK01": 4800}).items():
            item = session.query(Item).filter_by(code=code).one()
            session.add(Offering(provider_id=provider.id, item_id=item.id, price_fen=price))
        session.commit()
        return provider

    return make


@pytest.fixture
def make_worker(session, clock):
    """Put a worker on a provider's record (issue 18); keywords override. Returns the Worker."""
    from providers.workers import WorkerFields, add_worker

    def make(provider, *, name="张丽", phone=None, id_number=None, items=None, work_number=""):
        n = next(_serial)
        worker = add_worker(session, provider, WorkerFields(
            name=name, phone=phone or f"+8613700{n:06d}", id_number=id_number or _id_number(date(1980, 6, 1), n),
            items=items, work_number=work_number), clock.now())
        session.commit()
        return worker

    return make


@pytest.fixture
def operator_client(app, session, clock):
    """A test client signed in as an operator (小李)."""
    from dispatcher.consoles.auth import add_user

    add_user(session, username="xiaoli", password="long-enough-pw", role="operator", display_name="小李",
             provider_id=None, now=clock.now())
    session.commit()
    client = app.test_client()
    assert client.post("/login", data={"username": "xiaoli", "password": "long-enough-pw"}).status_code == 302
    return client


@pytest.fixture
def make_visit(session, clock, make_elder, make_provider):
    """A checked-in (and by default checked-out) visit built row by row, with the proof columns
    the integrity checks read; keywords set its columns directly."""
    from dispatcher.models import Item, Order, Visit

    def make(*, provider=None, worker=None, elder=None, start=None, minutes=60, item="HK01",
             window=None, checked_out=True, in_method="location", out_method="location",
             device=None, state="completed"):
        n = next(_serial)
        provider = provider or make_provider()
        elder = elder or make_elder()
        start = start or clock.now() - timedelta(days=2)
        window = window or (start - timedelta(minutes=30), start + timedelta(hours=2, minutes=30))
        order = Order(order_no=f"T{n:012d}", job_code=f"{n:06d}", elder_id=elder.id,
                      item_id=session.query(Item).filter_by(code=item).one().id, state=state,
                      source="test", slot_code="asap", window_start_at=window[0],
                      window_end_at=window[1], quoted_price_fen=4800, provider_id=provider.id,
                      created_at=start, updated_at=start)
        visit = Visit(order=order, provider_id=provider.id, checked_in_at=start,
                      checked_out_at=start + timedelta(minutes=minutes) if checked_out else None,
                      check_in_source="portal", check_out_source="portal" if checked_out else None,
                      worker_id=worker.id if worker else None, check_in_method=in_method,
                      check_out_method=out_method if checked_out else None,
                      check_in_device=device)
        session.add(visit)
        session.commit()
        return visit

    return make


@pytest.fixture
def bill(session, clock):
    """Book a visit's charge (4800 fen, 4000 subsidy) and, if asked, the elder's confirmation."""
    from billing import ledger
    from billing.charges import ref_for
    from dispatcher.models import CallbackReview

    def book(visit, *, verified=False, review=True):
        ref = ref_for(visit)
        ledger.post_charge(session, ref, price_fen=4800, subsidy_fen=4000, copay_fen=800,
                           policy_version="2026-01", now=clock.now())
        if review:
            session.add(CallbackReview(visit_id=visit.id, order_id=visit.order_id,
                                       state="verified" if verified else "scheduled",
                                       due_at=clock.now(), did_worker_come=True if verified else None,
                                       answered_at=clock.now() if verified else None))
        if verified:
            ledger.post_verification(session, ref, clock.now())
        session.commit()
        return ref

    return book
