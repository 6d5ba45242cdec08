"""The console elder page's family section (issue 18): add a family member, review via family."""

from __future__ import annotations

from dispatcher.models import Elder


def test_an_operator_adds_a_family_member_and_turns_review_via_family_on(operator_client, session, make_elder):
    elder_id = make_elder().id
    session.commit()
    page = operator_client.get(f"/console/elders/{elder_id}").get_data(as_text=True)
    assert "未登记家属" in page
    # The family section sits once in the page's main part, never in its title.
    title = page.split("<title>")[1].split("</title>")[0]
    assert "<" not in title and page.count("<h2>家属</h2>") == 1
    refused = operator_client.post(f"/console/elders/{elder_id}/family/review", data={"on": "1"},
                                   follow_redirects=True).get_data(as_text=True)
    assert "还没有登记家属" in refused
    added = operator_client.post(f"/console/elders/{elder_id}/family", data={
        "name": "李明", "relation": "儿子", "phone": "13912345678", "visit_sms": "1", "review_contact": "1"},
        follow_redirects=True).get_data(as_text=True)
    assert "已添加家属" in added and "李明" in added
    bad = operator_client.post(f"/console/elders/{elder_id}/family", data={
        "name": "李红", "relation": "女儿", "phone": "123"}, follow_redirects=True).get_data(as_text=True)
    assert "不是有效号码" in bad
    operator_client.post(f"/console/elders/{elder_id}/family/review", data={"on": "1"})
    session.expire_all()
    elder = session.get(Elder, elder_id)
    assert elder.is_reviewed_via_family and [m.name for m in elder.family_members] == ["李明"]
    assert any(p.phone == "+8613912345678" for p in elder.phones)
    session.commit()
