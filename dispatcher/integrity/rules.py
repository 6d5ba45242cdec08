"""The integrity checks as plain functions: visit facts in, findings (check, reason, evidence) out."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatcher.clock import local

# Every check, and what it means to a supervisor.
CHECKS = {
    "overlap": "同一服务人员同时在两处服务",
    "travel": "两次服务之间的移动快得不可能",
    "short": "服务时长不足预约的最低比例",
    "window": "签到时间远离预约时段",
    "no_proof": "签到签退没有有效核验",
    "denials": "老人多次否认同一服务商上门",
    "device": "服务商的服务人员都用同一台设备签到",
}
UNVERIFIED = "none"
HOURLY_UNIT = "小时"
TIMED_VISIT = re.compile(r"次\((\d+(?:\.\d+)?)小时\)")


@dataclass(frozen=True)
class Rules:
    """The thresholds of the checks (VNH_INTEGRITY_* settings; see the README)."""

    max_speed_kmh: float = 40.0       # faster than this between two homes is not a person in the city
    min_travel_km: float = 1.0        # homes closer than this are not judged (geocoding noise)
    min_share_percent: int = 50       # of the booked time (the policy's [version.hourly] key wins)
    min_visit_minutes: int = 0        # any visit shorter than this, whatever its unit (0: off)
    window_slack_minutes: int = 120   # check-in this far before or after the booked window
    open_visit_hours: float = 4.0     # a visit never checked out counts as lasting this long
    denials: int = 2                  # this many denied reviews of one provider by one elder…
    denial_days: int = 30             # …within this many days
    device_min_workers: int = 3       # a provider with this many workers, all on one device
    proof_required_since: datetime | None = None  # unrecorded proof (NULL) counts as none from then


@dataclass(frozen=True)
class VisitFacts:
    """What the checks read of one visit."""

    visit_id: int
    worker_id: int | None
    provider_id: int
    elder_id: int
    job_code: str
    checked_in_at: datetime
    checked_out_at: datetime | None
    window_start_at: datetime
    window_end_at: datetime
    lat: float | None
    lng: float | None
    in_method: str | None
    out_method: str | None
    booked_minutes: int | None


@dataclass(frozen=True)
class Finding:
    visit_id: int
    check: str
    reason: str
    evidence: dict


def booked_minutes(unit: str | None, quantity: int = 1) -> int | None:
    """How long a booking is: an hour per unit for items sold by the hour (`小时`); None for
    items sold per visit, even with a nominal length (`次(2小时)`), and per meal, night….

    The one place to rewire when billing by time (h16b's billing/duration.py) knows more; to
    judge `次(N小时)` visits by their nominal length too, return N hours for `TIMED_VISIT`.
    """
    if unit and unit.strip().startswith(HOURLY_UNIT):
        return 60 * quantity
    return None


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance between two WGS-84 points (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0088 * 2 * math.asin(math.sqrt(a))


def _hm(moment: datetime | None) -> str:
    return f"{local(moment):%m-%d %H:%M}" if moment else "—"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def visit_end(v: VisitFacts, until: datetime, rules: Rules) -> datetime:
    """When the visit ended, or — never checked out — when it is taken to have ended."""
    if v.checked_out_at is not None:
        return v.checked_out_at
    return min(until, v.checked_in_at + timedelta(hours=rules.open_visit_hours))


def _times(v: VisitFacts) -> dict:
    return {"job_code": v.job_code, "visit_id": v.visit_id, "checked_in_at": _iso(v.checked_in_at),
            "checked_out_at": _iso(v.checked_out_at)}


def _overlap(v: VisitFacts, other: VisitFacts, minutes: int) -> Finding:
    return Finding(v.visit_id, "overlap",
                   f"服务人员在工单{other.job_code}（{_hm(other.checked_in_at)}签到）服务期间"
                   f"又在工单{v.job_code}签到，重叠{minutes}分钟",
                   {"this": _times(v), "other": _times(other), "overlap_minutes": minutes,
                    "worker_id": v.worker_id})


def sweep_worker_visits(visits: Iterable[VisitFacts], rules: Rules,
                        until: datetime) -> Iterator[Finding]:
    """Overlaps and impossible travel, in one pass over visits sorted by (worker, check-in).

    Per worker, keep the visit that ends last so far: a check-in before its end is an overlap
    (both visits are flagged); otherwise that is where the worker came from, and the distance
    between the two homes over the time between is the speed they must have moved at.
    """
    worker, last = None, None
    for v in visits:
        if v.worker_id is None:
            continue
        if v.worker_id != worker:
            worker, last = v.worker_id, None
        if last is not None:
            last_end = visit_end(last, until, rules)
            if v.checked_in_at < last_end:
                end = min(last_end, visit_end(v, until, rules))
                minutes = max(1, round((end - v.checked_in_at).total_seconds() / 60))
                yield _overlap(v, last, minutes)
                yield _overlap(last, v, minutes)
            elif None not in (v.lat, v.lng, last.lat, last.lng):
                km = distance_km(last.lat, last.lng, v.lat, v.lng)
                hours = (v.checked_in_at - last_end).total_seconds() / 3600
                if km >= rules.min_travel_km and (hours <= 0 or km / hours > rules.max_speed_kmh):
                    speed = round(km / hours, 1) if hours > 0 else None
                    yield Finding(v.visit_id, "travel",
                                  f"服务人员{_hm(last_end)}在工单{last.job_code}签退，"
                                  f"{_hm(v.checked_in_at)}已在{km:.1f}公里外的工单{v.job_code}签到"
                                  f"（时速约{speed if speed is not None else '∞'}公里，"
                                  f"上限{rules.max_speed_kmh:g}）",
                                  {"from": _times(last), "this": _times(v),
                                   "distance_km": round(km, 2),
                                   "gap_minutes": round(hours * 60, 1), "speed_kmh": speed,
                                   "max_speed_kmh": rules.max_speed_kmh})
        if last is None or visit_end(v, until, rules) > visit_end(last, until, rules):
            last = v


def short_visit(v: VisitFacts, rules: Rules) -> Finding | None:
    """Checked out sooner than the minimum share of the booked time (or the floor for any visit)."""
    if v.checked_out_at is None:
        return None
    minutes = (v.checked_out_at - v.checked_in_at).total_seconds() / 60
    needed = float(rules.min_visit_minutes)
    if v.booked_minutes:
        needed = max(needed, v.booked_minutes * rules.min_share_percent / 100)
    if minutes >= needed:
        return None
    return Finding(v.visit_id, "short",
                   f"工单{v.job_code}服务{minutes:.0f}分钟，低于应有的{needed:.0f}分钟"
                   + (f"（预约{v.booked_minutes}分钟的{rules.min_share_percent}%）"
                      if v.booked_minutes else ""),
                   {**_times(v), "minutes": round(minutes, 1), "needed_minutes": round(needed, 1),
                    "booked_minutes": v.booked_minutes,
                    "min_share_percent": rules.min_share_percent})


def outside_window(v: VisitFacts, rules: Rules) -> Finding | None:
    """Checked in far before or after the booked window."""
    slack = timedelta(minutes=rules.window_slack_minutes)
    if v.window_start_at - slack <= v.checked_in_at <= v.window_end_at + slack:
        return None
    early = v.checked_in_at < v.window_start_at
    off = (v.window_start_at - v.checked_in_at) if early else (v.checked_in_at - v.window_end_at)
    minutes = round(off.total_seconds() / 60)
    return Finding(v.visit_id, "window",
                   f"工单{v.job_code}在{_hm(v.checked_in_at)}签到，"
                   f"{'早于' if early else '晚于'}预约时段（{_hm(v.window_start_at)}–"
                   f"{_hm(v.window_end_at)}）{minutes}分钟",
                   {**_times(v), "window_start_at": _iso(v.window_start_at),
                    "window_end_at": _iso(v.window_end_at), "off_minutes": minutes,
                    "slack_minutes": rules.window_slack_minutes})


def _unproved(method: str | None, at: datetime | None, rules: Rules) -> bool:
    """An end proved by nothing, once the programme requires proof (VNH_INTEGRITY_PROOF_SINCE:
    from the day its providers were told to prove visits; until then a check-in by the dispatch
    phone alone is what the contract asked for, and holding every such subsidy would stop pay)."""
    if method is not None and method != UNVERIFIED:
        return False
    return at is not None and rules.proof_required_since is not None and at >= rules.proof_required_since


def no_proof(v: VisitFacts, rules: Rules, failed_codes: int = 0) -> Finding | None:
    """A check-in or check-out proved by nothing (method none), or visit codes entered wrongly."""
    ends = [name for name, method, at in (("签到", v.in_method, v.checked_in_at),
                                          ("签退", v.out_method, v.checked_out_at))
            if _unproved(method, at, rules)]
    if not ends and not failed_codes:
        return None
    parts = [f"{'、'.join(ends)}没有核验"] if ends else []
    if failed_codes:
        parts.append(f"服务码输错{failed_codes}次")
    return Finding(v.visit_id, "no_proof", f"工单{v.job_code}{'，'.join(parts)}",
                   {**_times(v), "check_in_method": v.in_method, "check_out_method": v.out_method,
                    "failed_codes": failed_codes})


@dataclass(frozen=True)
class Denial:
    elder_id: int
    provider_id: int
    visit_id: int
    job_code: str
    answered_at: datetime


def repeated_denials(denials: Iterable[Denial], rules: Rules) -> Iterator[Finding]:
    """Every denied visit in a run of `rules.denials` or more within `rules.denial_days` days,
    for one elder and one provider; `denials` sorted by (elder, provider, answered_at)."""
    span = timedelta(days=rules.denial_days)
    group: list[Denial] = []

    def flush() -> Iterator[Finding]:
        flagged: dict[int, list[Denial]] = {}
        start = 0
        for end, d in enumerate(group):
            while d.answered_at - group[start].answered_at > span:
                start += 1
            if end - start + 1 >= rules.denials:
                for member in group[start:end + 1]:
                    flagged[member.visit_id] = group[start:end + 1]
        for member in group:
            if member.visit_id in flagged:
                run = flagged[member.visit_id]
                yield Finding(member.visit_id, "denials",
                              f"老人{rules.denial_days}天内{len(run)}次否认该服务商上门"
                              f"（工单{'、'.join(x.job_code for x in run)}）",
                              {"elder_id": member.elder_id, "provider_id": member.provider_id,
                               "denied": [{"job_code": x.job_code, "visit_id": x.visit_id,
                                           "answered_at": _iso(x.answered_at)} for x in run],
                               "denials": rules.denials, "days": rules.denial_days})

    for d in denials:
        if group and (group[0].elder_id, group[0].provider_id) != (d.elder_id, d.provider_id):
            yield from flush()
            group = []
        group.append(d)
    yield from flush()


def shared_device(provider_visits: dict[int, list[tuple[int, int, str]]],
                  rules: Rules) -> Iterator[Finding]:
    """Providers whose several workers all checked in from one device: every such visit.

    `provider_visits` maps a provider to its (visit_id, worker_id, device) with a device given.
    """
    for provider_id, rows in provider_visits.items():
        workers = {w for _, w, _ in rows if w is not None}
        devices = {d for _, _, d in rows}
        if len(devices) != 1 or len(workers) < rules.device_min_workers:
            continue
        device = next(iter(devices))
        for visit_id, _, _ in rows:
            yield Finding(visit_id, "device",
                          f"该服务商{len(workers)}名服务人员的{len(rows)}次签到都来自同一设备",
                          {"provider_id": provider_id, "device": device[:12],
                           "workers": len(workers), "visits": len(rows),
                           "min_workers": rules.device_min_workers})
