"""Providers in the browser: the registry through the same services as `vnh provider …`."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from dispatcher.enrollment.models import AuditEntry
from providers.models import Offering, Provider
from providers.tokens import ApiToken, token_in_use


def fresh(session, model, ident):
    session.expire_all()
    row = session.get(model, ident)
    session.expunge_all()  # detached: reading it later starts no transaction the app would wait on
    session.rollback()
    return row


def audit_actions(session) -> list[str]:
    session.expire_all()
    actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    session.rollback()
    return actions


@pytest.fixture
def provider_id(make_provider, session):
    provider = make_provider(offerings={"HK01": 4800})
    ident = provider.id
    session.rollback()
    return ident


def test_the_providers_page_lists_them_and_links_the_signup(admin, provider_id):
    page = admin.get("/admin/providers").get_data(as_text=True)
    assert "签约新服务商" in page and f"/admin/providers/{provider_id}" in page


def test_suspend_needs_a_reason_then_suspends_and_reinstate_makes_it_active_again(admin, session, provider_id):
    path = f"/admin/providers/{provider_id}"
    refused = admin.post(path + "/contract", data={"status": "suspended", "reason": ""})
    assert refused.status_code == 422 and "原因" in refused.get_data(as_text=True)
    assert fresh(session, Provider, provider_id).contract_status == "active"
    assert admin.post(path + "/contract", data={"status": "suspended", "reason": "投诉核查中"}).status_code == 302
    provider = fresh(session, Provider, provider_id)
    assert (provider.contract_status, provider.contract_reason) == ("suspended", "投诉核查中")
    assert admin.post(path + "/contract", data={"status": "active", "reason": "核查完毕"}).status_code == 302
    assert fresh(session, Provider, provider_id).contract_status == "active"
    assert audit_actions(session) == ["contract", "contract"]
    assert "投诉核查中" in admin.get(path).get_data(as_text=True)  # the history shows why


def test_a_price_over_80_percent_of_market_is_refused_and_a_fair_one_is_kept(admin, session, provider_id):
    path = f"/admin/providers/{provider_id}/prices"
    refused = admin.post(path, data={"item_code": "HK01", "price_yuan": "9999"})
    assert refused.status_code == 422 and "80% of the market price" in refused.get_data(as_text=True)
    assert admin.post(path, data={"item_code": "HK01", "price_yuan": "40"}).status_code == 302
    session.expire_all()
    assert session.scalar(select(Offering.price_fen).where(Offering.provider_id == provider_id)) == 4000
    session.rollback()


def test_area_capacity_hours_days_off_and_phones_use_the_registry(admin, session, provider_id):
    path = f"/admin/providers/{provider_id}"
    assert admin.post(path + "/area", data={"radius_km": "3.5", "communities": "金塔巷社区\n民勤街社区"}).status_code == 302
    assert admin.post(path + "/capacity", data={"per_day": "12", "per_slot": "4"}).status_code == 302
    assert admin.post(path + "/hours", data={"hours": "07:30-19:00"}).status_code == 302
    assert admin.post(path + "/days-off", data={"day": "2026-12-25", "reason": "培训"}).status_code == 302
    assert admin.post(path + "/phones", data={"phones": "13800009991\n0931-8123456"}).status_code == 302
    session.expire_all()
    provider = session.get(Provider, provider_id)
    assert provider.service_radius_m == 3500 and [c.community for c in provider.communities] == ["金塔巷社区", "民勤街社区"]
    assert (provider.capacity_per_day, provider.capacity_per_slot) == (12, 4)
    assert f"{provider.opens_at:%H:%M}-{provider.closes_at:%H:%M}" == "07:30-19:00"
    assert [str(d.day) for d in provider.days_off] == ["2026-12-25"]
    assert provider.dispatch_phones == ["+8613800009991", "+869318123456"]
    session.rollback()
    assert admin.post(path + "/days-off", data={"day": "2026-12-25", "remove": "1"}).status_code == 302
    assert admin.post(path + "/hours", data={"hours": "19:00-07:00"}).status_code == 422
    assert admin.post(path + "/capacity", data={"per_day": "2", "per_slot": "4"}).status_code == 422
    session.expire_all()
    assert session.get(Provider, provider_id).days_off == []
    session.rollback()


def test_a_token_is_shown_once_works_and_can_be_revoked(admin, session, provider_id):
    path = f"/admin/providers/{provider_id}"
    issued = admin.post(path + "/tokens", data={"label": "企业派单系统"})
    page = issued.get_data(as_text=True)
    token = re.search(r'<div class="card" id="new-token".*?<code>([^<]+)</code>', page, flags=re.S).group(1)
    assert token_in_use(session, token) is not None
    session.rollback()
    shown_again = admin.get(path).get_data(as_text=True)
    assert token not in shown_again and "企业派单系统" in shown_again
    assert token not in str(audit_actions(session))
    token_id = session.scalar(select(ApiToken.id))
    session.rollback()
    assert admin.post(f"{path}/tokens/{token_id}/revoke").status_code == 302
    assert token_in_use(session, token) is None
    session.rollback()
    assert audit_actions(session) == ["token_issued", "token_revoked"]


def test_another_providers_token_cannot_be_revoked_from_this_page(admin, session, make_provider, provider_id):
    other = make_provider()
    from providers.tokens import issue_token

    row, token = issue_token(session, other.id, "", session.info.get("now") or other.created_at)
    session.commit()
    token_id = row.id
    session.rollback()
    assert admin.post(f"/admin/providers/{provider_id}/tokens/{token_id}/revoke").status_code == 404
    assert token_in_use(session, token) is not None
    session.rollback()


def test_a_provider_account_cannot_reach_the_registry_pages(sign_in, session, provider_id):
    client = sign_in("u-provider", "provider", provider_id)
    for path in ("/admin/providers", f"/admin/providers/{provider_id}", "/admin/elders", "/admin/uploads"):
        assert client.get(path).status_code == 403, path
    assert client.post(f"/admin/providers/{provider_id}/tokens", data={"label": "x"}).status_code == 403
    assert client.post(f"/admin/providers/{provider_id}/contract", data={"status": "active"}).status_code == 403
    assert token_in_use(session, "x") is None and session.scalar(select(ApiToken.id)) is None
    session.rollback()


def test_every_administration_form_carries_a_csrf_token(admin, app, session, provider_id, make_elder):
    elder_id = make_elder().id
    session.rollback()
    app.config["WTF_CSRF_ENABLED"] = True
    for path in ("/admin/uploads", "/admin/elders/new", f"/admin/elders/{elder_id}", "/admin/providers/new",
                 f"/admin/providers/{provider_id}", f"/admin/providers/{provider_id}/record"):
        page = admin.get(path).get_data(as_text=True)
        forms = re.findall(r'<form[^>]*method="post".*?</form>', page, flags=re.S)
        assert forms and all('name="csrf_token"' in f for f in forms), path
    assert admin.post(f"/admin/providers/{provider_id}/tokens", data={"label": "x"}).status_code == 400
