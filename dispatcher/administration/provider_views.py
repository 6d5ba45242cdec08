"""Pages: providers' registry — contract (suspend, reinstate), area, capacity, hours, days off,
dispatch phones, prices and API tokens — through the same services as `vnh provider …`."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.money import fen_to_yuan
from dispatcher.administration import records
from dispatcher.consoles.auth import current_user, role_required
from dispatcher.db import get_session
from dispatcher.models import Item
from providers import registry
from providers.models import Offering, Provider
from providers.registry import CONTRACT_STATUSES, RegistryError
from providers.tokens import ApiToken, issue_token, revoke_token

bp = Blueprint("admin_providers", __name__, url_prefix="/admin/providers")
# Who may change providers' registry (administrators always may).
PROVIDER_ROLES: tuple[str, ...] = ()
STATUS_NAMES = {"active": "正常", "suspended": "暂停", "terminated": "终止"}
FIELD_NAMES = {
    "status": "合同状态", "reason": "原因", "starts_on": "合同开始日", "ends_on": "合同结束日",
    "radius_km": "服务半径", "communities": "服务社区", "per_day": "日接单量", "per_slot": "每时段接单量",
    "hours": "营业时间", "day": "休息日", "phones": "派单电话", "item_code": "服务项目", "price_yuan": "价格",
}  # fmt: skip


def _now():
    return current_app.extensions["vnh.clock"].now()


def _provider_or_404(session: Session, provider_id: int) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None:
        abort(404)
    return provider


def registry_snapshot(session: Session, provider: Provider) -> dict:
    """A provider's registry as text, field by field, for the audit's before and after."""
    prices = session.execute(select(Item.code, Offering.price_fen).join(Offering, Offering.item_id == Item.id)
                             .where(Offering.provider_id == provider.id).order_by(Item.code)).all()
    return {
        "contract": f"{provider.contract_status} {provider.contract_starts_on or ''}–{provider.contract_ends_on or ''}"
                    + (f" ({provider.contract_reason})" if provider.contract_reason else ""),
        "radius_km": f"{provider.service_radius_m / 1000:g}",
        "communities": ", ".join(c.community for c in provider.communities),
        "capacity": f"{provider.capacity_per_day}/{'-' if provider.capacity_per_slot is None else provider.capacity_per_slot}",
        "hours": f"{provider.opens_at:%H:%M}-{provider.closes_at:%H:%M}",
        "days_off": ", ".join(str(d.day) for d in provider.days_off),
        "phones": ", ".join(provider.dispatch_phones),
        "prices": ", ".join(f"{code} {fen_to_yuan(fen)}" for code, fen in prices),
    }


@bp.get("")
@role_required(*PROVIDER_ROLES)
def index():
    providers = get_session().scalars(select(Provider).order_by(Provider.code)).all()
    return render_template("administration/providers.html", providers=providers, statuses=STATUS_NAMES)


def _page(provider: Provider, *, problem: str | None = None, new_token: str | None = None, status: int = 200):
    session = get_session()
    offerings = session.execute(
        select(Item, Offering).join(Offering, Offering.item_id == Item.id)
        .where(Offering.provider_id == provider.id).order_by(Item.code)).all()
    tokens = session.scalars(select(ApiToken).where(ApiToken.provider_id == provider.id)
                             .order_by(ApiToken.id.desc())).all()
    items = session.scalars(select(Item).order_by(Item.code)).all()
    return render_template(
        "administration/provider.html", provider=provider, offerings=offerings, tokens=tokens, items=items,
        statuses=STATUS_NAMES, contract_statuses=CONTRACT_STATUSES, problem=problem, new_token=new_token,
        history=records.history(session, "provider", provider.code), fen_to_yuan=fen_to_yuan), status


@bp.get("/<int:provider_id>")
@role_required(*PROVIDER_ROLES)
def show(provider_id: int):
    return _page(_provider_or_404(get_session(), provider_id))


def _change(provider_id: int, action: str, change, done: str):
    """Apply one registry service to a provider, audit what changed and commit; a RegistryError
    names the field and nothing is changed."""
    session = get_session()
    provider = _provider_or_404(session, provider_id)
    before = registry_snapshot(session, provider)
    try:
        change(session, provider)
        session.flush()
    except RegistryError as exc:
        session.rollback()
        provider = _provider_or_404(session, provider_id)
        return _page(provider, problem=f"未保存（{FIELD_NAMES.get(exc.field, exc.field)}）：{exc}", status=422)
    session.expire(provider)
    after = registry_snapshot(session, provider)
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if changes:
        records.audit_record(session, "provider", provider.code, action, changes,
                             actor=f"{current_user().username}（网页）", now=_now())
    session.commit()
    flash(done, "success")
    return redirect(url_for(".show", provider_id=provider_id))


def _field(name: str) -> str:
    return request.form.get(name, "").strip()


@bp.post("/<int:provider_id>/contract")
@role_required(*PROVIDER_ROLES)
def contract(provider_id: int):
    status = _field("status")
    return _change(provider_id, "contract", lambda s, p: registry.set_contract(
        p, status=status, starts_on=request.form.get("starts_on"), ends_on=request.form.get("ends_on"),
        reason=_field("reason")), f"合同已设为：{STATUS_NAMES.get(status, status)}")


@bp.post("/<int:provider_id>/area")
@role_required(*PROVIDER_ROLES)
def area(provider_id: int):
    communities = [line for line in request.form.get("communities", "").splitlines() if line.strip()]
    return _change(provider_id, "area", lambda s, p: registry.set_area(
        s, p, radius_km=_field("radius_km") or None, communities=communities), "服务范围已保存")


@bp.post("/<int:provider_id>/capacity")
@role_required(*PROVIDER_ROLES)
def capacity(provider_id: int):
    return _change(provider_id, "capacity", lambda s, p: registry.set_capacity(
        p, per_day=_field("per_day") or None, per_slot=_field("per_slot") or "-"), "接单量已保存")


@bp.post("/<int:provider_id>/hours")
@role_required(*PROVIDER_ROLES)
def hours(provider_id: int):
    return _change(provider_id, "hours", lambda s, p: registry.set_hours(p, _field("hours")), "营业时间已保存")


@bp.post("/<int:provider_id>/days-off")
@role_required(*PROVIDER_ROLES)
def days_off(provider_id: int):
    day, remove = _field("day"), bool(request.form.get("remove"))

    def change(session, provider):
        if remove:
            registry.remove_day_off(session, provider, day)
        else:
            registry.add_day_off(session, provider, day, _field("reason"))
        session.expire(provider, ["days_off"])

    return _change(provider_id, "days_off", change, "休息日已取消" if remove else "休息日已添加")


@bp.post("/<int:provider_id>/phones")
@role_required(*PROVIDER_ROLES)
def phones(provider_id: int):
    numbers = [line.strip() for line in request.form.get("phones", "").splitlines() if line.strip()]
    return _change(provider_id, "phones", lambda s, p: registry.set_phones(s, p, numbers), "派单电话已保存")


@bp.post("/<int:provider_id>/prices")
@role_required(*PROVIDER_ROLES)
def prices(provider_id: int):
    return _change(provider_id, "price", lambda s, p: registry.set_price(
        s, p, _field("item_code"), _field("price_yuan")), f"价格已保存：{_field('item_code')}")


@bp.post("/<int:provider_id>/tokens")
@role_required(*PROVIDER_ROLES)
def tokens(provider_id: int):
    """Issue an API token and show it this once: only its hash is kept."""
    session = get_session()
    provider = _provider_or_404(session, provider_id)
    row, token = issue_token(session, provider.id, _field("label")[:100], _now())
    records.audit_record(session, "provider", provider.code, "token_issued",
                         {"token": [None, f"#{row.id} {row.label}".strip()]},
                         actor=f"{current_user().username}（网页）", now=_now())
    session.commit()
    return _page(provider, new_token=token)


@bp.post("/<int:provider_id>/tokens/<int:token_id>/revoke")
@role_required(*PROVIDER_ROLES)
def revoke(provider_id: int, token_id: int):
    session = get_session()
    provider = _provider_or_404(session, provider_id)
    row = session.get(ApiToken, token_id)
    if row is None or row.provider_id != provider.id:
        abort(404)
    was_live = row.revoked_at is None
    revoke_token(session, token_id, _now())
    if was_live:
        records.audit_record(session, "provider", provider.code, "token_revoked",
                             {"token": [f"#{row.id} {row.label}".strip(), None]},
                             actor=f"{current_user().username}（网页）", now=_now())
    session.commit()
    flash(f"接口令牌 #{token_id} 已作废", "success")
    return redirect(url_for(".show", provider_id=provider_id))
