"""Funding sources: who pays which part of a visit's price, in the policy's order.

A policy version names its sources (long-term care insurance, the national voucher, the city's
class subsidy, age vouchers…), each with tiers of (eligibility rule, share of the price, monthly
cap), and the order in which they pay. The elder pays whatever the sources leave. Free items are
paid whole by the version's free-items source, the elder paying nothing. Rules read only the
elder's facts on the visit's day (`billing.eligibility.ElderFacts`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ELDER = "elder"  # the source of the co-pay
ALL = "all"  # the provider's revenue leg: the whole price, whoever pays it
UNSPLIT = "unsplit"  # postings booked before funding sources existed
NO_CAP = None

RULE_KEYS = {"everyone", "classes", "disability_levels", "min_age", "max_age", "insured"}


@dataclass(frozen=True)
class Rule:
    """Who a tier admits: every key given must hold (`everyone = true` admits all)."""

    everyone: bool = False
    classes: frozenset[str] | None = None
    disability_levels: frozenset[str] | None = None
    min_age: int | None = None
    max_age: int | None = None
    insured: bool | None = None

    def admits(self, facts: Any) -> bool:
        if self.everyone:
            return True
        return ((self.classes is None or facts.elder_class in self.classes)
                and (self.disability_levels is None
                     or facts.disability_level in self.disability_levels)
                and (self.min_age is None or facts.age >= self.min_age)
                and (self.max_age is None or facts.age <= self.max_age)
                and (self.insured is None or facts.insured == self.insured))

    def as_data(self) -> dict:
        return {k: (sorted(v) if isinstance(v, frozenset) else v)
                for k, v in self.__dict__.items() if v is not None and v is not False}


@dataclass(frozen=True)
class Tier:
    rule: Rule
    share_percent: int
    monthly_cap_fen: int | None  # None: no cap (only the free-items source)


@dataclass(frozen=True)
class Source:
    """A budget that pays part of a visit: the first of its tiers that admits the elder applies."""

    code: str
    name: str
    tiers: tuple[Tier, ...]

    def tier_for(self, facts: Any) -> Tier | None:
        return next((t for t in self.tiers if t.rule.admits(facts)), None)


@dataclass(frozen=True)
class Funding:
    """A version's sources, the order the paid items draw on them, and the free-items rule."""

    sources: dict[str, Source]
    order: tuple[str, ...]
    free_source: str
    free_counts_against_cap: bool

    def cap_for(self, code: str, facts: Any) -> int | None:
        """The source's monthly cap for the elder, 0 if no tier admits them."""
        tier = self.sources[code].tier_for(facts)
        return 0 if tier is None else tier.monthly_cap_fen

    def as_data(self) -> dict:
        return {
            "order": list(self.order), "free_source": self.free_source,
            "free_counts_against_cap": self.free_counts_against_cap,
            "sources": {c: {"name": s.name, "tiers": [
                [t.rule.as_data(), t.share_percent, t.monthly_cap_fen] for t in s.tiers]}
                for c, s in self.sources.items()},
        }


def split_by_sources(price_fen: int, funding: Funding, facts: Any, *, is_free: bool,
                     used: Mapping[str, int], carried: Mapping[str, int] | None = None
                     ) -> tuple[tuple[tuple[str, int], ...], int]:
    """Split a price across the sources in order; return ((source, fen), …) and the co-pay.

    Each source admitting the elder pays price * share // 100 (down to the fen), at most what
    is left of its monthly cap (raised by `carried`, last month's unused part under rollover)
    and at most what earlier sources left. A free item is paid whole by the free-items source;
    when free items count against the cap, the ordered sources pay it first, as any item, and
    the free-items source pays what they leave.
    """
    carried = carried or {}
    parts: list[tuple[str, int]] = []
    left = price_fen
    if not is_free or funding.free_counts_against_cap:
        for code in funding.order:
            tier = funding.sources[code].tier_for(facts)
            if tier is None or left == 0:
                continue
            pay = min(price_fen * tier.share_percent // 100, left)
            if tier.monthly_cap_fen is not None:
                room = tier.monthly_cap_fen + carried.get(code, 0) - used.get(code, 0)
                pay = min(pay, max(0, room))
            if pay > 0:
                parts.append((code, pay))
                left -= pay
    if is_free and left > 0:
        parts.append((funding.free_source, left))
        left = 0
    return tuple(parts), left


# --- reading the [[version.source]] tables -------------------------------------------------

Locate = Callable[..., str]  # locate(source=i, tier=j, key=k) -> "path:line"


class SourcesError(ValueError):
    """A funding-source table that cannot work; the message starts with file:line."""


def read_funding(data: dict, locate: Locate, disability_levels: tuple[str, ...]) -> Funding:
    """Read a version's `source`, `order` and `free` keys; refuse what cannot work."""
    raw = data["source"]
    if not isinstance(raw, list) or not raw:
        raise SourcesError(f"{locate(key='source')}: source: needs [[version.source]] tables")
    sources: dict[str, Source] = {}
    for i, row in enumerate(raw):
        source = _read_source(row, lambda key=None, tier=None, i=i: locate(source=i, tier=tier,
                                                                            key=key),
                              disability_levels)
        if source.code in sources:
            raise SourcesError(f"{locate(source=i, key='code')}: source {source.code!r}: "
                               f"appears twice")
        sources[source.code] = source
    order = data.get("order")
    if not isinstance(order, list) or not order or not all(isinstance(c, str) for c in order):
        raise SourcesError(f"{locate(key='order')}: order: must list the sources that pay, "
                           f"first to last")
    if order[-1] == ELDER:
        order = order[:-1]
    seen: set[str] = set()
    for code in order:
        if code == ELDER:
            raise SourcesError(f"{locate(key='order')}: order: {ELDER!r} pays last, after "
                               f"every source")
        if code not in sources:
            raise SourcesError(f"{locate(key='order')}: order: {code!r} is not a "
                               f"[[version.source]] of this version")
        if code in seen:
            raise SourcesError(f"{locate(key='order')}: order: {code!r} appears twice (a "
                               f"source pays once, in one place of the order)")
        seen.add(code)
    free = data.get("free", {})
    if not isinstance(free, dict) or set(free) - {"source", "counts_against_cap"}:
        raise SourcesError(f"{locate(key='free')}: free: takes source and counts_against_cap")
    free_source = free.get("source")
    if free_source not in sources:
        raise SourcesError(f"{locate(key='free.source')}: free: source: must name the "
                           f"[[version.source]] that pays free items, not {free_source!r}")
    if free_source in seen:
        raise SourcesError(f"{locate(key='free.source')}: free: source {free_source!r} must not be in "
                           f"the order too, or it would pay for every item")
    tiers = sources[free_source].tiers
    if (len(tiers) != 1 or not tiers[0].rule.everyone or tiers[0].share_percent != 100
            or tiers[0].monthly_cap_fen is not None):
        raise SourcesError(f"{locate(source=list(sources).index(free_source))}: source "
                           f"{free_source!r} pays free items whole: give it everyone = true, "
                           f"share_percent = 100 and no monthly cap")
    counts = free.get("counts_against_cap", False)
    if not isinstance(counts, bool):
        raise SourcesError(f"{locate(key='free.counts_against_cap')}: free: "
                           f"counts_against_cap: true or false")
    if unused := [c for c in sources if c not in seen and c != free_source]:
        raise SourcesError(f"{locate(key='order')}: order: source {unused[0]!r} is never used")
    return Funding(sources, tuple(order), free_source, counts)


def _read_source(row: Any, locate: Callable[..., str], levels: tuple[str, ...]) -> Source:
    if not isinstance(row, dict):
        raise SourcesError(f"{locate()}: source: must be a table")
    code = row.get("code")
    if not isinstance(code, str) or not code or code in (ELDER, ALL, UNSPLIT):
        raise SourcesError(f"{locate(key='code')}: source: code: must be a name other than "
                           f"{ELDER}, {ALL} and {UNSPLIT}, not {code!r}")
    at = f"source {code!r}"
    name = row.get("name", code)
    if not isinstance(name, str):
        raise SourcesError(f"{locate(key='name')}: {at}: name: must be a string")
    tier_keys = {"eligibility", "share_percent", "monthly_cap_yuan"}
    if unknown := sorted(set(row) - tier_keys - {"code", "name", "tier"}):
        raise SourcesError(f"{locate(key=unknown[0])}: {at}: {unknown[0]}: unknown field")
    if "tier" in row:
        if set(row) & tier_keys:
            raise SourcesError(f"{locate(key='tier')}: {at}: give either [[version.source.tier]] "
                               f"tables or one eligibility, share and cap, not both")
        raw = row["tier"]
        if not isinstance(raw, list) or not raw:
            raise SourcesError(f"{locate(key='tier')}: {at}: tier: needs at least one table")
        tiers = tuple(_read_tier(t, lambda key=None, j=j: locate(tier=j, key=key),
                                 f"{at} tier #{j + 1}", levels)
                      for j, t in enumerate(raw))
    else:
        tiers = (_read_tier({k: v for k, v in row.items() if k in tier_keys}, locate, at, levels),)
    return Source(code, name, tiers)


def _read_tier(row: Any, locate: Callable[..., str], at: str, levels: tuple[str, ...]) -> Tier:
    from billing.money import yuan_to_fen

    if not isinstance(row, dict):
        raise SourcesError(f"{locate()}: {at}: must be a table")
    if unknown := sorted(set(row) - {"eligibility", "share_percent", "monthly_cap_yuan"}):
        raise SourcesError(f"{locate(key=unknown[0])}: {at}: {unknown[0]}: unknown field")
    rule = row.get("eligibility")
    if not isinstance(rule, dict) or not rule:
        raise SourcesError(f"{locate(key='eligibility')}: {at}: has no eligibility rule (write "
                           f"eligibility = {{ everyone = true }} for a source open to all)")
    share = row.get("share_percent")
    if not isinstance(share, int) or isinstance(share, bool):
        raise SourcesError(f"{locate(key='share_percent')}: {at}: share_percent: must be a "
                           f"whole number, not {share!r}")
    if not 0 <= share <= 100:
        raise SourcesError(f"{locate(key='share_percent')}: {at}: share_percent: {share}% is "
                           f"over 100% of the price" if share > 100 else
                           f"{locate(key='share_percent')}: {at}: share_percent: must not be "
                           f"negative")
    cap = None
    if "monthly_cap_yuan" in row:
        try:
            cap = yuan_to_fen(row["monthly_cap_yuan"])
        except ValueError as e:
            raise SourcesError(f"{locate(key='monthly_cap_yuan')}: {at}: monthly_cap_yuan: "
                               f"{e}") from None
        if cap < 0:
            raise SourcesError(f"{locate(key='monthly_cap_yuan')}: {at}: monthly_cap_yuan: "
                               f"must not be negative")
    return Tier(_read_rule(rule, lambda: locate(key="eligibility"), at, levels), share, cap)


def _read_rule(rule: dict, locate: Callable[[], str], at: str, levels: tuple[str, ...]) -> Rule:
    where = f"{locate()}: {at}: eligibility"
    if unknown := sorted(set(rule) - RULE_KEYS):
        raise SourcesError(f"{where}: {unknown[0]}: unknown rule (rules: "
                           f"{', '.join(sorted(RULE_KEYS))})")
    values: dict[str, Any] = {}
    for key in ("everyone", "insured"):
        if key in rule:
            if not isinstance(rule[key], bool):
                raise SourcesError(f"{where}: {key}: must be true or false")
            values[key] = rule[key]
    if rule.get("everyone") is False:
        raise SourcesError(f"{where}: everyone: false admits nobody; remove the source instead")
    for key in ("classes", "disability_levels"):
        if key in rule:
            value = rule[key]
            if not isinstance(value, list) or not value or not all(
                    isinstance(v, str) for v in value):
                raise SourcesError(f"{where}: {key}: must be a list of names")
            if key == "disability_levels" and (bad := [v for v in value if v not in levels]):
                raise SourcesError(f"{where}: disability_levels: {bad[0]!r} is not a "
                                   f"GB/T 42195-2022 level")
            values[key] = frozenset(value)
    for key in ("min_age", "max_age"):
        if key in rule:
            if not isinstance(rule[key], int) or isinstance(rule[key], bool) or rule[key] < 0:
                raise SourcesError(f"{where}: {key}: must be a whole number of years")
            values[key] = rule[key]
    if values.get("min_age", 0) > values.get("max_age", 999):
        raise SourcesError(f"{where}: min_age is above max_age: nobody is admitted")
    if values.get("everyone") and len(values) > 1:
        raise SourcesError(f"{where}: everyone = true cannot be combined with other rules")
    return Rule(**values)


def line_locator(text: str, path: str, version_index: int) -> Locate:
    """A function naming the line of a key of the version (or of its n-th [[version.source]],
    or that source's n-th tier). tomllib gives no positions: walk the text's table headers."""
    lines = text.splitlines()
    headers = [(n, line.strip().strip("[]").split("]")[0].strip())
               for n, line in enumerate(lines, 1) if line.strip().startswith("[")]

    def nth(name: str, n: int, start: int, stop_at: tuple[str, ...]) -> tuple[int, int]:
        count, found = -1, None
        for line, header in headers:
            if line <= start:
                continue
            if found is not None and header in (name, *stop_at):
                return found, line
            if header in stop_at:
                break
            if header == name:
                count += 1
                if count == n:
                    found = line
        if found is None:
            return start, start + 1
        return found, len(lines) + 1

    def locate(source: int | None = None, tier: int | None = None, key: str | None = None) -> str:
        start, end = nth("version", version_index, 0, ())
        if source is not None:
            start, end = nth("version.source", source, start, ("version",))
            if tier is not None:
                start, end = nth("version.source.tier", tier, start,
                                 ("version", "version.source"))
        line = start
        if key is not None and "." in key:  # a key of a sub-table: [version.free] source = …
            table, key = key.split(".")
            start = next((n for n, h in headers if start <= n < end and h.endswith("." + table)),
                         start)
            line = start
            end = next((n for n, _ in headers if n > start), end)
        if key is not None:
            for n in range(start, min(end, len(lines) + 1)):
                stripped = lines[n - 1].strip()
                if (stripped.split("=")[0].strip() == key
                        or stripped.startswith("[") and stripped.strip("[]").split(".")[-1] == key):
                    line = n
                    break
        return f"{path}:{line}"

    return locate
