"""The administrator's catalogue page: edit an item, schedule a price change, never in a closed month."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from billing.models import ClosedMonth
from dispatcher.catalogue.prices import market_price_on
from dispatcher.consoles.auth import add_user
from dispatcher.models import Item


@pytest.fixture
def admin(app, session, clock):
    add_user(session, username="admin", password="long-enough-pw", role="admin", display_name="管理员",
             provider_id=None, now=clock.now())
    session.commit()
    client = app.test_client()
    assert client.post("/login", data={"username": "admin", "password": "long-enough-pw"}).status_code == 302
    return client


def item(session, code: str) -> Item:
    session.expire_all()
    return session.scalar(select(Item).where(Item.code == code))


def test_the_catalogue_page_lists_every_item(admin):
    page = admin.get("/admin/catalogue").get_data(as_text=True)

    assert "服务目录（176项）" in page and "老年食堂就餐" in page and "社区老年食堂" in page


def test_an_administrator_edits_an_item_and_the_change_is_audited(admin, session):
    response = admin.post("/admin/catalogue/ML06", data={
        "name": "老年食堂午餐", "unit": "份", "place": "venue", "venue": "金塔巷社区老年食堂",
        "synonyms": "去食堂吃饭\n食堂午饭"}, follow_redirects=True)

    assert "老年食堂午餐已保存" in response.get_data(as_text=True)
    canteen = item(session, "ML06")
    assert (canteen.name, canteen.venue, canteen.synonyms) == ("老年食堂午餐", "金塔巷社区老年食堂",
                                                               ["去食堂吃饭", "食堂午饭"])


def test_a_venue_item_without_its_venue_is_refused(admin, session):
    response = admin.post("/admin/catalogue/ML06", data={"name": "老年食堂就餐", "unit": "份", "place": "venue",
                                                        "venue": "", "synonyms": "食堂"}, follow_redirects=True)

    assert "场所：" in response.get_data(as_text=True)
    assert item(session, "ML06").venue == "社区老年食堂"


def test_a_price_change_is_scheduled_from_a_date(admin, session):
    response = admin.post("/admin/catalogue/HK01/price", data={
        "price_yuan": "66.00", "effective_on": "2027-01-01", "reason": "物价调整"}, follow_redirects=True)

    assert "自2027-01-01起为66.00元" in response.get_data(as_text=True)
    cleaning = item(session, "HK01")
    assert market_price_on(session, cleaning, date(2026, 12, 31)) == 6000
    assert market_price_on(session, cleaning, date(2027, 1, 1)) == 6600


def test_a_price_change_into_a_closed_month_is_refused_on_the_page(admin, session, clock):
    session.add(ClosedMonth(month="2026-10", closed_at=clock.now(), policy_version="2026",
                            policy_fingerprint="0" * 64, totals={}))
    session.commit()

    response = admin.post("/admin/catalogue/HK01/price", data={"price_yuan": "66.00", "effective_on": "2026-10-01"},
                          follow_redirects=True)

    assert "价格未改" in response.get_data(as_text=True) and "所在月份已结账" in response.get_data(as_text=True)
    assert market_price_on(session, item(session, "HK01"), date(2026, 10, 1)) == 6000


def test_an_unknown_item_is_not_found(admin):
    assert admin.get("/admin/catalogue/ZZ99").status_code == 404
