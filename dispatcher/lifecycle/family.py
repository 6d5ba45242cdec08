"""The family in the loop (家属): who hears about visits, who answers the review for an elder who
cannot, and how a family number is recognised on the hotline.

Services take a Session, flush and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.clock import local
from dispatcher.config import Settings
from dispatcher.models import Elder, ElderPhone, FamilyMember, Order
from telephony.numbers import BadPhoneNumber, mask_phone, to_e164
from telephony.outbox import enqueue_notice

# What a check-in or check-out tells the family: the SMS template (a landline hears it in a short call).
TEMPLATE_OF = {"check_in": "family_check_in", "check_out": "family_check_out"}


class FamilyError(ValueError):
    """Bad input for a family member; the message (Chinese) names the field."""


@dataclass(frozen=True)
class FamilyFields:
    name: str
    phone: str
    relation: str
    wants_visit_sms: bool = False
    wants_statement: bool = False
    is_review_contact: bool = False


def add_family_member(session: Session, elder: Elder, fields: FamilyFields, now: datetime) -> FamilyMember:
    """Name a family member of `elder`; their number also identifies the elder on the hotline."""
    name, relation = (fields.name or "").strip(), (fields.relation or "").strip()
    if not name or len(name) > 50:
        raise FamilyError("家属姓名不能为空，且不超过50个字。")
    if not relation or len(relation) > 20:
        raise FamilyError("与老人的关系不能为空（如“女儿”），且不超过20个字。")
    try:
        phone = to_e164(fields.phone)
    except BadPhoneNumber:
        raise FamilyError(f"家属电话“{mask_phone(fields.phone)}”不是有效号码。") from None
    if any(m.phone == phone for m in elder.family_members):
        raise FamilyError(f"电话{mask_phone(phone)}已登记为该老人的家属。")
    member = FamilyMember(elder=elder, name=name, phone=phone, relation=relation,
                          wants_visit_sms=fields.wants_visit_sms, wants_statement=fields.wants_statement,
                          is_review_contact=fields.is_review_contact, created_at=now)
    session.add(member)
    if fields.is_review_contact:
        for other in elder.family_members:
            if other is not member:
                other.is_review_contact = False
    # DESIGN: an elder is looked up by phone, and family numbers count.
    if not any(p.phone == phone for p in elder.phones):
        session.add(ElderPhone(elder=elder, phone=phone, is_primary=False))
    session.flush()
    return member


def remove_family_member(session: Session, member: FamilyMember) -> None:
    """Take a family member off; their number no longer identifies the elder."""
    elder = member.elder
    for phone in [p for p in elder.phones if p.phone == member.phone and not p.is_primary]:
        elder.phones.remove(phone)
    elder.family_members.remove(member)
    session.flush()


def set_reviewed_via_family(session: Session, elder: Elder, on: bool) -> None:
    """Flag an elder who cannot answer reliably: the callback review goes to the family contact."""
    if on and review_contact(elder) is None and not elder.family_members:
        raise FamilyError("该老人还没有登记家属，不能改由家属回访。")
    elder.is_reviewed_via_family = on
    session.flush()


def review_contact(elder: Elder) -> FamilyMember | None:
    """The family member who answers the review for this elder, if the elder is so flagged."""
    if not elder.is_reviewed_via_family or not elder.family_members:
        return None
    return next((m for m in elder.family_members if m.is_review_contact), elder.family_members[0])


def family_member_by_phone(session: Session, phone: str) -> FamilyMember | None:
    """The family member calling from `phone` (the first one on record if several elders share it)."""
    return session.scalar(select(FamilyMember).where(FamilyMember.phone == phone).order_by(FamilyMember.id)
                          .limit(1))


def tell_family(session: Session, order: Order, kind: str, worker_name: str | None, settings: Settings,
                now: datetime) -> int:
    """Tell the family members who opted in that the worker came (`check_in`) or left (`check_out`).

    An SMS to a mobile, a short call saying the same words to a landline; once per member and step.
    Returns how many were told.
    """
    elder = order.elder
    told = 0
    for member in elder.family_members:
        if not member.wants_visit_sms:
            continue
        enqueue_notice(
            session, to=member.phone, purpose=TEMPLATE_OF[kind], dedupe_key=f"family:{kind}:{order.id}:{member.id}",
            from_=settings.hotline_number, now=now, public_url=settings.public_url,
            params={"contact_name": member.name, "worker_name": worker_name or "",
                    "time": f"{local(now):%H:%M}", "elder_name": elder.name, "item_name": order.item.name},
        )
        told += 1
    return told
