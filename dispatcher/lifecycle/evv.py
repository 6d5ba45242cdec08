"""EVV's six facts of a visit — service, recipient, date, place, worker, start and end — each with
how it was proved, for the console's order page and the visit export (`vnh report visits`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.months import month_start, next_month
from dispatcher.clock import local
from dispatcher.enrollment.identity import mask_id_number
from dispatcher.lifecycle.proof import METHOD_NAMES
from dispatcher.models import Order, Visit
from providers.models import Provider, Worker
from telephony.numbers import mask_phone

VISIT_COLUMNS = ("job_code", "order_no", "service", "recipient", "elder_id_masked", "date", "place",
                 "place_proof", "provider_code", "worker", "worker_proof", "start", "start_proof", "end",
                 "end_proof")
# How the service and the recipient are known: the order names them; the worker by its record.
_SOURCES = {"sms": "短信", "portal": "门户", "api": "接口", "phone": "老人家电话"}


@dataclass(frozen=True)
class Fact:
    name: str  # 服务项目, 服务对象, …
    value: str
    proof: str


def _place_proof(visit: Visit) -> str:
    methods = [m for m in (visit.check_in_method, visit.check_out_method) if m]
    if not methods:
        return "未核验"
    return "签到：" + METHOD_NAMES.get(methods[0], methods[0]) + (
        f"；签退：{METHOD_NAMES.get(methods[1], methods[1])}" if len(methods) > 1 else "")


def _worker_text(worker: Worker | None, visit: Visit) -> tuple[str, str]:
    if worker is not None:
        return f"{worker.name}（工号{worker.work_number}）", "登记在册的服务人员"
    if visit.worker_ref:
        return f"工号{visit.worker_ref}", "未登记，仅自报工号"
    return "未注明", "无"


def _moment(at: datetime | None) -> str:
    return f"{local(at):%Y-%m-%d %H:%M}" if at is not None else ""


def _end_proof(visit: Visit, which: str) -> str:
    source = visit.check_in_source if which == "in" else visit.check_out_source
    method = visit.check_in_method if which == "in" else visit.check_out_method
    phone = visit.check_in_phone if which == "in" else visit.check_out_phone
    if source is None:
        return ""
    text = f"{_SOURCES.get(source, source)}报到，{METHOD_NAMES.get(method or 'none', method)}"
    return text + (f"（{mask_phone(phone)}）" if phone else "")


def service_place(order: Order) -> str:
    """Where the visit happens: the elder's home, or the venue the elder goes to (issue 17)."""
    item = order.item
    if getattr(item, "place", "home") == "venue":
        return f"{item.venue or '服务场所'}（老人到场，非老人家中）"
    return order.elder.address


def six_facts(order: Order, visit: Visit | None, worker: Worker | None) -> list[Fact]:
    """The six facts of one visit, each with how it was proved (blank where not yet known)."""
    elder = order.elder
    facts = [Fact("服务项目", f"{order.item.name}（{order.item.code}）", "工单记载"),
             Fact("服务对象", f"{elder.name}（{mask_id_number(elder.id_number)}）", "工单记载，老人档案"),
             Fact("服务日期", f"{local(visit.checked_in_at if visit and visit.checked_in_at else order.window_start_at):%Y-%m-%d}",
                  "签到时间" if visit and visit.checked_in_at else "预约时间")]
    place = service_place(order)
    if visit is None:
        return facts + [Fact("服务地点", place, "尚未上门"), Fact("服务人员", "", "尚未上门"),
                        Fact("开始和结束", "", "尚未上门")]
    name, how = _worker_text(worker, visit)
    span = f"{_moment(visit.checked_in_at)} – {_moment(visit.checked_out_at)}"
    proofs = "；".join(p for p in (_end_proof(visit, "in"), _end_proof(visit, "out")) if p)
    return facts + [Fact("服务地点", place, _place_proof(visit)), Fact("服务人员", name, how),
                    Fact("开始和结束", span, proofs)]


def order_facts(session: Session, order: Order) -> list[Fact]:
    visit = order.visit
    worker = session.get(Worker, visit.worker_id) if visit is not None and visit.worker_id else None
    return six_facts(order, visit, worker)


def visit_rows(session: Session, month: str) -> list[tuple]:
    """One row per visit checked in during `month` (YYYY-MM, local time), columns VISIT_COLUMNS."""
    start, end = month_start(month), month_start(next_month(month))
    found = session.execute(
        select(Visit, Order, Provider, Worker).join(Order, Order.id == Visit.order_id)
        .join(Provider, Provider.id == Visit.provider_id).outerjoin(Worker, Worker.id == Visit.worker_id)
        .where(Visit.checked_in_at >= start, Visit.checked_in_at < end).order_by(Visit.checked_in_at, Visit.id))
    rows = []
    for visit, order, provider, worker in found:
        name, how = _worker_text(worker, visit)
        rows.append((order.job_code, order.order_no, order.item.code, order.elder.name,
                     mask_id_number(order.elder.id_number), f"{local(visit.checked_in_at):%Y-%m-%d}",
                     order.elder.address, _place_proof(visit), provider.code, name, how,
                     _moment(visit.checked_in_at), visit.check_in_method or "none", _moment(visit.checked_out_at),
                     visit.check_out_method or ("" if visit.checked_out_at is None else "none")))
    return rows
