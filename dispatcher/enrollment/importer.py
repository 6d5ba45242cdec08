"""Enrollment files: elders, providers and their offerings, imported from CSV or XLSX.

Importing streams the file in chunks of rows: each row is parsed into clean values (one parser
per kind, which names every bad column), checked against the rest of the file and the database,
geocoded if its coordinates are blank, then added, updated (with an audit entry) or left alone.
Everything happens inside a savepoint: unless bad rows are to be skipped, a file with any bad
row leaves the database as it was. Every bad row is handed to `on_error` as its chunk is done
(the command streams them to the errors file); the report keeps only the first of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from functools import partial
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from billing.money import fen_to_yuan
from billing.policy import Policy, load_policy
from dispatcher.assessments.records import first_assessments
from dispatcher.clock import local
from dispatcher.enrollment.files import ImportFileError, ImportLimits, SourceRow, open_rows
from dispatcher.enrollment.geocoding import GeocodeQuery, Geocoder, GeocoderUnavailable
from dispatcher.enrollment.identity import mask_id_number
from dispatcher.enrollment.models import AuditEntry
from dispatcher.enrollment.rows import (
    COLUMNS,
    DEFAULT_AREA_CODE,
    ELDER_FIELDS,
    KEY_COLUMNS,
    OPTIONAL_COLUMNS,
    ElderRecord,
    OfferingRecord,
    ProviderRecord,
    in_china,
    parse_elder,
    parse_offering,
    parse_provider,
)
from dispatcher.models import Elder, ElderPhone, EmergencyContact, Item
from providers.models import Offering, Provider
from telephony.numbers import is_mobile

__all__ = ["ImportFileError", "ImportLimits", "import_file"]

CHUNK_ROWS = 1000
KEPT_ERRORS = 1000  # the report's list; every error still goes to on_error

_BATCH = 500


@dataclass(slots=True)
class RowError:
    row: int  # the row number a person sees: the file line, or the sheet row
    column: str
    reason: str


@dataclass
class ImportReport:
    kind: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)  # the first KEPT_ERRORS of them
    error_count: int = 0
    refused: int = 0  # how many rows are bad
    rows: int = 0
    source: str = ""
    header_row: int = 1
    geocoded: Counter[str] = field(default_factory=Counter)
    asked_geocoder: int = 0
    # Numbers that cannot take an SMS (told by a short call instead): elders with no mobile
    # among their numbers, and emergency contacts on a landline.
    landline_only_elders: int = 0
    landline_contacts: int = 0
    # Header cells that name no column ("did you mean …?"): read past, but worth a look.
    header_notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error_count

    def settle(self, found: list[RowError], on_error: Callable[[RowError], None] | None) -> None:
        """Count a chunk's errors, hand each to `on_error` and keep the first few."""
        self.error_count += len(found)
        self.refused += len({e.row for e in found})
        if on_error is not None:
            for error in found:
                on_error(error)
        self.errors += found[: max(KEPT_ERRORS - len(self.errors), 0)]


def import_file(
    session: Session,
    kind: str,
    path: Path,
    now: datetime,
    *,
    dry_run: bool = False,
    skip_bad_rows: bool = False,
    policy: Policy | None = None,
    geocoder: Geocoder | None = None,
    area_code: str = DEFAULT_AREA_CODE,
    actor: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    limits: ImportLimits | None = None,
    on_error: Callable[[RowError], None] | None = None,
) -> ImportReport:
    """Validate an enrollment file and upsert its rows; flush, never commit.

    By default a file with any bad row changes nothing; with `skip_bad_rows` the good rows are
    imported and the bad still reported; with `dry_run` nothing is written either way. Blank
    coordinates are found by `geocoder`. Changes are audited as `actor` (default
    "import:FILENAME"). `progress(done, total)` is called after each chunk of rows, and
    `on_error(error)` for every bad row and column, in order, as each chunk is done.
    Raise ImportFileError if the file as a whole cannot be read or passes one of `limits`;
    nothing is written then.
    A caching geocoder's new answers are added to the session whether the file is refused or not.
    """
    if kind not in COLUMNS:
        raise ImportFileError(f"unknown kind {kind!r}: use one of {', '.join(COLUMNS)}")
    path = Path(path)
    context = _Context(session, now, actor or f"import:{path.name}", geocoder, area_code)
    if kind == "elders":
        importer: _Importer = _ElderImporter(
            context, (policy or load_policy()).versions[-1].classes
        )
    elif kind == "providers":
        importer = _ProviderImporter(context)
    else:
        importer = _OfferingImporter(context)
    report = ImportReport(kind)
    savepoint = None if dry_run else session.begin_nested()
    try:
        rows = open_rows(path, kind, COLUMNS[kind], OPTIONAL_COLUMNS[kind], limits)
        with rows as source:
            report.source, report.header_row = source.description, source.header_line
            report.header_notes = list(source.header_notes)
            importer.absent = source.absent
            order = COLUMNS[kind].index
            for chunk in _chunks(source, CHUNK_ROWS):
                report.rows += len(chunk)
                # The importers add this chunk's errors to the report; take them off to settle.
                kept = len(report.errors)
                importer.run(chunk, report, write=not dry_run and (skip_bad_rows or report.ok))
                found = report.errors[kept:]
                del report.errors[kept:]
                found.sort(key=lambda e: (e.row, order(e.column)))
                report.settle(found, on_error)
                if progress is not None:
                    progress(source.position(), source.total)
        if savepoint is not None and report.error_count and not skip_bad_rows:
            savepoint.rollback()
        elif savepoint is not None:
            savepoint.commit()
    except BaseException:
        if savepoint is not None and savepoint.is_active:
            savepoint.rollback()
        raise
    if not dry_run and (save := getattr(geocoder, "save", None)):
        save()
    if report.error_count and not skip_bad_rows:
        report.added = report.updated = report.unchanged = 0
    report.asked_geocoder = getattr(geocoder, "asked", 0)
    return report


@dataclass
class _Context:
    session: Session
    now: datetime
    actor: str
    geocoder: Geocoder | None
    area_code: str

    def audit(self, entity: str, key: str, changes: dict) -> None:
        self.session.add(
            AuditEntry(
                created_at=self.now, actor=self.actor, entity=entity, entity_key=key,
                action="update", changes=changes,
            )
        )  # fmt: skip


class _Importer:
    """Parse a chunk of rows, check keys across the file, then apply the good records."""

    kind: str

    def __init__(self, context: _Context, parse: Callable):
        self.context = context
        self.parse = parse
        self.columns = COLUMNS[self.kind]
        self.key_columns = KEY_COLUMNS[self.kind]
        self.first_row_of: dict[tuple[str, ...], int] = {}
        # Columns the file does not have: an update keeps what is stored for them.
        self.absent: frozenset[str] = frozenset()

    def run(self, rows: list[SourceRow], report: ImportReport, *, write: bool) -> None:
        good = []
        for row in rows:
            record, problems = self.parse(row.values)
            # A column the reader already found wrong is not parsed again.
            flagged = {column for column, _ in row.problems}
            problems = row.problems + [p for p in problems if p[0] not in flagged]
            if duplicate := self._duplicate(row):
                problems.append(duplicate)
            problems.sort(key=lambda problem: self.columns.index(problem[0]))
            report.errors += [RowError(row.line, column, reason) for column, reason in problems]
            if record is not None and not problems:
                good.append((row.line, record))
        self.apply(good, report, write=write)

    def apply(self, records: list, report: ImportReport, *, write: bool) -> None:
        raise NotImplementedError

    def _duplicate(self, row: SourceRow) -> tuple[str, str] | None:
        # ID numbers compare upper-cased (a trailing x is an X); codes compare as written.
        key = tuple(
            row.values[c].upper() if c == "id_number" else row.values[c] for c in self.key_columns
        )
        if not all(key):
            return None
        first = self.first_row_of.setdefault(key, row.line)
        if first == row.line:
            return None
        columns = "+".join(self.key_columns)
        return self.key_columns[-1], f"duplicate {columns}: rows {first} and {row.line}"

    def geocode(
        self, pending: list[tuple[int, ElderRecord | ProviderRecord]], report: ImportReport
    ) -> None:
        """Fill in blank coordinates through the geocoder; name every row it cannot place."""
        geocoder = self.context.geocoder
        if not pending:
            return
        if geocoder is None:
            reason = "is blank and no geocoder is configured: give latitude and longitude"
            report.errors += [RowError(line, "latitude", reason) for line, _ in pending]
            return
        queries = [
            GeocodeQuery(r.address, getattr(r, "street", ""), getattr(r, "community", ""))
            for _, r in pending
        ]
        if prefetch := getattr(geocoder, "prefetch", None):
            prefetch(queries)
        for (line, record), query in zip(pending, queries, strict=True):
            try:
                place = geocoder.geocode(query)
            except GeocoderUnavailable as exc:
                report.errors.append(RowError(line, "address", f"the geocoder failed: {exc}"))
                continue
            if place is None:
                report.errors.append(RowError(line, "address", (
                    f"cannot be geocoded: the {geocoder.name} geocoder knows neither this "
                    "address nor its community; give latitude and longitude"
                )))  # fmt: skip
            elif not in_china(place.latitude, place.longitude):
                report.errors.append(RowError(line, "address", (
                    f"the {geocoder.name} geocoder placed it outside China "
                    f"({place.latitude:g}, {place.longitude:g}); give latitude and longitude"
                )))  # fmt: skip
            else:
                record.latitude, record.longitude = place.latitude, place.longitude
                report.geocoded[place.precision] += 1


class _ElderImporter(_Importer):
    kind = "elders"

    def __init__(self, context: _Context, classes: Collection[str]):
        today = local(context.now).date()
        super().__init__(
            context,
            partial(parse_elder, classes=classes, area_code=context.area_code, today=today),
        )

    def apply(
        self, records: list[tuple[int, ElderRecord]], report: ImportReport, *, write: bool
    ) -> None:
        stored = _stored_elders(self.context.session, [r.id_number for _, r in records])
        pending = []
        for line, record in records:
            old = stored.get(record.id_number)
            if old is not None and self.absent:
                record.keep_stored(old.values, old.phones, old.contacts, self.absent)
            if record.latitude is not None:
                continue
            if old and old.values["address"] == record.address and old.values["latitude"]:
                # The address has not moved: keep the coordinates it already has.
                record.latitude, record.longitude = old.values["latitude"], old.values["longitude"]
            else:
                pending.append((line, record))
        self.geocode(pending, report)
        added, updated = [], []
        for _, record in records:
            if record.latitude is None:
                continue
            if not any(is_mobile(phone) for phone, _ in record.phones):
                report.landline_only_elders += 1
            report.landline_contacts += sum(not is_mobile(phone) for _, phone in record.emergency_contacts)
            old = stored.get(record.id_number)
            if old is None:
                added.append(record)
            elif changes := old.changes(record):
                updated.append((old.id, record, changes))
            else:
                report.unchanged += 1
        report.added += len(added)
        report.updated += len(updated)
        if write:
            _insert_elders(self.context.session, added, self.context.now)
            self._update(updated)
            first_assessments(
                self.context.session, [r.id_number for r in added] + [r.id_number for _, r, _ in updated],
                today=local(self.context.now).date(), now=self.context.now, recorded_by=self.context.actor,
            )  # fmt: skip

    def _update(self, updated: list[tuple[int, ElderRecord, dict]]) -> None:
        session = self.context.session
        elders = {
            e.id: e
            for e in session.scalars(
                select(Elder)
                .where(Elder.id.in_([elder_id for elder_id, _, _ in updated]))
                .options(selectinload(Elder.phones), selectinload(Elder.emergency_contacts))
            )
        }
        for elder_id, record, changes in updated:
            elder = elders[elder_id]
            for name in ELDER_FIELDS:
                setattr(elder, name, getattr(record, name))
            replace_phones(elder, record.phones)
            replace_contacts(elder, record.emergency_contacts)
            self.context.audit("elder", mask_id_number(record.id_number), changes)
        session.flush()


class _ProviderImporter(_Importer):
    kind = "providers"

    def __init__(self, context: _Context):
        super().__init__(context, partial(parse_provider, area_code=context.area_code))
        self.phone_rows: dict[str, tuple[int, str]] = {}

    def apply(
        self, records: list[tuple[int, ProviderRecord]], report: ImportReport, *, write: bool
    ) -> None:
        session = self.context.session
        codes = [r.code for _, r in records]
        existing = {
            p.code: p for p in session.scalars(select(Provider).where(Provider.code.in_(codes)))
        }
        phone_owners = dict(
            session.execute(
                select(Provider.dispatch_phone, Provider.code).where(
                    Provider.dispatch_phone.in_([r.dispatch_phone for _, r in records])
                )
            ).all()
        )
        checked, pending = [], []
        for line, record in records:
            first = self.phone_rows.setdefault(record.dispatch_phone, (line, record.code))
            owner = phone_owners.get(record.dispatch_phone)
            if first[1] != record.code:
                report.errors.append(RowError(line, "dispatch_phone", (
                    f"duplicate dispatch_phone: rows {first[0]} and {line} (providers answer "
                    "offers from it, so it must be one provider's)"
                )))  # fmt: skip
                continue
            if owner is not None and owner != record.code:
                report.errors.append(RowError(
                    line, "dispatch_phone", f"already the dispatch phone of provider {owner}"
                ))  # fmt: skip
                continue
            old = existing.get(record.code)
            if record.latitude is None and old is not None and old.address == record.address:
                record.latitude, record.longitude = old.latitude, old.longitude
            elif record.latitude is None:
                pending.append((line, record))
            checked.append(record)
        self.geocode(pending, report)
        for record in checked:
            if record.latitude is None:
                continue
            values = asdict(record)
            provider = existing.get(record.code)
            if provider is None:
                report.added += 1
                if write:
                    session.add(
                        Provider(**values, contract_status="active", created_at=self.context.now)
                    )
                continue
            changes = {
                name: [_jsonable(getattr(provider, name)), _jsonable(value)]
                for name, value in values.items()
                if getattr(provider, name) != value
            }
            if not changes:
                report.unchanged += 1
                continue
            report.updated += 1
            if write:
                for name, value in values.items():
                    setattr(provider, name, value)
                self.context.audit("provider", record.code, changes)
        if write:
            session.flush()


class _OfferingImporter(_Importer):
    kind = "offerings"

    def __init__(self, context: _Context):
        session = context.session
        self.items = {i.code: i for i in session.scalars(select(Item))}
        self.providers = dict(session.execute(select(Provider.code, Provider.id)).all())
        super().__init__(
            context, partial(parse_offering, provider_codes=self.providers, items=self.items)
        )

    def apply(
        self, records: list[tuple[int, OfferingRecord]], report: ImportReport, *, write: bool
    ) -> None:
        session = self.context.session
        provider_ids = {self.providers[r.provider_code] for _, r in records}
        existing = {
            (o.provider_id, o.item_id): o
            for o in session.scalars(select(Offering).where(Offering.provider_id.in_(provider_ids)))
        }
        for _, record in records:
            key = (self.providers[record.provider_code], self.items[record.item_code].id)
            offering = existing.get(key)
            if offering is None:
                report.added += 1
                if write:
                    session.add(
                        Offering(provider_id=key[0], item_id=key[1], price_fen=record.price_fen)
                    )
            elif offering.price_fen != record.price_fen:
                report.updated += 1
                if write:
                    old, new = fen_to_yuan(offering.price_fen), fen_to_yuan(record.price_fen)
                    changes = {"price_yuan": [old, new]}
                    offering.price_fen = record.price_fen
                    self.context.audit(
                        "offering", f"{record.provider_code}/{record.item_code}", changes
                    )
            else:
                report.unchanged += 1
        if write:
            session.flush()


@dataclass
class _StoredElder:
    """An enrolled elder as the database has it, for comparing with a row."""

    id: int
    values: dict
    phones: set[tuple[str, bool]] = field(default_factory=set)
    contacts: set[tuple[str, str]] = field(default_factory=set)

    def changes(self, record: ElderRecord) -> dict:
        """Each changed field as [old, new]; empty when the row says what is stored."""
        changes = {
            name: [_jsonable(self.values[name]), _jsonable(getattr(record, name))]
            for name in ELDER_FIELDS
            if self.values[name] != getattr(record, name)
        }
        if self.phones != set(record.phones):
            changes["phones"] = [_phone_text(self.phones), _phone_text(record.phones)]
        if self.contacts != set(record.emergency_contacts):
            changes["emergency_contacts"] = [
                sorted(f"{n} {p}" for n, p in self.contacts),
                sorted(f"{n} {p}" for n, p in set(record.emergency_contacts)),
            ]
        return changes


def _stored_elders(session: Session, id_numbers: list[str]) -> dict[str, _StoredElder]:
    stored: dict[str, _StoredElder] = {}
    columns = [getattr(Elder, name) for name in ELDER_FIELDS]
    for batch in _batches(id_numbers):
        for row in session.execute(
            select(Elder.id, Elder.id_number, *columns).where(Elder.id_number.in_(batch))
        ):
            stored[row.id_number] = _StoredElder(
                row.id, {n: getattr(row, n) for n in ELDER_FIELDS}
            )
    by_id = {s.id: s for s in stored.values()}
    for batch in _batches(list(by_id)):
        for elder_id, phone, is_primary in session.execute(
            select(ElderPhone.elder_id, ElderPhone.phone, ElderPhone.is_primary).where(
                ElderPhone.elder_id.in_(batch)
            )
        ):
            by_id[elder_id].phones.add((phone, is_primary))
        for elder_id, name, phone in session.execute(
            select(EmergencyContact.elder_id, EmergencyContact.name, EmergencyContact.phone).where(
                EmergencyContact.elder_id.in_(batch)
            )
        ):
            by_id[elder_id].contacts.add((name, phone))
    return stored


def _insert_elders(session: Session, records: list[ElderRecord], now: datetime) -> None:
    """Insert new elders with their phones and contacts in a few statements, not row by row."""
    if not records:
        return
    session.execute(insert(Elder), [r.columns() | {"created_at": now} for r in records])
    ids: dict[str, int] = {}
    for batch in _batches([r.id_number for r in records]):
        query = select(Elder.id_number, Elder.id).where(Elder.id_number.in_(batch))
        ids.update((number, elder_id) for number, elder_id in session.execute(query))
    phones = [
        {"elder_id": ids[r.id_number], "phone": phone, "is_primary": is_primary}
        for r in records
        for phone, is_primary in r.phones
    ]
    contacts = [
        {"elder_id": ids[r.id_number], "name": name, "phone": phone}
        for r in records
        for name, phone in dict.fromkeys(r.emergency_contacts)
    ]
    session.execute(insert(ElderPhone), phones)
    if contacts:
        session.execute(insert(EmergencyContact), contacts)


def _chunks(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    chunk: list[SourceRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def replace_phones(elder: Elder, phones: list[tuple[str, bool]]) -> None:
    # Keep the rows of numbers that stay: deleting and re-inserting the same number in one
    # flush would break the (elder, phone) unique constraint, as inserts run before deletes.
    wanted = dict(phones)
    for row in list(elder.phones):
        if row.phone in wanted:
            row.is_primary = wanted.pop(row.phone)
        else:
            elder.phones.remove(row)
    elder.phones.extend(ElderPhone(phone=p, is_primary=primary) for p, primary in wanted.items())


def replace_contacts(elder: Elder, contacts: list[tuple[str, str]]) -> None:
    wanted = list(dict.fromkeys(contacts))
    for row in list(elder.emergency_contacts):
        if (row.name, row.phone) in wanted:
            wanted.remove((row.name, row.phone))
        else:
            elder.emergency_contacts.remove(row)
    elder.emergency_contacts.extend(EmergencyContact(name=n, phone=p) for n, p in wanted)


def _phone_text(phones: Iterable[tuple[str, bool]]) -> list[str]:
    """Phones for the audit log: the primary first."""
    return [p for p, primary in sorted(phones, key=lambda x: (not x[1], x[0]))]


def _jsonable(value):
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value


def _batches(values: list) -> Iterable[list]:
    for start in range(0, len(values), _BATCH):
        yield values[start : start + _BATCH]
