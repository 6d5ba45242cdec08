"""One elder or one provider added or edited by hand: the same parsers as an enrollment file's
rows, optimistic locking, and an audit entry for every change.

A form carries the record as it was shown (`snapshot`, the values in the file's columns) and its
`fingerprint`. Saving first locks the row and takes its snapshot again: if that is no longer the
one shown — another administrator saved, or a file was imported, meanwhile — the save is refused
with each field as it was shown and as it is now, and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from dispatcher.clock import local
from dispatcher.enrollment.geocoding import GeocodeQuery, GeocoderUnavailable
from dispatcher.enrollment.identity import mask_id_number
from dispatcher.enrollment.importer import replace_contacts, replace_phones
from dispatcher.enrollment.models import AuditEntry
from dispatcher.enrollment.rows import (
    DEFAULT_AREA_CODE,
    ELDER_COLUMNS,
    ELDER_FIELDS,
    PROVIDER_COLUMNS,
    in_china,
    parse_elder,
    parse_provider,
)
from dispatcher.models import Elder
from providers.models import Provider, ProviderPhone

Problems = list[tuple[str, str]]


@dataclass
class SaveResult:
    """What a save did: the record saved, or the problems (bad fields) or the conflict that stopped it."""

    record: object | None = None
    problems: Problems = field(default_factory=list)
    # field → (as shown in the form, as stored now), when someone else changed the record meanwhile
    conflict: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.record is not None


# A record's key is never changed in a form, and the ID number stays out of the page's hidden fields.
KEYS = frozenset({"id_number"})


def lock_view(snapshot: Mapping[str, str]) -> dict[str, str]:
    """The values a form carries back to show it was filled in against this version of the record."""
    return {k: v for k, v in snapshot.items() if k not in KEYS}


def fingerprint(snapshot: Mapping[str, str]) -> str:
    """A short digest of a record's values, to tell whether it changed since it was shown."""
    view = lock_view(snapshot)
    return hashlib.sha256(json.dumps(view, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:g}" if abs(value) >= 1000 else f"{value:.6f}".rstrip("0").rstrip(".")
    return str(value)


# -- elders -----------------------------------------------------------------------------------------
def elder_snapshot(elder: Elder | None) -> dict[str, str]:
    """An elder's record in the enrollment file's columns, as text (blank for a new elder)."""
    if elder is None:
        return dict.fromkeys(ELDER_COLUMNS, "")
    primary = [p.phone for p in elder.phones if p.is_primary]
    others = [p.phone for p in elder.phones if not p.is_primary]
    contact = elder.emergency_contacts[0] if elder.emergency_contacts else None
    return {
        "id_number": elder.id_number, "name": elder.name, "gender": elder.gender,
        "birth_date": elder.birth_date.isoformat(), "phone": primary[0] if primary else "",
        "other_phones": ";".join(others), "address": elder.address, "street": elder.street,
        "community": elder.community, "latitude": _text(elder.latitude),
        "longitude": _text(elder.longitude), "elder_class": elder.elder_class,
        "disability_level": elder.disability_level, "lives_alone": _text(elder.is_living_alone),
        "emergency_contact_name": contact.name if contact else "",
        "emergency_contact_phone": contact.phone if contact else "",
    }  # fmt: skip


def elder_for_edit(session: Session, elder_id: int, *, lock: bool = False) -> Elder | None:
    """An elder with its phones and contacts, freshly read (and row-locked on PostgreSQL if `lock`)."""
    query = (select(Elder).where(Elder.id == elder_id)
             .options(selectinload(Elder.phones), selectinload(Elder.emergency_contacts))
             .execution_options(populate_existing=True))
    return session.scalar(query.with_for_update(of=Elder) if lock else query)


def save_elder(session: Session, elder_id: int | None, form: Mapping[str, str], *, shown: Mapping[str, str],
               classes: Collection[str], actor: str, now: datetime, geocoder=None,
               area_code: str = DEFAULT_AREA_CODE) -> SaveResult:
    """Add an elder (`elder_id` None) or change one from a form of the file's columns; flush."""
    elder = None
    if elder_id is not None:
        elder = elder_for_edit(session, elder_id, lock=True)
        if elder is None:
            raise LookupError(elder_id)
    before = elder_snapshot(elder)
    if elder is not None and fingerprint(before) != fingerprint(shown):
        return SaveResult(conflict=_differences(shown, before))
    values = {column: (form.get(column) or "").strip() for column in ELDER_COLUMNS}
    if elder is not None:
        values["id_number"] = elder.id_number  # the key of the record: never changed in a form
    record, problems = parse_elder(values, classes=classes, area_code=area_code, today=local(now).date())
    if record is not None and elder is None and session.scalar(
            select(Elder.id).where(Elder.id_number == record.id_number)):
        problems.append(("id_number", "already enrolled: edit that elder's record instead"))
    if record is not None and record.latitude is None:
        if elder is not None and elder.address == record.address and elder.latitude is not None:
            record.latitude, record.longitude = elder.latitude, elder.longitude
        else:
            problems += _geocode(record, geocoder)
    if problems:
        return SaveResult(problems=problems)
    if elder is None:
        elder = Elder(**record.columns(), created_at=now)
        session.add(elder)
    else:
        for name in ELDER_FIELDS:
            setattr(elder, name, getattr(record, name))
    replace_phones(elder, record.phones)
    replace_contacts(elder, record.emergency_contacts)
    session.flush()
    after = elder_snapshot(elder)
    changes = {k: [before[k], after[k]] for k in ELDER_COLUMNS if k != "id_number" and before[k] != after[k]}
    if changes:
        _audit(session, "elder", mask_id_number(elder.id_number), "create" if elder_id is None else "update",
               changes, actor, now)
    return SaveResult(record=elder)


def _geocode(record, geocoder) -> Problems:
    if geocoder is None:
        return [("latitude", "is blank and no geocoder is configured: give latitude and longitude")]
    try:
        place = geocoder.geocode(GeocodeQuery(record.address, getattr(record, "street", ""),
                                              getattr(record, "community", "")))
    except GeocoderUnavailable as exc:
        return [("address", f"the geocoder failed: {exc}")]
    if place is None or not in_china(place.latitude, place.longitude):
        return [("address", "cannot be geocoded: give latitude and longitude")]
    record.latitude, record.longitude = place.latitude, place.longitude
    return []


# -- providers --------------------------------------------------------------------------------------
def provider_snapshot(provider: Provider | None) -> dict[str, str]:
    """A provider's record in the providers file's columns, as text (blank for a new provider)."""
    if provider is None:
        return dict.fromkeys(PROVIDER_COLUMNS, "")
    return {
        "code": provider.code, "name": provider.name, "license_no": provider.license_no,
        "dispatch_phone": provider.dispatch_phone, "address": provider.address,
        "latitude": _text(provider.latitude), "longitude": _text(provider.longitude),
        "service_radius_km": _text(provider.service_radius_m / 1000),
        "capacity_per_day": str(provider.capacity_per_day),
        "hours": f"{provider.opens_at:%H:%M}-{provider.closes_at:%H:%M}",
    }  # fmt: skip


def provider_for_edit(session: Session, provider_id: int, *, lock: bool = False) -> Provider | None:
    query = select(Provider).where(Provider.id == provider_id).execution_options(populate_existing=True)
    return session.scalar(query.with_for_update() if lock else query)


def save_provider(session: Session, provider_id: int | None, form: Mapping[str, str], *,
                  shown: Mapping[str, str], actor: str, now: datetime, geocoder=None,
                  area_code: str = DEFAULT_AREA_CODE) -> SaveResult:
    """Sign up a provider (`provider_id` None) or change its record from a form of the file's columns."""
    provider = None
    if provider_id is not None:
        provider = provider_for_edit(session, provider_id, lock=True)
        if provider is None:
            raise LookupError(provider_id)
    before = provider_snapshot(provider)
    if provider is not None and fingerprint(before) != fingerprint(shown):
        return SaveResult(conflict=_differences(shown, before))
    values = {column: (form.get(column) or "").strip() for column in PROVIDER_COLUMNS}
    if provider is not None:
        values["code"] = provider.code
    record, problems = parse_provider(values, area_code=area_code)
    if record is not None:
        problems += _provider_conflicts(session, record, provider)
    if record is not None and not problems and record.latitude is None:
        if provider is not None and provider.address == record.address:
            record.latitude, record.longitude = provider.latitude, provider.longitude
        else:
            problems += _geocode(record, geocoder)
    if problems:
        return SaveResult(problems=problems)
    fields = {name: getattr(record, name) for name in record.__dataclass_fields__}
    if provider is None:
        provider = Provider(**fields, contract_status="active", created_at=now)
        session.add(provider)
    else:
        for name, value in fields.items():
            setattr(provider, name, value)
    session.flush()
    after = provider_snapshot(provider)
    changes = {k: [before[k], after[k]] for k in PROVIDER_COLUMNS if before[k] != after[k]}
    if changes:
        _audit(session, "provider", provider.code, "create" if provider_id is None else "update",
               changes, actor, now)
    return SaveResult(record=provider)


def _provider_conflicts(session: Session, record, provider: Provider | None) -> Problems:
    problems = []
    if provider is None and session.scalar(select(Provider.id).where(Provider.code == record.code)):
        problems.append(("code", f"provider {record.code} exists already"))
    own = provider.id if provider is not None else -1
    owner = session.scalar(
        select(Provider.code).outerjoin(ProviderPhone, ProviderPhone.provider_id == Provider.id)
        .where(or_(Provider.dispatch_phone == record.dispatch_phone, ProviderPhone.phone == record.dispatch_phone),
               Provider.id != own).limit(1))
    if owner:
        problems.append(("dispatch_phone", f"already a dispatch phone of provider {owner}"))
    return problems


# -- both ---------------------------------------------------------------------------------------------
def _differences(shown: Mapping[str, str], now_stored: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    return {k: (shown.get(k, ""), v) for k, v in lock_view(now_stored).items() if shown.get(k, "") != v}


def _audit(session: Session, entity: str, key: str, action: str, changes: dict, actor: str,
           now: datetime) -> None:
    session.add(AuditEntry(created_at=now, actor=actor[:200], entity=entity, entity_key=key[:60],
                           action=action, changes=changes))
    session.flush()


def audit_record(session: Session, entity: str, key: str, action: str, changes: dict, *, actor: str,
                 now: datetime) -> None:
    """Write one audit entry (who, when, which record, each field's [before, after])."""
    _audit(session, entity, key, action, changes, actor, now)


def history(session: Session, entity: str, key: str, limit: int = 50) -> list[AuditEntry]:
    """The latest audit entries of one record, newest first."""
    return list(session.scalars(select(AuditEntry).where(AuditEntry.entity == entity, AuditEntry.entity_key == key)
                                .order_by(AuditEntry.id.desc()).limit(limit)))


def elders_page(session: Session, query: str = "", limit: int = 50) -> list[Elder]:
    """Elders for the administrator's list: by name, street or community; newest first.

    Area scope (a street or community worker's reach) is to be applied here, in one place.
    """
    statement = select(Elder).options(selectinload(Elder.phones))
    if query.strip():
        q = query.strip()
        statement = statement.where(or_(Elder.name.contains(q), Elder.street.contains(q),
                                        Elder.community.contains(q)))
    return list(session.scalars(statement.order_by(Elder.id.desc()).limit(limit)))
