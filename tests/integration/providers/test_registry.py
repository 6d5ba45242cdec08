"""The provider registry on a real database: `vnh provider …`, and each new hard filter in the cascade."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dispatcher.cli import main
from dispatcher.lifecycle import orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import Item, Order
from providers.models import Offer, Offering, Provider, ProviderDayOff
from providers.queries import provider_by_phone
from telephony.models import OutboxMessage
from telephony.simulator import FlaskTransport, Phone

ELDER_AT = (36.0580, 103.8270)
NEAR = (36.0590, 103.8280)
MID = (36.0650, 103.8350)
# About 11 km north-east: outside a 5 km radius.
ACROSS_TOWN = (36.1300, 103.9100)
# Wednesday 25 November 2026, Lanzhou: the fake clock's day.
TODAY = date(2026, 11, 25)


@pytest.fixture
def vnh(database_url, app):
    def run(*args):
        environment = {"VNH_DATABASE_URL": database_url, "VNH_TELEPHONY": "local", "TWILIO_ACCOUNT_SID": "",
                       "TWILIO_AUTH_TOKEN": ""}
        return CliRunner().invoke(main, ["provider", *args], env=environment)

    return run


def _fresh(app, code) -> Provider:
    with app.extensions["vnh.sessionmaker"]() as s:
        provider = s.scalar(select(Provider).where(Provider.code == code))
        _ = provider.phones, provider.communities, provider.days_off
        s.expunge_all()
        return provider


def _place(session, elder, settings, clock, slot="asap") -> Order:
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for(slot, clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    session.commit()
    return order


def _offered_to(session, order) -> list[int]:
    session.expire_all()
    return list(session.scalars(select(Offer.provider_id).where(Offer.order_id == order.id).order_by(Offer.id)))


# -- the command line ----------------------------------------------------------------------------

def test_the_contract_command_sets_status_dates_and_reason(app, vnh, make_provider):
    p = make_provider()
    result = vnh("contract", p.code, "--status", "suspended", "--starts", "2026-01-01", "--ends", "2026/12/31",
                 "--reason", "合同续签中")
    assert result.exit_code == 0, result.output
    fresh = _fresh(app, p.code)
    assert (fresh.contract_status, fresh.contract_starts_on, fresh.contract_ends_on, fresh.contract_reason) == (
        "suspended", date(2026, 1, 1), date(2026, 12, 31), "合同续签中")
    assert "suspended 2026-01-01 – 2026-12-31 (合同续签中)" in result.output


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["contract", "{code}", "--status", "terminated"], "reason"),
        (["contract", "{code}", "--status", "active", "--starts", "2026-13-01"], "starts_on"),
        (["contract", "{code}", "--status", "active", "--starts", "2026-06-01", "--ends", "2026-05-31"], "ends_on"),
        (["area", "{code}", "--radius-km", "0"], "radius_km"),
        (["area", "{code}", "--radius-km", "-3"], "radius_km"),
        (["area", "{code}", "--radius-km", "five"], "radius_km"),
        (["hours", "{code}", "8点-18点"], "hours"),
        (["hours", "{code}", "18:00-08:00"], "hours"),
        (["capacity", "{code}", "--per-day", "many"], "per_day"),
        (["capacity", "{code}", "--per-day", "4", "--per-slot", "5"], "per_slot"),
        (["day-off", "{code}", "2026-02-30"], "day"),
        (["phones", "{code}", "12345"], "phones"),
        (["price", "{code}", "HK01", "100"], "price_yuan"),
        (["price", "{code}", "HK01", "abc"], "price_yuan"),
    ],
)
def test_bad_input_is_refused_with_the_field_named_and_nothing_changed(app, vnh, make_provider, args, field):
    p = make_provider()
    before = _fresh(app, p.code)
    result = vnh(*[a.format(code=p.code) for a in args])
    assert result.exit_code != 0
    assert f"refused, nothing changed: {field}:" in result.output
    after = _fresh(app, p.code)
    assert [getattr(after, c.key) for c in Provider.__table__.columns] == [
        getattr(before, c.key) for c in Provider.__table__.columns]
    assert not after.days_off


def test_a_price_above_80_percent_of_the_market_price_names_the_limit(app, vnh, make_provider, session):
    p = make_provider()
    code = p.code
    market = session.scalar(select(Item.market_price_fen).where(Item.code == "HK01"))
    session.rollback()  # a read transaction left open would block the command's write on SQLite
    too_much = f"{market * 81 / 10000:.2f}"
    result = vnh("price", code, "HK01", too_much)
    assert "above 80% of the market price" in result.output
    ok = f"{market * 80 // 100 / 100:.2f}"
    assert vnh("price", code, "HK01", ok).exit_code == 0
    session.expire_all()
    assert session.scalar(select(Offering.price_fen).where(Offering.provider_id == p.id)) == market * 80 // 100


def test_the_area_capacity_hours_days_off_and_phones_commands_are_kept(app, vnh, make_provider):
    p = make_provider()
    assert vnh("area", p.code, "--radius-km", "3.5", "--community", "民勤街社区", "--community", "金塔巷社区").exit_code == 0
    assert vnh("capacity", p.code, "--per-day", "12", "--per-slot", "4").exit_code == 0
    assert vnh("hours", p.code, "07:30-19:00").exit_code == 0
    assert vnh("day-off", p.code, "2026-12-25", "2027-01-01", "--reason", "年会").exit_code == 0
    assert vnh("phones", p.code, "13800001111", "+86 138 0000 2222").exit_code == 0
    fresh = _fresh(app, p.code)
    assert fresh.service_radius_m == 3500
    assert [c.community for c in fresh.communities] == ["民勤街社区", "金塔巷社区"]
    assert (fresh.capacity_per_day, fresh.capacity_per_slot) == (12, 4)
    assert (fresh.opens_at, fresh.closes_at) == (time(7, 30), time(19, 0))
    assert [d.day for d in fresh.days_off] == [date(2026, 12, 25), date(2027, 1, 1)]
    assert fresh.dispatch_phones == ["+8613800001111", "+8613800002222"]

    assert vnh("day-off", p.code, "2026-12-25", "--remove").exit_code == 0
    assert vnh("area", p.code, "--no-communities").exit_code == 0
    assert vnh("capacity", p.code, "--per-slot", "-").exit_code == 0
    fresh = _fresh(app, p.code)
    assert [d.day for d in fresh.days_off] == [date(2027, 1, 1)]
    assert fresh.communities == [] and fresh.capacity_per_slot is None
    shown = vnh("show", p.code)
    assert "no limit a slot" in shown.output and "2027-01-01" in shown.output


def test_a_phone_already_dispatching_for_another_provider_is_refused(app, vnh, make_provider):
    a, b = make_provider(), make_provider()
    result = vnh("phones", b.code, a.dispatch_phone)
    assert result.exit_code != 0 and f"provider {a.code}" in result.output


# -- the new hard filters in the cascade ----------------------------------------------------------

def test_a_provider_outside_its_contract_dates_is_skipped_for_the_next(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    make_provider(latitude=NEAR[0], longitude=NEAR[1], contract_ends_on=TODAY - timedelta(days=1))
    make_provider(latitude=NEAR[0], longitude=NEAR[1], contract_starts_on=TODAY + timedelta(days=1))
    covered = make_provider(latitude=MID[0], longitude=MID[1], contract_starts_on=TODAY, contract_ends_on=TODAY)

    assert _offered_to(session, _place(session, elder, settings, clock)) == [covered.id]


def test_a_provider_with_the_visit_day_off_is_skipped_but_offered_on_another_day(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    off_today = make_provider(latitude=NEAR[0], longitude=NEAR[1])
    session.add(ProviderDayOff(provider_id=off_today.id, day=TODAY, reason="培训"))
    session.commit()
    other = make_provider(latitude=MID[0], longitude=MID[1])

    assert _offered_to(session, _place(session, elder, settings, clock)) == [other.id]
    assert _offered_to(session, _place(session, elder, settings, clock, slot="tomorrow_am")) == [off_today.id]


def test_a_provider_serving_the_elders_community_is_offered_from_across_town(
    session, settings, clock, make_elder, make_provider
):
    from providers.models import ProviderCommunity

    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1], community="民勤街社区")
    other_community = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1], community="金塔巷社区")
    far = make_provider(latitude=ACROSS_TOWN[0], longitude=ACROSS_TOWN[1])
    session.add(ProviderCommunity(provider_id=far.id, community="民勤街社区"))
    session.commit()

    order = _place(session, elder, settings, clock)
    assert _offered_to(session, order) == [far.id]
    offer = session.scalar(select(Offer).where(Offer.order_id == order.id))
    assert offer.reasons["area"] == "community" and offer.distance_m > 5000
    assert session.get(Order, _place(session, other_community, settings, clock).id).state == "unassigned"


def test_a_provider_whose_half_day_is_full_is_skipped_though_its_day_has_room(
    session, settings, clock, make_elder, make_provider
):
    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    busy = make_provider(latitude=NEAR[0], longitude=NEAR[1], capacity_per_day=10, capacity_per_slot=1)
    # Far enough that the busy one still wins the afternoon despite fairness.
    spare = make_provider(latitude=36.0750, longitude=103.8450, capacity_per_day=10, capacity_per_slot=1)
    first = _place(session, elder, settings, clock, slot="tomorrow_am")
    offer = session.scalar(select(Offer).where(Offer.order_id == first.id))
    assert offer.provider_id == busy.id
    assert orders.accept_offer(session, offer, busy.id, "sms", settings, clock.now()).ok
    session.commit()

    assert _offered_to(session, _place(session, elder, settings, clock, slot="tomorrow_am")) == [spare.id]
    assert _offered_to(session, _place(session, elder, settings, clock, slot="tomorrow_pm")) == [busy.id]


def test_every_dispatch_phone_gets_the_offer_and_a_reply_from_any_of_them_counts(
    app, session, settings, clock, make_elder, make_provider
):
    from providers.models import ProviderPhone

    elder = make_elder(latitude=ELDER_AT[0], longitude=ELDER_AT[1])
    provider = make_provider(latitude=NEAR[0], longitude=NEAR[1])
    session.add(ProviderPhone(provider_id=provider.id, phone="+8613800009999"))
    session.commit()
    order = _place(session, elder, settings, clock)

    sent_to = set(session.scalars(select(OutboxMessage.to_number).where(OutboxMessage.purpose == "offer")))
    assert sent_to == {provider.dispatch_phone, "+8613800009999"}
    assert provider_by_phone(session, "+8613800009999").id == provider.id
    job_code = order.job_code
    session.rollback()  # let the webhook write (SQLite)
    phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"], app.config["HOTLINE_NUMBER"])
    assert "已接单" in phone.send_sms("+8613800009999", f"{job_code} 接")
    session.expire_all()
    assert session.get(Order, order.id).provider_id == provider.id
