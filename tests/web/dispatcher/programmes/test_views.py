"""The programmes in the browser: wellbeing schedules per elder or per area, and the dormant list per
community with its "call them" action, each only of the account's own area."""

from __future__ import annotations

from sqlalchemy import select

from dispatcher.consoles.auth import add_user
from dispatcher.programmes.wellbeing import WellbeingCall, WellbeingSchedule, start_due_calls


def _scheduled(app) -> dict[int, tuple]:
    with app.extensions["vnh.sessionmaker"]() as s:
        return {w.elder_id: (w.local_time.strftime("%H:%M"), w.is_active) for w in s.scalars(select(WellbeingSchedule))}


def _calls(app) -> list[int]:
    with app.extensions["vnh.sessionmaker"]() as s:
        return sorted(s.scalars(select(WellbeingCall.elder_id)))


def test_a_community_worker_schedules_everyone_living_alone_in_its_community_only(app, area_staff, two_areas):
    a, b = two_areas["A"], two_areas["B"]
    client = area_staff["a-operator"]
    response = client.post("/programmes/wellbeing/area", data={"area": f"{a.street}/{a.community}", "at": "09:30"},
                           follow_redirects=True)
    assert "2 位独居老人" in response.get_data(as_text=True)
    scheduled = _scheduled(app)
    assert scheduled[a.elder_id] == ("09:30", True) and scheduled[a.dormant_id] == ("09:30", True)
    assert scheduled[b.elder_id] == ("10:00", True) and b.dormant_id not in scheduled
    page = client.get("/programmes/wellbeing").get_data(as_text=True)
    assert a.dormant_name in page and b.elder_name not in page
    # Asking for the other area is not found; the whole list is the account's own area.
    assert client.post("/programmes/wellbeing/area", data={"area": b.street}).status_code == 404
    client.post("/programmes/wellbeing/area", data={"at": "08:00"})
    assert _scheduled(app)[b.elder_id] == ("10:00", True)


def test_one_elder_is_scheduled_by_id_number_within_the_area_only(app, area_staff, two_areas):
    a, b = two_areas["A"], two_areas["B"]
    client = area_staff["a-operator"]
    client.post("/programmes/wellbeing/elder", data={"id_number": a.id_number.lower(), "at": "07:45"})
    assert _scheduled(app)[a.elder_id] == ("07:45", True)
    page = client.post("/programmes/wellbeing/elder", data={"id_number": b.id_number, "at": "07:45"},
                       follow_redirects=True).get_data(as_text=True)
    assert "本区域没有" in page and b.id_number not in page
    assert _scheduled(app)[b.elder_id] == ("10:00", True)
    assert client.post("/programmes/wellbeing/elder", data={"elder_id": str(b.elder_id)}).status_code == 404
    assert client.post("/programmes/wellbeing/elder", data={"at": "25:00", "id_number": a.id_number}).status_code == 400


def test_a_schedule_is_stopped_only_within_the_area(app, area_staff, two_areas):
    a, b = two_areas["A"], two_areas["B"]
    client = area_staff["a-operator"]
    assert client.post(f"/programmes/wellbeing/{b.schedule_id}/stop").status_code == 404
    assert client.post(f"/programmes/wellbeing/{a.schedule_id}/stop").status_code == 302
    assert _scheduled(app)[a.elder_id][1] is False and _scheduled(app)[b.elder_id][1] is True


def test_the_dormant_list_shows_the_areas_silent_elders_and_calls_them_once(app, area_staff, two_areas, settings, clock):
    a, b = two_areas["A"], two_areas["B"]
    client = area_staff["a-bureau"]
    page = client.get("/programmes/dormant?days=30").get_data(as_text=True)
    assert a.dormant_name in page and a.elder_name not in page and b.dormant_name not in page
    csv_text = client.get("/programmes/dormant.csv?days=30").get_data(as_text=True)
    assert a.dormant_name in csv_text and b.dormant_name not in csv_text and a.id_number not in csv_text
    for _ in range(2):  # asking twice calls once
        response = client.post("/programmes/dormant/call", data={"days": "30", "area": f"{a.street}/{a.community}"},
                               follow_redirects=True)
    assert "0 位老人" in response.get_data(as_text=True) and "今天已安排过" in response.get_data(as_text=True)
    assert _calls(app) == [a.dormant_id]
    with app.extensions["vnh.sessionmaker"]() as s:
        assert start_due_calls(s, settings, clock.now()) == 1
        s.commit()


def test_an_account_of_every_area_picks_any_community(app, two_areas, session, clock, sign_in):
    add_user(session, username="all", password="long-enough-pw", role="supervisor", display_name="all",
             provider_id=None, now=clock.now())
    session.commit()
    client = sign_in("all")
    a, b = two_areas["A"], two_areas["B"]
    both = client.get("/programmes/dormant").get_data(as_text=True)
    assert a.dormant_name in both and b.dormant_name in both
    only_b = client.get(f"/programmes/dormant?area={b.street}/{b.community}").get_data(as_text=True)
    assert b.dormant_name in only_b and a.dormant_name not in only_b
    assert client.get("/programmes/dormant?area=无此街道").status_code == 404
    assert client.get("/programmes/dormant?days=0").status_code == 400
