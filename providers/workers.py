"""Workers on record (服务人员): who a provider may send, what they may do, and naming one at a visit.

Services take a Session, flush and never commit. Errors are `WorkerError` with a Chinese message
naming the field, shown as they are by the CLI, the portal and the importer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatcher.enrollment.identity import BadIdNumber, mask_id_number, validate_id_number
from dispatcher.models import Item
from providers.models import Provider, Worker, WorkerCertificate
from telephony.numbers import BadPhoneNumber, mask_phone, to_e164

WORK_NUMBER_MAX = 20


class WorkerError(ValueError):
    """Bad input for a worker; the message (Chinese) names the field and the reason."""


@dataclass(frozen=True)
class WorkerFields:
    """A worker's details as typed: checked and normalised by `clean_fields`."""

    name: str
    phone: str
    id_number: str
    items: list[str] | None = None  # None: every item the provider sells
    work_number: str = ""


def clean_fields(fields: WorkerFields) -> WorkerFields:
    """Check and normalise a worker's details; raise WorkerError naming the bad field."""
    name = (fields.name or "").strip()
    if not name or len(name) > 50:
        raise WorkerError("姓名不能为空，且不超过50个字。")
    try:
        phone = to_e164(fields.phone)
    except BadPhoneNumber:
        raise WorkerError(f"手机号“{mask_phone(fields.phone)}”不是有效号码。") from None
    try:
        id_number = validate_id_number(fields.id_number)
    except BadIdNumber:
        raise WorkerError(f"身份证号“{mask_id_number(fields.id_number)}”无效（位数或校验位不对）。") from None
    work_number = (fields.work_number or "").strip()
    if len(work_number) > WORK_NUMBER_MAX or (work_number and not work_number.isalnum()):
        raise WorkerError(f"工号只能是不超过{WORK_NUMBER_MAX}位的字母或数字。")
    items = None
    if fields.items is not None:
        items = sorted({code.strip() for code in fields.items if code.strip()}) or None
    return WorkerFields(name, phone, id_number, items, work_number)


def _check_items(session: Session, items: list[str] | None) -> None:
    if not items:
        return
    known = set(session.scalars(select(Item.code).where(Item.code.in_(items))))
    unknown = [code for code in items if code not in known]
    if unknown:
        raise WorkerError(f"服务项目编号{'、'.join(unknown)}不存在。")


def next_work_number(session: Session, provider_id: int) -> str:
    """The next free work number at a provider: 0001, 0002, … (digits, so it can be keyed on a phone)."""
    count = session.scalar(select(func.count()).select_from(Worker).where(Worker.provider_id == provider_id))
    n = count + 1
    while session.scalar(select(Worker.id).where(Worker.provider_id == provider_id,
                                                 Worker.work_number == f"{n:04d}")) is not None:
        n += 1
    return f"{n:04d}"


def add_worker(session: Session, provider: Provider, fields: WorkerFields, now: datetime) -> Worker:
    """Put a worker on the provider's record; the same ID number twice at one provider is refused."""
    fields = clean_fields(fields)
    _check_items(session, fields.items)
    same = session.scalar(select(Worker).where(Worker.provider_id == provider.id,
                                               Worker.id_number == fields.id_number))
    if same is not None:
        raise WorkerError(f"身份证号{mask_id_number(fields.id_number)}已登记为本服务商的服务人员（工号{same.work_number}）。")
    work_number = fields.work_number or next_work_number(session, provider.id)
    if worker_by_work_number(session, provider.id, work_number) is not None:
        raise WorkerError(f"工号{work_number}已被本服务商的其他服务人员使用。")
    worker = Worker(provider_id=provider.id, work_number=work_number, name=fields.name, phone=fields.phone,
                    id_number=fields.id_number, items=",".join(fields.items) if fields.items else None,
                    active=True, created_at=now)
    session.add(worker)
    session.flush()
    return worker


def update_worker(session: Session, worker: Worker, fields: WorkerFields) -> Worker:
    """Change a worker's name, mobile, ID number or items; the work number stays."""
    fields = clean_fields(WorkerFields(fields.name, fields.phone, fields.id_number, fields.items,
                                       worker.work_number))
    _check_items(session, fields.items)
    same = session.scalar(select(Worker).where(Worker.provider_id == worker.provider_id,
                                               Worker.id_number == fields.id_number, Worker.id != worker.id))
    if same is not None:
        raise WorkerError(f"身份证号{mask_id_number(fields.id_number)}已登记为本服务商的服务人员（工号{same.work_number}）。")
    worker.name, worker.phone, worker.id_number = fields.name, fields.phone, fields.id_number
    worker.items = ",".join(fields.items) if fields.items else None
    session.flush()
    return worker


def set_active(session: Session, worker: Worker, active: bool) -> Worker:
    """Deactivate (or reactivate) a worker; an inactive worker cannot check in."""
    worker.active = active
    session.flush()
    return worker


def add_certificate(session: Session, worker: Worker, kind: str, level: str | None,
                    expires_on: date | None) -> WorkerCertificate:
    """Record a certificate (养老护理员 level, health certificate) and its expiry."""
    kind = (kind or "").strip()
    if not kind or len(kind) > 40:
        raise WorkerError("证书名称不能为空，且不超过40个字。")
    certificate = WorkerCertificate(worker_id=worker.id, kind=kind, level=(level or "").strip()[:20] or None,
                                    expires_on=expires_on)
    session.add(certificate)
    session.flush()
    return certificate


def certificates_of(session: Session, worker_id: int) -> list[WorkerCertificate]:
    return list(session.scalars(select(WorkerCertificate).where(WorkerCertificate.worker_id == worker_id)
                                .order_by(WorkerCertificate.id)))


def expired_certificates(session: Session, provider_id: int, today: date) -> list[tuple[Worker, WorkerCertificate]]:
    """A provider's active workers' certificates past their expiry date."""
    rows = session.execute(
        select(Worker, WorkerCertificate).join(WorkerCertificate, WorkerCertificate.worker_id == Worker.id)
        .where(Worker.provider_id == provider_id, Worker.active.is_(True), WorkerCertificate.expires_on < today)
        .order_by(Worker.work_number))
    return [(w, c) for w, c in rows]


def workers_of(session: Session, provider_id: int, *, active_only: bool = False) -> list[Worker]:
    query = select(Worker).where(Worker.provider_id == provider_id)
    if active_only:
        query = query.where(Worker.active.is_(True))
    return list(session.scalars(query.order_by(Worker.work_number)))


def worker_by_work_number(session: Session, provider_id: int, work_number: str) -> Worker | None:
    return session.scalar(select(Worker).where(Worker.provider_id == provider_id,
                                               Worker.work_number == work_number))


def workers_by_phone(session: Session, phone: str) -> list[Worker]:
    """The active workers whose own mobile this is (one person may work for several providers)."""
    return list(session.scalars(select(Worker).where(Worker.phone == phone, Worker.active.is_(True))
                                .order_by(Worker.id)))


def workers_at_several_providers(session: Session) -> list[tuple[str, list[Worker]]]:
    """ID numbers on record at more than one provider, with the workers: for supervisors to see."""
    doubled = select(Worker.id_number).group_by(Worker.id_number).having(
        func.count(func.distinct(Worker.provider_id)) > 1)
    rows = session.scalars(select(Worker).where(Worker.id_number.in_(doubled))
                           .order_by(Worker.id_number, Worker.provider_id))
    grouped: dict[str, list[Worker]] = {}
    for worker in rows:
        grouped.setdefault(worker.id_number, []).append(worker)
    return list(grouped.items())


def may_do(worker: Worker, item_code: str) -> bool:
    return worker.items is None or item_code in worker.items.split(",")


def _identify(session: Session, provider_id: int, ref: str) -> Worker | None:
    ref = (ref or "").strip()
    found = worker_by_work_number(session, provider_id, ref) or worker_by_work_number(
        session, provider_id, ref.upper())
    if found is not None:
        return found
    try:
        phone = to_e164(ref)
    except BadPhoneNumber:
        return None
    return session.scalar(select(Worker).where(Worker.provider_id == provider_id, Worker.phone == phone)
                          .order_by(Worker.active.desc(), Worker.id))


@dataclass(frozen=True)
class Naming:
    """Who a check-in names: the worker on record, or why it is refused (`refusal`, Chinese)."""

    worker: Worker | None
    refusal: str | None = None
    error: str | None = None  # an English code for the API: unknown_worker, worker_inactive, ...


def name_worker(session: Session, provider_id: int, ref: str | None, item_code: str, item_name: str,
                worker_id: int | None = None) -> Naming:
    """The worker a check-in or check-out names, by work number or mobile (or an id already known).

    A provider with workers on record must name one; a provider with none yet may still check in
    without (the visit is then recorded with no worker, which the integrity checks see).
    """
    worker = session.get(Worker, worker_id) if worker_id is not None else None
    if worker is None and ref:
        worker = _identify(session, provider_id, ref)
        if worker is None:
            return Naming(None, f"服务人员“{ref[:20]}”不在本服务商登记的名单上，请核对工号或手机号。",
                          "unknown_worker")
    if worker is None:
        if session.scalar(select(Worker.id).where(Worker.provider_id == provider_id,
                                                  Worker.active.is_(True)).limit(1)) is None:
            return Naming(None)
        return Naming(None, "请注明服务人员的工号（如“工单号 到 0001”），或由服务人员用登记的手机发送。",
                      "worker_required")
    if worker.provider_id != provider_id:
        return Naming(None, "该服务人员不属于本服务商。", "unknown_worker")
    if not worker.active:
        return Naming(None, f"服务人员{worker.name}（工号{worker.work_number}）已停用，不能签到签退。",
                      "worker_inactive")
    if not may_do(worker, item_code):
        return Naming(None, f"服务人员{worker.name}（工号{worker.work_number}）未登记可提供“{item_name}”服务。",
                      "worker_not_allowed")
    return Naming(worker)


def masked(worker: Worker) -> dict:
    """A worker as screens and listings show them: ID number and mobile masked."""
    return {"work_number": worker.work_number, "name": worker.name, "phone": mask_phone(worker.phone),
            "id_number": mask_id_number(worker.id_number), "items": worker.items.split(",") if worker.items else [],
            "active": worker.active}
