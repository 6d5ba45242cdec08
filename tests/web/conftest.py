"""Web fixtures: two areas' worth of elders, orders, cases, calls and ledger postings, and accounts
bound to one of them (for the area-scope tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import pytest
from sqlalchemy import select

# Street, community, an elder's name, and coordinates near a provider that serves both areas.
AREAS = {
    "A": ("东岗街道", "雁园社区", "张桂兰", 36.0580, 103.8270),
    "B": ("西湖街道", "滨河社区", "李淑珍", 36.0590, 103.8280),
}
# An elder of each area who has never called or been served (the dormant list's).
DORMANT = {"A": "王玉珍", "B": "刘凤英"
}
PASSWORD = "long-enough-pw"


@dataclass
class AreaData:
    street: str
    community: str
    elder_name: str
    elder_id: int
    id_number: str
    open_order_id: int
    open_order_no: str
    disputed_order_id: int
    task_id: int
    case_id: int
    schedule_id: int
    dormant_name: str
    dormant_id: int

    def traces(self) -> list[str]:
        """What a page showing anything of this area would contain."""
        return [self.elder_name, self.dormant_name, self.street, self.open_order_no]


@pytest.fixture
def two_areas(app, session, clock, settings, policy, make_elder, make_provider):
    """Per area: an elder living alone with a daily wellbeing call; an open order; a visit done and
    denied by the elder (ledger postings and a dispute for the supervisor); an emergency task; and
    an elder never in contact (dormant)."""
    from dispatcher.lifecycle import attendance, orders, reviews
    from dispatcher.lifecycle.slots import slot_for
    from dispatcher.lifecycle.tasks import open_task
    from dispatcher.models import CallbackReview, Item, OperatorTask
    from dispatcher.programmes.wellbeing import schedule_call
    from providers.models import Offer

    make_provider(offerings={"HK01": 4800, "HK02": 4800}, latitude=36.0585, longitude=103.8275,
                  capacity_per_day=50)
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    found = {}
    for key, (street, community, name, lat, lng) in AREAS.items():
        elder = make_elder(name=name, street=street, community=community, latitude=lat, longitude=lng,
                           address=f"城关区{street}{community}1号")
        done = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                                  source="phone", call_sid=None, settings=settings, now=clock.now())
        offer = session.scalars(select(Offer).where(Offer.order_id == done.id)).one()
        orders.accept_offer(session, offer, offer.provider_id, "sms", settings, clock.now())
        attendance.check_in(session, done, offer.provider_id, "sms", clock.now())
        attendance.check_out(session, done, offer.provider_id, "sms", policy, settings, clock.now())
        review = session.scalar(select(CallbackReview).where(CallbackReview.order_id == done.id))
        reviews.record_review_answer(session, review, False, clock.now())
        case = session.scalar(select(OperatorTask).where(OperatorTask.order_id == done.id,
                                                         OperatorTask.kind == "dispute"))
        open_order = orders.place_order(session, elder=elder, item=item,
                                        slot=slot_for("asap", clock.now()), source="phone", call_sid=None,
                                        settings=settings, now=clock.now())
        task = open_task(session, kind="emergency", reason="紧急求助", dedupe_key=f"test-emergency:{key}",
                         elder_id=elder.id, now=clock.now(), priority=0)
        # A message left on the call, so the voicemail route has something of each area to play.
        task.recording_url = f"https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE{key}"
        schedule = schedule_call(session, elder, time(10, 0), clock.now())
        silent = make_elder(name=DORMANT[key], street=street, community=community, latitude=lat, longitude=lng)
        session.commit()
        found[key] = AreaData(street, community, name, elder.id, elder.id_number, open_order.id,
                              open_order.order_no, done.id, task.id, case.id, schedule.id, silent.name,
                              silent.id)
    return found


@pytest.fixture
def sign_in(app):
    """A signed-in test client for a username (password PASSWORD)."""

    def sign(username: str):
        client = app.test_client()
        response = client.post("/login", data={"username": username, "password": PASSWORD})
        assert response.status_code == 302, username
        return client

    return sign


AREA_ACCOUNTS = {  # username → role, and whether bound to area A's community (else its whole street)
    "a-operator": ("operator", True), "a-supervisor": ("supervisor", True),
    "a-bureau": ("bureau", True), "a-street": ("bureau", False),
}


class _AreaStaff(dict):
    """Signed-in clients of area A's accounts, each made (hashing a password takes a while) on first use."""

    def __init__(self, make):
        super().__init__()
        self._make = make

    def __missing__(self, username):
        self[username] = client = self._make(username)
        return client


@pytest.fixture
def area_staff(two_areas, session, clock, sign_in):
    """Area A's accounts by username (AREA_ACCOUNTS): an operator, a supervisor and a bureau account
    bound to its community, and a bureau account bound to its whole street."""
    from dispatcher.consoles.staff import create_staff

    a = two_areas["A"]

    def make(username):
        role, in_community = AREA_ACCOUNTS[username]
        create_staff(session, actor=None, username=username, role=role, display_name=username, provider_id=None,
                     street=a.street, community=a.community if in_community else None, password=PASSWORD,
                     now=clock.now())
        session.commit()
        return sign_in(username)

    return _AreaStaff(make)
