"""The elder page's assessment form and history, and the order page's approval of more time."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from dispatcher.assessments.models import Assessment
from dispatcher.consoles.auth import add_user


def test_an_operator_records_an_assessment_and_sees_it_in_the_history(
        operator_client, session, make_elder):
    elder = make_elder(disability_level="能力完好")
    page = operator_client.get(f"/console/elders/{elder.id}").get_data(as_text=True)
    assert 'id="assessment-form"' in page and "尚无评估记录" in page
    response = operator_client.post(f"/console/elders/{elder.id}/assessments", data={
        "assessed_on": "2026-11-20", "level": "重度失能", "score": "36", "assessor": "张评估",
        "organisation": "城关区评估中心", "valid_until": "",
    })
    assert response.status_code == 302
    page = operator_client.get(f"/console/elders/{elder.id}").get_data(as_text=True)
    assert "已记录能力评估" in page
    assert "重度失能" in page and "2027-11-19" in page and "话务台录入" in page
    saved = session.scalar(select(Assessment))
    assert (saved.level, saved.score, saved.recorded_by) == ("重度失能", 36, "staff:xiaoli")
    assert saved.valid_until == date(2027, 11, 19)


def test_a_bad_assessment_is_refused_with_each_reason_and_nothing_is_recorded(
        operator_client, session, make_elder):
    elder = make_elder()
    operator_client.post(f"/console/elders/{elder.id}/assessments", data={
        "assessed_on": "2027-01-01", "level": "半失能", "assessor": "",
    })
    page = operator_client.get(f"/console/elders/{elder.id}").get_data(as_text=True)
    assert "未记录：评估日期：2027-01-01 is in the future" in page
    assert "未记录：评估等级" in page and "未记录：评估人" in page
    assert session.scalar(select(Assessment)) is None


def test_a_provider_cannot_record_an_assessment(app, session, clock, make_elder, make_provider):
    provider = make_provider()
    add_user(session, username="firm", password="long-enough-pw", role="provider",
             display_name="企业", provider_id=provider.id, now=clock.now())
    session.commit()
    client = app.test_client()
    client.post("/login", data={"username": "firm", "password": "long-enough-pw"})
    elder = make_elder()
    response = client.post(f"/console/elders/{elder.id}/assessments", data={
        "assessed_on": "2026-11-20", "level": "重度失能", "assessor": "张评估"})
    assert response.status_code == 403
    assert session.scalar(select(Assessment)) is None
