"""One elder or provider in a form: the file's validation, optimistic locking, the audit."""

from __future__ import annotations

import json
import re
from html import unescape

from sqlalchemy import select

from dispatcher.enrollment.models import AuditEntry
from dispatcher.models import Elder
from providers.models import Provider


def read_all(session, statement):
    session.expire_all()
    values = list(session.scalars(statement))
    session.expunge_all()  # detached: reading them later starts no transaction the app would wait on
    session.rollback()
    return values


def form_of(page: str) -> dict[str, str]:
    """The fields of the record form as the page fills them in."""
    form = re.search(r'<form method="post" class="card record">(.*?)</form>', page, flags=re.S).group(1)
    return {name: unescape(value) for name, value in re.findall(r'<input name="([^"]+)" value="([^"]*)"', form)} | {
        "shown": unescape(re.search(r'name="shown" value="([^"]*)"', form).group(1))}


def test_an_elder_added_in_the_form_is_enrolled_and_audited(admin, session, elder_row):
    response = admin.post("/admin/elders/new", data=elder_row(1) | {"shown": "{}"})
    assert response.status_code == 302
    elder = read_all(session, select(Elder))[0]
    assert elder.name == "王秀英" and elder.gender == "F"
    entry = read_all(session, select(AuditEntry))[0]
    assert entry.action == "create" and entry.actor.startswith("laozhang") and entry.entity == "elder"
    assert entry.changes["name"] == ["", "王秀英"] and elder.id_number not in json.dumps(entry.changes)
    assert entry.entity_key.endswith(elder.id_number[-4:]) and "*" in entry.entity_key


def test_a_bad_form_shows_every_bad_field_with_the_files_reasons_and_saves_nothing(admin, session, elder_row):
    row = elder_row(1, gender="X", phone="12", birth_date="1941-03-06")
    response = admin.post("/admin/elders/new", data=row | {"shown": "{}"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for column in ("gender", "phone", "birth_date"):
        assert f'data-column="{column}"' in page, column
    assert 'value="X"' in page  # what was typed stays in the form
    assert read_all(session, select(Elder)) == []


def test_an_id_number_already_enrolled_is_refused_in_the_form(admin, session, make_elder, elder_row):
    elder = make_elder()
    response = admin.post("/admin/elders/new", data=elder_row(1, id_number=elder.id_number, birth_date=str(elder.birth_date))
                          | {"shown": "{}"})
    assert response.status_code == 422 and "already enrolled" in response.get_data(as_text=True)


def test_an_edit_saves_the_changed_fields_and_audits_before_and_after(admin, session, make_elder):
    elder = make_elder(name="王秀英")
    elder_id, id_number = elder.id, elder.id_number
    session.rollback()
    form = form_of(admin.get(f"/admin/elders/{elder_id}").get_data(as_text=True))
    assert id_number not in form["shown"]  # the ID number never rides in the page's hidden fields
    form["name"] = "王秀兰"
    assert admin.post(f"/admin/elders/{elder_id}", data=form).status_code == 302
    assert read_all(session, select(Elder.name)) == ["王秀兰"]
    entry = read_all(session, select(AuditEntry))[0]
    assert entry.action == "update" and entry.changes == {"name": ["王秀英", "王秀兰"]}
    assert "王秀英 → 王秀兰" in admin.get(f"/admin/elders/{elder_id}").get_data(as_text=True)


def test_the_second_of_two_administrators_editing_one_elder_is_refused_showing_what_changed(
        admin, sign_in, session, make_elder):
    elder = make_elder(name="王秀英", community="民勤街社区")
    elder_id = elder.id
    session.rollback()
    other = sign_in("xiaowang", "admin")
    mine = form_of(admin.get(f"/admin/elders/{elder_id}").get_data(as_text=True))
    theirs = form_of(other.get(f"/admin/elders/{elder_id}").get_data(as_text=True))
    theirs["community"] = "金塔巷社区"
    assert other.post(f"/admin/elders/{elder_id}", data=theirs).status_code == 302
    mine["name"] = "王秀兰"
    refused = admin.post(f"/admin/elders/{elder_id}", data=mine)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and 'id="conflict"' in page
    assert re.search(r"<td>社区</td><td>民勤街社区</td><td>金塔巷社区</td>", page)
    stored = read_all(session, select(Elder))[0]
    assert (stored.name, stored.community) == ("王秀英", "金塔巷社区")  # nothing overwritten
    # The refused form now carries what is stored: saving again is a decision made knowingly.
    again = form_of(page)
    assert admin.post(f"/admin/elders/{elder_id}", data=again).status_code == 302
    stored = read_all(session, select(Elder))[0]
    assert (stored.name, stored.community) == ("王秀兰", "金塔巷社区")
    actors = [e.actor.split("（")[0] for e in read_all(session, select(AuditEntry).order_by(AuditEntry.id))]
    assert actors == ["xiaowang", "laozhang"]


def test_an_import_between_showing_and_saving_is_a_conflict_too(admin, session, make_elder):
    elder = make_elder(name="王秀英")
    form = form_of(admin.get(f"/admin/elders/{elder.id}").get_data(as_text=True))
    stored = session.get(Elder, elder.id)
    stored.disability_level = "中度失能"
    session.commit()
    form["name"] = "王秀兰"
    response = admin.post(f"/admin/elders/{elder.id}", data=form)
    assert response.status_code == 409 and "中度失能" in response.get_data(as_text=True)


def test_an_unknown_elder_is_not_found(admin):
    assert admin.get("/admin/elders/999").status_code == 404
    assert admin.post("/admin/elders/999", data={"shown": "{}"}).status_code == 404


def _provider_form(**overrides):
    return {"code": "P100", "name": "兰州安康家政服务有限公司", "license_no": "91620102MA00000001",
            "dispatch_phone": "13800000100", "address": "城关区张掖路", "latitude": "36.06", "longitude": "103.83",
            "service_radius_km": "5", "capacity_per_day": "10", "hours": "08:00-18:00", "shown": "{}"} | overrides


def test_a_provider_signed_up_in_the_form_is_active_and_audited(admin, session):
    response = admin.post("/admin/providers/new", data=_provider_form())
    assert response.status_code == 302 and "/admin/providers/" in response.headers["Location"]
    provider = read_all(session, select(Provider))[0]
    assert (provider.code, provider.contract_status, provider.service_radius_m) == ("P100", "active", 5000)
    assert read_all(session, select(AuditEntry.action)) == ["create"]


def test_a_provider_form_refuses_bad_hours_and_a_dispatch_phone_of_another_provider(admin, make_provider):
    other = make_provider()
    response = admin.post("/admin/providers/new", data=_provider_form(hours="18:00-08:00",
                                                                      dispatch_phone=other.dispatch_phone))
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and 'data-column="hours"' in page
    response = admin.post("/admin/providers/new", data=_provider_form(dispatch_phone=other.dispatch_phone))
    assert response.status_code == 422 and f"provider {other.code}" in response.get_data(as_text=True)


def test_two_administrators_editing_one_provider_the_second_is_refused(admin, sign_in, session, make_provider):
    provider = make_provider(name="甲公司")
    provider_id = provider.id
    session.rollback()
    other = sign_in("xiaowang", "admin")
    path = f"/admin/providers/{provider_id}/record"
    mine = form_of(admin.get(path).get_data(as_text=True))
    theirs = form_of(other.get(path).get_data(as_text=True))
    theirs["hours"] = "07:00-19:00"
    assert other.post(path, data=theirs).status_code == 302
    mine["name"] = "乙公司"
    response = admin.post(path, data=mine)
    assert response.status_code == 409 and "07:00-19:00" in response.get_data(as_text=True)
    assert read_all(session, select(Provider.name)) == ["甲公司"]


def test_opening_an_elders_record_in_the_form_is_written_to_the_view_audit(admin, session, make_elder):
    from dispatcher.consoles.audit import views_of

    elder = make_elder()
    elder_id = elder.id
    session.rollback()
    admin.get(f"/admin/elders/{elder_id}")
    views = views_of(session, elder_id)
    session.rollback()
    assert len(views) == 1 and views[0].route.startswith("admin_records.elder_edit")
