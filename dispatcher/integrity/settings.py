"""The checks' thresholds from VNH_INTEGRITY_* settings, and the policy's minimum share of a booking."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime

from billing.policy import Policy
from dispatcher.clock import LOCAL_TZ
from dispatcher.integrity.rules import Rules

DEFAULT_MIN_SHARE_PERCENT = 50
DEFAULT_EVERY_S = 3600
# (Rules field, environment variable, type)
_SETTINGS = (
    ("max_speed_kmh", "VNH_INTEGRITY_MAX_SPEED_KMH", float),
    ("min_travel_km", "VNH_INTEGRITY_MIN_TRAVEL_KM", float),
    ("min_visit_minutes", "VNH_INTEGRITY_MIN_VISIT_MIN", int),
    ("window_slack_minutes", "VNH_INTEGRITY_WINDOW_SLACK_MIN", int),
    ("open_visit_hours", "VNH_INTEGRITY_OPEN_VISIT_H", float),
    ("denials", "VNH_INTEGRITY_DENIALS", int),
    ("denial_days", "VNH_INTEGRITY_DENIAL_DAYS", int),
    ("device_min_workers", "VNH_INTEGRITY_DEVICE_WORKERS", int),
)


class IntegritySettingError(ValueError):
    """A VNH_INTEGRITY_* setting that is not a usable value; the message names it."""


def min_share_percent(policy: Policy | None, month: str) -> int:
    """The shortest share of a booked time a visit may last, from the month's policy version.

    Read from `[version.hourly] min_share_percent` (h16b's key, in `version.tables`), else 50.
    """
    if policy is None:
        return DEFAULT_MIN_SHARE_PERCENT
    try:
        version = policy.version_for_month(month)
    except ValueError:
        return DEFAULT_MIN_SHARE_PERCENT
    # h16b keeps the version's extra TOML tables in `version.tables` (billing.duration.min_share).
    hourly = (getattr(version, "tables", None) or {}).get("hourly")
    value = hourly.get("min_share_percent") if isinstance(hourly, Mapping) else None
    return int(value) if value is not None else DEFAULT_MIN_SHARE_PERCENT


def _setting(env: Mapping, name: str, kind: type):
    raw = str(env.get(name, "")).strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except ValueError:
        raise IntegritySettingError(f"{name}: must be a number, not {raw!r}") from None
    if value <= 0:
        raise IntegritySettingError(f"{name}: must be above zero, not {raw!r}")
    return value


def rules_from(env: Mapping | None = None, *, policy: Policy | None = None,
               month: str | None = None) -> Rules:
    """The checks' rules from the settings (the environment by default) and the month's policy."""
    env = os.environ if env is None else env
    values = {}
    for field, name, kind in _SETTINGS:
        value = _setting(env, name, kind)
        if value is not None:
            values[field] = value
    since = str(env.get("VNH_INTEGRITY_PROOF_SINCE", "")).strip()
    if since:
        try:
            day = date.fromisoformat(since)
        except ValueError:
            raise IntegritySettingError(
                f"VNH_INTEGRITY_PROOF_SINCE: must be a date like 2027-01-01, not {since!r}") from None
        values["proof_required_since"] = datetime.combine(day, datetime.min.time(),
                                                          LOCAL_TZ).astimezone(UTC)
    if month is not None:
        values["min_share_percent"] = min_share_percent(policy, month)
    return Rules(**values)


def every_s(env: Mapping | None = None) -> int:
    """How often the scheduler runs the checks (VNH_INTEGRITY_EVERY_S, default an hour)."""
    return _setting(os.environ if env is None else env, "VNH_INTEGRITY_EVERY_S", int) or DEFAULT_EVERY_S


def at_review(env: Mapping | None = None) -> bool:
    """Whether a confirmed review runs the visit's checks before its subsidy becomes payable."""
    raw = str((os.environ if env is None else env).get("VNH_INTEGRITY_AT_REVIEW", "1")).strip()
    return raw.lower() not in ("0", "false", "no", "off")
