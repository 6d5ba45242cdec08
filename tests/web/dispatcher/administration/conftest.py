"""Fixtures for the administration pages: signed-in administrators and enrollment rows."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from dispatcher.enrollment.identity import check_digit
from dispatcher.enrollment.rows import ELDER_COLUMNS


def _id_number(birth: date, serial: int) -> str:
    first17 = f"620102{birth:%Y%m%d}{serial:03d}"
    return first17 + check_digit(first17)


def _elder_row(serial: int = 1, **overrides: str) -> dict[str, str]:
    birth = date(1941, 3, 5)
    row = {
        "id_number": _id_number(birth, serial), "name": "王秀英", "gender": "女",
        "birth_date": birth.isoformat(), "phone": f"139 1234 {serial:04d}", "other_phones": "",
        "address": "城关区酒泉路街道金塔巷社区3号楼2单元", "street": "酒泉路街道", "community": "金塔巷社区",
        "latitude": "36.0580", "longitude": "103.8270", "elder_class": "特困", "disability_level": "能力完好",
        "lives_alone": "是", "emergency_contact_name": "李伟", "emergency_contact_phone": f"15800{serial:06d}",
    }  # fmt: skip
    row.update(overrides)
    return row


def _csv_bytes(columns, rows, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def _elders_file(rows, encoding: str = "utf-8") -> bytes:
    return _csv_bytes(ELDER_COLUMNS, rows, encoding)


def _sign_in(app, session, clock, username: str, role: str, provider_id=None):
    from dispatcher.consoles.auth import add_user

    add_user(session, username=username, password="long-enough-pw", role=role, display_name=username,
             provider_id=provider_id, now=clock.now())
    session.commit()
    client = app.test_client()
    assert client.post("/login", data={"username": username, "password": "long-enough-pw"}).status_code == 302
    return client


@pytest.fixture
def admin(app, session, clock):
    """A test client signed in as an administrator (laozhang)."""
    return _sign_in(app, session, clock, "laozhang", "admin")


@pytest.fixture
def sign_in(app, session, clock):
    """sign_in(username, role, provider_id=None) → a signed-in test client."""
    return lambda username, role, provider_id=None: _sign_in(app, session, clock, username, role, provider_id)


@pytest.fixture
def elder_row():
    """elder_row(serial, **overrides) → one good elders-file row."""
    return _elder_row


@pytest.fixture
def csv_bytes():
    """csv_bytes(columns, rows, encoding="utf-8") → a CSV file's bytes."""
    return _csv_bytes


@pytest.fixture
def elders_file():
    """elders_file(rows, encoding="utf-8") → an elders CSV file's bytes."""
    return _elders_file
