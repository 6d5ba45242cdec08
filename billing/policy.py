"""Subsidy policy: who gets what share of a visit's price, up to a monthly cap."""

import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from billing.money import yuan_to_fen
from billing.policy_tables import PARSERS
from billing.sources import Funding, SourcesError, line_locator, read_funding

DEFAULT_POLICY_PATH = Path(__file__).with_name("policy.toml")

EXTRA_TABLES = tuple(PARSERS)  # [version.hourly], [version.age]: see billing.policy_tables
DISABILITY_LEVELS = ("能力完好", "轻度失能", "中度失能", "重度失能", "完全失能")


class PolicyError(ValueError):
    """The policy file is malformed."""


class UnknownElderClass(ValueError):
    """The elder's class is not one the policy version knows."""


class UnknownDisabilityLevel(ValueError):
    """The disability level is not a GB/T 42195-2022 level."""


@dataclass(frozen=True)
class Entitlement:
    """What one class or disability level pays: a share of the price, up to a monthly cap."""

    share_percent: int
    monthly_cap_fen: int
    source: str


@dataclass(frozen=True)
class PolicyVersion:
    """The policy in force from one date."""

    name: str
    effective_from: date
    rollover: bool
    classes: dict[str, Entitlement]
    disability: dict[str, Entitlement]
    free_items: frozenset[str]
    # The version's own tables other modules read with their own parsers: [version.hourly]
    # (billing.duration) and [version.age] (billing.eligibility).
    tables: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # Funding sources and their order; None for a version written before sources, which pays
    # the best of class and disability entitlement from one monthly pot.
    funding: Funding | None = None

    def entitlements_for(self, elder_class: str, disability_level: str) -> list[Entitlement]:
        """Return the elder's class entitlement, then their disability one if the level has one."""
        if not elder_class:
            raise UnknownElderClass("elder_class: the elder has no subsidy class")
        if elder_class not in self.classes:
            raise UnknownElderClass(
                f"elder_class: {elder_class!r} is not a class of policy version {self.name!r}"
            )
        if disability_level and disability_level not in DISABILITY_LEVELS:
            raise UnknownDisabilityLevel(f"unknown disability level {disability_level!r}")
        found = [self.classes[elder_class]]
        if disability_level in self.disability:
            found.append(self.disability[disability_level])
        return found

    def allowance_fen(self, elder_class: str, disability_level: str) -> int:
        """The largest monthly cap among the elder's entitlements: their one monthly pot."""
        return max(e.monthly_cap_fen for e in self.entitlements_for(elder_class, disability_level))

    def fingerprint(self) -> str:
        """A digest of everything the version says, to notice a version edited after a close."""
        content = {
            "name": self.name, "effective_from": self.effective_from.isoformat(),
            "rollover": self.rollover, "free_items": sorted(self.free_items),
            "classes": {k: [e.share_percent, e.monthly_cap_fen] for k, e in self.classes.items()},
            "disability": {
                k: [e.share_percent, e.monthly_cap_fen] for k, e in self.disability.items()
            },
        }
        # Tables that only restate the defaults leave the digest as it was before they existed.
        if tables := {k: t for k, t in self.tables.items() if PARSERS[k](t) != PARSERS[k](None)}:
            content["tables"] = tables
        if self.funding is not None:  # absent from older versions: their digests stay the same
            content["funding"] = self.funding.as_data()
        text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Policy:
    """Every policy version, oldest first."""

    versions: tuple[PolicyVersion, ...]

    def version_for(self, day: date) -> PolicyVersion:
        """Return the version in force on the given day."""
        in_force = [v for v in self.versions if v.effective_from <= day]
        if not in_force:
            raise ValueError(f"no subsidy policy version is in force on {day.isoformat()}")
        return max(in_force, key=lambda v: v.effective_from)

    def source_codes(self) -> list[str]:
        """Every funding source any version names (and those older versions' charges name)."""
        codes = {"unsplit"}
        for version in self.versions:
            if version.funding is None:
                codes.update((*LEGACY_SOURCES.values(), "city_free"))
            else:
                codes.update(version.funding.sources)
        return sorted(codes)

    def source_names(self) -> dict[str, str]:
        """Each source's name for people (the newest version's wording)."""
        names = {"unsplit": "未拆分（资金来源启用前）", "city_class": "市级分类补贴",
                 "national_voucher": "国家居家养老服务消费补贴", "city_free": "政府埋单（免费项目）"}
        for version in self.versions:
            if version.funding is not None:
                names.update({c: s.name for c, s in version.funding.sources.items()})
        return names

    def version_for_month(self, month: str) -> PolicyVersion:
        """Return the version in force for a month (`YYYY-MM`): versions start on a first day."""
        year, number = month.split("-")
        return self.version_for(date(int(year), int(number), 1))


@dataclass(frozen=True)
class Charge:
    """A visit's price split into subsidy and co-pay; `source` names the entitlement used.

    `parts` splits the subsidy across funding sources, ((source, fen), …) in paying order;
    left empty, the whole subsidy is `source`'s.
    """

    price_fen: int
    subsidy_fen: int
    copay_fen: int
    source: str
    parts: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if min(self.price_fen, self.subsidy_fen, self.copay_fen) < 0:
            raise ValueError(f"negative amount in {self}")
        if self.subsidy_fen + self.copay_fen != self.price_fen:
            raise ValueError(f"subsidy and co-pay do not add up to the price in {self}")
        if not self.parts and self.subsidy_fen:
            object.__setattr__(self, "parts", ((self.source, self.subsidy_fen),))
        if sum(fen for _, fen in self.parts) != self.subsidy_fen or any(
                fen <= 0 for _, fen in self.parts):
            raise ValueError(f"the sources do not add up to the subsidy in {self}")


LEGACY_SOURCES = {"class": "city_class", "disability": "national_voucher"}


def legacy_parts(charge: Charge) -> Charge:
    """Name the funding source of a charge split under a version written before sources."""
    if not charge.subsidy_fen:
        return charge
    source = LEGACY_SOURCES.get(charge.source.split(":")[0], charge.source)
    return Charge(charge.price_fen, charge.subsidy_fen, charge.copay_fen, charge.source,
                  ((source, charge.subsidy_fen),))


def split_charge(
    price_fen: int,
    version: PolicyVersion,
    elder_class: str,
    disability_level: str,
    used_this_month_fen: int,
    carried_over_fen: int = 0,
) -> Charge:
    """Split a visit's price into subsidy and co-pay under the elder's monthly cap.

    A zero price (a free item) gives all zeros. Otherwise each entitlement of the elder (their
    class, and their disability level if it has one) offers
    min(price * share_percent // 100, max(0, cap - used_this_month_fen)): the share rounds down
    to the fen. The largest offer wins, the class on a tie; the co-pay is the rest.
    `used_this_month_fen` is the subsidy already paid this month under any entitlement: one
    monthly pot, so the larger cap bounds it. Under a version with rollover,
    `carried_over_fen` (last month's unused allowance) raises every cap by that much.
    """
    if price_fen < 0:
        raise ValueError(f"price_fen: the price must not be negative, got {price_fen}")
    if used_this_month_fen < 0:
        raise ValueError(
            f"used_this_month_fen: subsidy used this month must not be negative, "
            f"got {used_this_month_fen}"
        )
    if carried_over_fen < 0:
        raise ValueError(f"carried_over_fen: must not be negative, got {carried_over_fen}")
    entitlements = version.entitlements_for(elder_class, disability_level)
    if price_fen == 0:
        return Charge(0, 0, 0, "free")

    def subsidy(e: Entitlement) -> int:
        return min(
            price_fen * e.share_percent // 100,
            max(0, e.monthly_cap_fen + carried_over_fen - used_this_month_fen),
        )

    best = max(entitlements, key=subsidy)
    return Charge(price_fen, subsidy(best), price_fen - subsidy(best), best.source)


def load_policy(path: str | Path | None = None) -> Policy:
    """Load the subsidy policy from TOML; default to the policy.toml beside this module."""
    path = Path(path) if path is not None else DEFAULT_POLICY_PATH
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PolicyError(f"{path}: not valid TOML: {e}") from e
    _check_keys(data, f"{path}", {"version"}, {"rounding"})
    raw = data["version"]
    if not isinstance(raw, list) or not raw:
        raise PolicyError(f"{path}: version: needs at least one [[version]] table")
    versions = sorted(
        (_read_version(v, path, i, text) for i, v in enumerate(raw)),
        key=lambda v: v.effective_from,
    )
    for earlier, later in itertools.pairwise(versions):
        if earlier.effective_from == later.effective_from:
            raise PolicyError(
                f"{path}: version {later.name!r}: effective_from: "
                f"{earlier.name!r} also starts on {later.effective_from}"
            )
    if len({v.name for v in versions}) != len(versions):
        raise PolicyError(f"{path}: version: names must be unique")
    return Policy(tuple(versions))


def _check_keys(table: Any, where: str, required: set[str], optional: set[str]) -> None:
    if not isinstance(table, dict):
        raise PolicyError(f"{where}: must be a table")
    if unknown := sorted(table.keys() - required - optional):
        raise PolicyError(f"{where}: {', '.join(unknown)}: unknown field")
    if missing := sorted(required - table.keys()):
        raise PolicyError(f"{where}: {', '.join(missing)}: missing")


def _typed(table: dict, key: str, where: str, kind: type, description: str) -> Any:
    value = table[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PolicyError(f"{where}: {key}: must be {description}, not {value!r}")
    return value


def _read_version(data: Any, path: Path, index: int, text: str = "") -> PolicyVersion:
    where = f"{path}: version #{index + 1}"
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        where = f"{path}: version {data['name']!r}"
    with_sources = isinstance(data, dict) and "source" in data
    _check_keys(
        data, where, {"name", "effective_from", "rollover"} | ({"order", "elder_classes"}
                                                              if with_sources else {"class"}),
        ({"free_items", "source", "free"} if with_sources else {"disability", "free_items"})
        | set(EXTRA_TABLES),
    )
    name = _typed(data, "name", where, str, "a string")
    effective_from = data["effective_from"]
    if not isinstance(effective_from, date) or isinstance(effective_from, datetime):
        raise PolicyError(f"{where}: effective_from: must be a date like 2026-01-01")
    if effective_from.day != 1:
        # A month's charges use one version: the one in force on its first day.
        raise PolicyError(f"{where}: effective_from: must be the first day of a month, "
                          f"not {effective_from.isoformat()}")
    rollover = _typed(data, "rollover", where, bool, "true or false")
    classes = _read_entitlements(data, "class", "code", where)
    funding = None
    if with_sources:
        locate = line_locator(text, str(path), index)
        try:
            funding = read_funding(data, locate, DISABILITY_LEVELS)
        except SourcesError as e:
            name = data["name"] if isinstance(data.get("name"), str) else f"#{index + 1}"
            head, _, rest = str(e).partition(": ")
            raise PolicyError(f"{head}: version {name!r}: {rest}") from None
        labels = data["elder_classes"]
        if not isinstance(labels, list) or not labels or not all(
                isinstance(c, str) and c for c in labels) or len(set(labels)) != len(labels):
            raise PolicyError(f"{where}: elder_classes: must list each class an elder may have, "
                              f"once")
        # The labels the enrollment file may carry; what each is paid is in the sources.
        classes = {c: Entitlement(0, 0, f"class:{c}") for c in labels}
        for source in funding.sources.values():
            for tier in source.tiers:
                if stray := sorted((tier.rule.classes or set()) - set(labels)):
                    raise PolicyError(f"{where}: source {source.code!r}: eligibility: class "
                                      f"{stray[0]!r} is not in elder_classes")
    elif not classes:
        raise PolicyError(f"{where}: class: needs at least one [[version.class]] table")
    disability = _read_entitlements(data, "disability", "level", where)
    for level in disability:
        if level not in DISABILITY_LEVELS:
            raise PolicyError(f"{where}: disability: {level!r} is not a GB/T 42195-2022 level")
    free_items = (
        _typed(data, "free_items", where, list, "a list of item codes")
        if "free_items" in data
        else []
    )
    if not all(isinstance(code, str) for code in free_items):
        raise PolicyError(f"{where}: free_items: must be a list of item codes")
    tables = {}
    for key in EXTRA_TABLES:
        if key in data:
            tables[key] = _typed(data, key, where, dict, f"a [version.{key}] table")
            try:
                PARSERS[key](tables[key])
            except ValueError as e:
                raise PolicyError(f"{where}: {key}: {e}") from e
    return PolicyVersion(name, effective_from, rollover, classes, disability, frozenset(free_items),
                         tables=tables, funding=funding)


def _read_entitlements(data: dict, kind: str, key: str, where: str) -> dict[str, Entitlement]:
    raw = (
        _typed(data, kind, where, list, f"an array of [[version.{kind}]] tables")
        if kind in data
        else []
    )
    found: dict[str, Entitlement] = {}
    for i, row in enumerate(raw):
        at = f"{where}: {kind} #{i + 1}"
        if isinstance(row, dict) and isinstance(row.get(key), str):
            at = f"{where}: {kind} {row[key]!r}"
        _check_keys(row, at, {key, "share_percent", "monthly_cap_yuan"}, set())
        name = _typed(row, key, at, str, "a string")
        if name in found:
            raise PolicyError(f"{at}: {key}: appears twice")
        share = _typed(row, "share_percent", at, int, "a whole number")
        if not 0 <= share <= 100:
            raise PolicyError(f"{at}: share_percent: must be between 0 and 100")
        cap_text = _typed(row, "monthly_cap_yuan", at, str, 'a string like "600.00"')
        try:
            cap = yuan_to_fen(cap_text)
        except ValueError as e:
            raise PolicyError(f"{at}: monthly_cap_yuan: {e}") from e
        if cap < 0:
            raise PolicyError(f"{at}: monthly_cap_yuan: must not be negative")
        found[name] = Entitlement(share, cap, f"{kind}:{name}")
    return found
