"""The supervisor's case view (issue 19): one case with everything needed to judge it, the history
of what was done, priorities in words, and the list of cases — open, or resolved and searchable."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from dispatcher.consoles.scope import task_scope
from dispatcher.enrollment.models import AuditEntry
from dispatcher.models import CallbackReview, Elder, OperatorTask, Order, StaffUser, Visit
from dispatcher.programmes.supervision import SUPERVISOR_KINDS, Complaint
from providers.models import Offer, Provider, Worker

KIND_WORDS = {"dispute": "争议", "review_unreachable": "回访未接通", "low_rating": "低分评价",
              "review_sample": "抽查", "complaint": "投诉", "wellbeing_alarm": "关爱电话未接",
              "month_close": "月末结账"}
VERDICT_WORDS = {"happened": "服务属实（不扣分）", "not_happened": "未上门（计入服务商评分）"}
ACTION_WORDS = {"close": "办结", "dispute_happened": "裁定：服务属实", "dispute_not_happened": "裁定：未上门",
                "complaint": "记录投诉", "call": "回拨老人", "confirm_check_in": "服务商确认时段外签到",
                "confirm_check_out": "服务商确认提前签退"}
OFFER_WORDS = {"offered": "派单", "accepted": "接单", "declined": "拒单", "expired": "派单过期",
               "withdrawn": "派单撤回", "no_show": "未按时签到，改派"}
SOURCE_WORDS = {"phone": "电话", "console": "话务台", "operator": "话务员", "api": "接口", "sms": "短信", "plan": "服务计划"}
SHOWN = 100  # at most this many cases on the list


def priority_words(priority: int) -> str:
    """A case's priority as people say it: 0–1 紧急, 2–3 高, 4–5 中, 6 and above 低."""
    if priority <= 1:
        return "紧急"
    if priority <= 3:
        return "高"
    if priority <= 5:
        return "中"
    return "低"


def find_cases(session: Session, who: StaffUser | None, *, resolved: bool = False,
               query: str = "") -> list[OperatorTask]:
    """Open cases, most urgent then oldest first; or resolved ones, latest first, matching `query`
    (a job code, order number, elder's or provider's name, or words of the reason or resolution)."""
    wanted = select(OperatorTask).where(OperatorTask.kind.in_(SUPERVISOR_KINDS), task_scope(who))
    if resolved:
        wanted = wanted.where(OperatorTask.resolved_at.is_not(None)).order_by(OperatorTask.resolved_at.desc())
    else:
        wanted = wanted.where(OperatorTask.resolved_at.is_(None)).order_by(OperatorTask.priority,
                                                                            OperatorTask.created_at)
    words = query.strip()[:50]
    if words:
        like = f"%{words}%"
        orders = select(Order.id).outerjoin(Elder, Elder.id == Order.elder_id) \
            .outerjoin(Provider, Provider.id == Order.provider_id) \
            .where(or_(Order.job_code == words, Order.order_no == words, Elder.name.like(like),
                       Provider.name.like(like)))
        elders = select(Elder.id).where(Elder.name.like(like))
        wanted = wanted.where(or_(OperatorTask.reason.like(like), OperatorTask.resolution.like(like),
                                  cast(OperatorTask.id, String) == words,
                                  OperatorTask.order_id.in_(orders), OperatorTask.elder_id.in_(elders)))
    return list(session.scalars(wanted.limit(SHOWN)))


@dataclass
class CaseFacts:
    task: OperatorTask
    order: Order | None = None
    elder: Elder | None = None
    provider: Provider | None = None
    worker: Worker | None = None
    visit: Visit | None = None
    review: CallbackReview | None = None
    resolved_by: StaffUser | None = None
    recordings: list[tuple[str, str]] = field(default_factory=list)  # (what, url)
    history: list[tuple[datetime, str]] = field(default_factory=list)


def case_facts(session: Session, task: OperatorTask) -> CaseFacts:
    """Everything a supervisor reads to judge `task`, and its history oldest first."""
    facts = CaseFacts(task)
    order = facts.order = session.get(Order, task.order_id) if task.order_id else None
    elder_id = task.elder_id or (order.elder_id if order else None)
    facts.elder = session.get(Elder, elder_id) if elder_id else None
    if order is not None:
        facts.provider = session.get(Provider, order.provider_id) if order.provider_id else None
        facts.visit = order.visit
        if facts.visit is not None and facts.visit.worker_id:
            facts.worker = session.get(Worker, facts.visit.worker_id)
        facts.review = session.scalar(select(CallbackReview).where(CallbackReview.order_id == order.id))
    facts.resolved_by = session.get(StaffUser, task.resolved_by) if task.resolved_by else None
    if task.recording_url:
        facts.recordings.append(("来电留言", task.recording_url))
    if facts.review is not None and facts.review.comment_url:
        facts.recordings.append(("回访中老人的留言", facts.review.comment_url))
    facts.history = sorted(_history(session, task, facts), key=lambda entry: entry[0])
    return facts


def _history(session: Session, task: OperatorTask, facts: CaseFacts) -> list[tuple[datetime, str]]:
    events: list[tuple[datetime, str]] = []
    order, visit, review = facts.order, facts.visit, facts.review
    if order is not None:
        events.append((order.created_at, f"下单（工单{order.job_code}，来源：{SOURCE_WORDS.get(order.source, order.source)}）"))
        providers = {p.id: p.name for p in session.scalars(
            select(Provider).join(Offer, Offer.provider_id == Provider.id).where(Offer.order_id == order.id))}
        for offer in session.scalars(select(Offer).where(Offer.order_id == order.id).order_by(Offer.id)):
            events.append((offer.offered_at, f"派单给{providers.get(offer.provider_id, '')}"))
            if offer.responded_at is not None and offer.status != "offered":
                events.append((offer.responded_at, f"{providers.get(offer.provider_id, '')}："
                                                   f"{OFFER_WORDS.get(offer.status, offer.status)}"))
        for entry in session.scalars(select(AuditEntry).where(AuditEntry.entity == "visit",
                                                              AuditEntry.entity_key == order.order_no)):
            events.append((entry.created_at, f"{ACTION_WORDS.get(entry.action, entry.action)}："
                                             f"{(entry.changes or {}).get('warning', '')}"))
        for complaint in session.scalars(select(Complaint).where(Complaint.order_id == order.id)):
            events.append((complaint.created_at, f"记录投诉：{complaint.text}"))
    if visit is not None and visit.checked_in_at is not None:
        events.append((visit.checked_in_at, "服务人员签到"))
    if visit is not None and visit.checked_out_at is not None:
        events.append((visit.checked_out_at, "服务人员签退"))
    if review is not None and review.answered_at is not None:
        said = {True: "老人确认服务人员上门", False: "老人表示服务人员未上门"}.get(review.did_worker_come, "回访")
        events.append((review.answered_at, f"回访：{said}" + (f"，评分{review.rating}" if review.rating else "")))
    events.append((task.created_at, f"立案：{task.reason}"))
    for entry in session.scalars(select(AuditEntry).where(AuditEntry.entity == "case",
                                                          AuditEntry.entity_key == str(task.id))):
        note = (entry.changes or {}).get("note") or ""
        events.append((entry.created_at, f"{entry.actor}：{ACTION_WORDS.get(entry.action, entry.action)}"
                                         + (f"（{note}）" if note else "")))
    return events


def record_action(session: Session, task: OperatorTask, staff: StaffUser, action: str, note: str,
                  now: datetime) -> None:
    """Keep what a supervisor did on a case (append-only), for the case's history."""
    session.add(AuditEntry(created_at=now, actor=staff.display_name[:200], entity="case",
                           entity_key=str(task.id), action=action[:20],
                           changes={"note": note.strip()[:500], "staff_user_id": staff.id}))
