"""Market prices over time: a change takes effect on its date and never rewrites a closed month."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from billing.models import ClosedMonth
from dispatcher.catalogue.prices import (
    PriceChangeError,
    change_price,
    market_price_on,
    market_prices_on,
    price_versions,
)
from dispatcher.models import Item

TODAY = date(2026, 12, 1)


def item(session, code="HK01") -> Item:
    return session.scalar(select(Item).where(Item.code == code))


def close(session, month: str, clock) -> None:
    session.add(ClosedMonth(month=month, closed_at=clock.now(), policy_version="2026",
                            policy_fingerprint="0" * 64, totals={}))
    session.flush()


def test_a_price_change_takes_effect_on_its_date_and_the_days_before_keep_the_old_price(session, clock):
    cleaning = item(session)
    change_price(session, cleaning, 6500, date(2027, 1, 1), today=TODAY, now=clock.now(), actor="admin")

    assert market_price_on(session, cleaning, date(2026, 12, 31)) == 6000
    assert market_price_on(session, cleaning, date(2027, 1, 1)) == 6500
    assert cleaning.market_price_fen == 6000  # today's price until the day comes
    assert market_prices_on(session, date(2027, 2, 1))[cleaning.id] == 6500
    assert [v.market_price_fen for v in price_versions(session, cleaning)] == [6000, 6500]


def test_a_change_from_today_is_the_price_of_today(session, clock):
    cleaning = item(session)
    change_price(session, cleaning, 7000, TODAY, today=TODAY, now=clock.now(), actor="admin", reason="物价上涨")

    assert cleaning.market_price_fen == 7000
    assert market_price_on(session, cleaning, date(2026, 11, 30)) == 6000


def test_a_price_change_inside_a_closed_month_is_refused(session, clock):
    close(session, "2026-10", clock)

    with pytest.raises(PriceChangeError, match=r"closed month.*from 2026-11-01 at the earliest"):
        change_price(session, item(session), 6500, date(2026, 10, 15), today=TODAY, now=clock.now(),
                     actor="admin")
    assert price_versions(session, item(session)) == []


def test_a_later_change_never_alters_the_price_a_closed_month_saw(session, clock):
    cleaning = item(session)
    change_price(session, cleaning, 6500, date(2026, 11, 1), today=TODAY, now=clock.now(), actor="admin")
    close(session, "2026-11", clock)
    change_price(session, cleaning, 8000, date(2026, 12, 10), today=TODAY, now=clock.now(), actor="admin")

    assert market_price_on(session, cleaning, date(2026, 11, 20)) == 6500
    assert market_price_on(session, cleaning, date(2026, 10, 20)) == 6000


def test_only_a_free_item_may_cost_nothing(session, clock):
    with pytest.raises(PriceChangeError, match="not free"):
        change_price(session, item(session), 0, TODAY, today=TODAY, now=clock.now(), actor="admin")


def test_loading_the_catalogue_again_keeps_what_an_administrator_changed(session, clock):
    from dispatcher.catalogue import load_catalogue

    canteen = item(session, "ML06")
    canteen.name, canteen.place, canteen.venue = "老年食堂午餐", "home", None
    change_price(session, item(session), 7000, TODAY, today=TODAY, now=clock.now(), actor="admin")

    assert load_catalogue(session) == 176

    assert (canteen.name, canteen.place, canteen.venue) == ("老年食堂午餐", "venue", "社区老年食堂")
    assert item(session).market_price_fen == 7000
