"""Settings read from the environment (names in DESIGN.md), with embedded defaults."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from telephony.twiml import DEFAULT_VOICE


class ConfigError(RuntimeError):
    """The configuration cannot work; the message names the setting."""


def _int(env: dict, name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of seconds, got {raw!r}") from None


def _positive(env: dict, name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, got {raw!r}")
    return value


def _float(env: dict, name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None


def default_database_url() -> str:
    instance = Path(os.environ.get("VNH_INSTANCE_DIR", "instance")).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance / 'vnh.sqlite'}"


# The default VNH_SMS_PER_NUMBER by adapter (others: 40, Alibaba Cloud's documented daily cap).
_SMS_PER_NUMBER = {"local": 0, "twilio": 4}


def settings_from_env(env: dict | None = None) -> dict:
    """Return the Flask config mapping built from environment variables."""
    env = dict(os.environ if env is None else env)
    account_sid = env.get("TWILIO_ACCOUNT_SID", "").strip()
    telephony = env.get("VNH_TELEPHONY", "").strip() or ("twilio" if account_sid else "local")
    if telephony not in ("local", "twilio", "aliyun"):
        raise ConfigError(f"VNH_TELEPHONY must be 'local', 'twilio' or 'aliyun', got {telephony!r}")
    operators = [n.strip() for n in env.get("VNH_OPERATOR_NUMBERS", "").split(",") if n.strip()]
    return {
        "DATABASE_URL": env.get("VNH_DATABASE_URL", "").strip() or default_database_url(),
        "PUBLIC_URL": env.get("VNH_PUBLIC_URL", "").strip().rstrip("/"),
        "TELEPHONY": telephony,
        "TWILIO_ACCOUNT_SID": account_sid,
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", "").strip(),
        "HOTLINE_NUMBER": env.get("VNH_HOTLINE_NUMBER", "").strip() or "+869312345678",
        # The number the provider portal's 致电老人 link dials (a relay line); empty: the hotline.
        "PORTAL_CALL_NUMBER": env.get("VNH_PORTAL_CALL_NUMBER", "").strip(),
        "OPERATOR_NUMBERS": operators or ["+869312345600"],
        "OFFER_WINDOW_S": _int(env, "VNH_OFFER_WINDOW_S", 600),
        "ASAP_OFFER_WINDOW_S": _int(env, "VNH_ASAP_OFFER_WINDOW_S", 300),
        "EMERGENCY_OFFERS": _int(env, "VNH_EMERGENCY_OFFERS", 3),
        "EMERGENCY_RADIUS_FACTOR": _float(env, "VNH_EMERGENCY_RADIUS_FACTOR", 2.0),
        "REVIEW_DELAY_S": _int(env, "VNH_REVIEW_DELAY_S", 7200),
        "QUIET_HOURS": env.get("VNH_QUIET_HOURS", "21:00-08:00").strip(),
        "TICK_S": _float(env, "VNH_TICK_S", 5.0),
        "POLL_REUSE_S": _float(env, "VNH_POLL_REUSE_S", 0.5),
        "BACKLOG_SHARE": _float(env, "VNH_BACKLOG_SHARE", 0.25),
        "MAX_OFFERS": _int(env, "VNH_MAX_OFFERS", 3),
        "DB_WAIT_S": _float(env, "VNH_DB_WAIT_S", 2.0),
        "REVIEW_SAMPLE": _float(env, "VNH_REVIEW_SAMPLE", 0.1),
        "SUSPEND_BELOW": _float(env, "VNH_SUSPEND_BELOW", 3.0),
        "WELLBEING_RETRY_S": _int(env, "VNH_WELLBEING_RETRY_S", 1800),
        **({"CALLS_PER_S": _float(env, "VNH_CALLS_PER_S", 1.0)} if env.get("VNH_CALLS_PER_S") else {}),
        **({"SMS_PER_S": _float(env, "VNH_SMS_PER_S", 10.0)} if env.get("VNH_SMS_PER_S") else {}),
        # Texts to one number per window: Twilio holds a fifth different text to one Chinese
        # number in 24 h for manual review ("China SMS Template Whitelisting"), so at most 4;
        # Alibaba Cloud caps notifications per number per day (its 发送频率设置); the local
        # network has no carrier and no limit.
        "SMS_PER_NUMBER": _int(env, "VNH_SMS_PER_NUMBER", _SMS_PER_NUMBER.get(telephony, 40)),
        "SMS_WINDOW_S": _int(env, "VNH_SMS_WINDOW_S", 86400),
        "PROOF_DISTANCE_M": _positive(env, "VNH_PROOF_DISTANCE_M", 300),
        "POLICY_FILE": env.get("VNH_POLICY_FILE", "").strip(),
        "IMPORT_MAX_MB": _positive(env, "VNH_IMPORT_MAX_MB", 20),
        "IMPORT_MAX_ROWS": _positive(env, "VNH_IMPORT_MAX_ROWS", 200_000),
        "IMPORT_MAX_COLUMNS": _positive(env, "VNH_IMPORT_MAX_COLUMNS", 60),
        "IMPORT_MAX_CELL_CHARS": _positive(env, "VNH_IMPORT_MAX_CELL_CHARS", 2000),
        "SECRET_KEY": env.get("VNH_SECRET_KEY", "").strip(),
        "TRUSTED_PROXIES": _int(env, "VNH_TRUSTED_PROXIES", 0),
        # Twilio's <Say>: a named Mandarin voice, never a bare language (VNH_VOICE is the old name).
        "VOICE": env.get("VNH_TTS_VOICE", "").strip() or env.get("VNH_VOICE", "").strip()
        or DEFAULT_VOICE,
        "SPEECH_RATE": env.get("VNH_SPEECH_RATE", "").strip() or "90%",
        "AFTER_HOURS": env.get("VNH_AFTER_HOURS", "").strip(),
        "EMERGENCY_FALLBACK_NUMBER": env.get("VNH_EMERGENCY_FALLBACK_NUMBER", "").strip(),
        # The call centre's FreeSWITCH (mod_httapi) under /telephony/switch/: off while the secret is unset.
        "SWITCH_SECRET": env.get("VNH_SWITCH_SECRET", "").strip(),
        "SWITCH_TTS_ENGINE": env.get("VNH_SWITCH_TTS_ENGINE", "").strip() or "unimrcp",
        "SWITCH_TTS_VOICE": env.get("VNH_SWITCH_TTS_VOICE", "").strip(),
        "SWITCH_OPERATOR_BRIDGE": env.get("VNH_SWITCH_OPERATOR_BRIDGE", "").strip(),
        "SWITCH_GATEWAY": env.get("VNH_SWITCH_GATEWAY", "").strip() or "sofia/gateway/carrier/{national}",
        # Its event socket (mod_event_socket), which places the two-leg calls the carrier cannot.
        "SWITCH_ESL_HOST": env.get("VNH_SWITCH_ESL_HOST", "").strip(),
        "SWITCH_ESL_PORT": env.get("VNH_SWITCH_ESL_PORT", "").strip() or "8021",
        "SWITCH_ESL_PASSWORD": env.get("VNH_SWITCH_ESL_PASSWORD", "").strip(),
        # After a crash, how long to wait for the carrier's call report before calling again.
        "ALIYUN_CALL_REPORT_WAIT_S": _int(env, "VNH_ALIYUN_CALL_REPORT_WAIT_S", 900),
        # Care plans: how many days ahead their occurrences become orders, and how often one is reviewed.
        "PLAN_HORIZON_DAYS": _positive(env, "VNH_PLAN_HORIZON_DAYS", 7),
        "PLAN_REVIEW_EVERY_DAYS": _positive(env, "VNH_PLAN_REVIEW_EVERY_DAYS", 7),
        "RUN_SCHEDULER": False,
        **_aliyun_settings(env),
    }


# The domestic carrier's settings: (config key, environment variable), all required in aliyun mode.
ALIYUN_SETTINGS = (
    ("ALIYUN_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_ID"),
    ("ALIYUN_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_ACCESS_KEY_SECRET"),
    ("ALIYUN_SMS_SIGN", "VNH_ALIYUN_SMS_SIGN"),
    ("ALIYUN_SMS_TEMPLATES", "VNH_ALIYUN_SMS_TEMPLATES"),
    ("ALIYUN_VOICE_TEMPLATES", "VNH_ALIYUN_VOICE_TEMPLATES"),
    ("ALIYUN_SHOW_NUMBER", "VNH_ALIYUN_SHOW_NUMBER"),
    ("ALIYUN_CALLBACK_TOKEN", "VNH_ALIYUN_CALLBACK_TOKEN"),
    # The call centre's FreeSWITCH places the supervisor's call-back and the wellbeing key 9
    # transfer (the carrier's voice API has no two-leg call): telephony/esl.py.
    ("SWITCH_ESL_HOST", "VNH_SWITCH_ESL_HOST"),
    ("SWITCH_ESL_PASSWORD", "VNH_SWITCH_ESL_PASSWORD"),
)


def _aliyun_settings(env: dict) -> dict:
    return {key: env.get(name, "").strip() for key, name in ALIYUN_SETTINGS if not key.startswith("SWITCH_")}


def _json_map(config: dict, key: str, name: str) -> dict[str, str]:
    raw = config.get(key) or ""
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a JSON object {{purpose: code}}, got {raw!r}") from None
    if not isinstance(value, dict) or not all(isinstance(v, str) and v for v in value.values()):
        raise ConfigError(f"{name} must be a JSON object {{purpose: code}}, got {raw!r}")
    return value


def _check_aliyun(config: dict) -> None:
    """Refuse to run on the carrier without its credentials, naming every missing variable."""
    from telephony.aliyun import VOICE_PURPOSES

    missing = [name for key, name in ALIYUN_SETTINGS if not config.get(key)]
    missing += [name for key, name in (("PUBLIC_URL", "VNH_PUBLIC_URL"), ("SECRET_KEY", "VNH_SECRET_KEY"))
                if not config.get(key)]
    if missing:
        raise ConfigError("aliyun telephony needs " + ", ".join(missing))
    config["ALIYUN_SMS_TEMPLATES"] = _json_map(config, "ALIYUN_SMS_TEMPLATES", "VNH_ALIYUN_SMS_TEMPLATES")
    voice = _json_map(config, "ALIYUN_VOICE_TEMPLATES", "VNH_ALIYUN_VOICE_TEMPLATES")
    absent = [purpose for purpose in VOICE_PURPOSES if purpose not in voice]
    if absent:
        raise ConfigError("VNH_ALIYUN_VOICE_TEMPLATES needs a TTS template code for " + ", ".join(absent))
    config["ALIYUN_VOICE_TEMPLATES"] = voice
    port = str(config.get("SWITCH_ESL_PORT") or "8021")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"VNH_SWITCH_ESL_PORT must be a TCP port, got {port!r}")


def check_settings(config: dict) -> None:
    """Refuse a configuration that cannot run safely."""
    from dispatcher.lifecycle.quiet_hours import parse_quiet_hours

    for key, name in (("QUIET_HOURS", "VNH_QUIET_HOURS"), ("AFTER_HOURS", "VNH_AFTER_HOURS")):
        try:
            parse_quiet_hours(config.get(key, ""))
        except ValueError as exc:
            raise ConfigError(f"{name}: {exc}") from None
    if not 0 < config.get("BACKLOG_SHARE", 0.25) <= 1:
        raise ConfigError("VNH_BACKLOG_SHARE must be more than 0 and at most 1 (a share of each tick)")
    if config.get("EMERGENCY_OFFERS", 3) < 1:
        raise ConfigError("VNH_EMERGENCY_OFFERS must be at least 1")
    if config.get("EMERGENCY_RADIUS_FACTOR", 2.0) < 1:
        raise ConfigError("VNH_EMERGENCY_RADIUS_FACTOR must be at least 1 (it widens the radius)")
    gateway = config.get("SWITCH_GATEWAY") or "{national}"
    try:
        gateway.format(national="0", e164="+0")
    except (KeyError, IndexError, ValueError):
        raise ConfigError("VNH_SWITCH_GATEWAY may only use {national} and {e164}") from None
    for key in ("SWITCH_GATEWAY", "SWITCH_OPERATOR_BRIDGE"):
        if "$" in (config.get(key) or ""):
            # mod_httapi hangs up on a `$` in <execute> data unless the profile allows expand-vars.
            raise ConfigError(f"VNH_{key} must not contain '$'")
    if config["TELEPHONY"] == "twilio":
        missing = [
            name
            for name, key in (
                ("TWILIO_ACCOUNT_SID", "TWILIO_ACCOUNT_SID"),
                ("TWILIO_AUTH_TOKEN", "TWILIO_AUTH_TOKEN"),
                ("VNH_PUBLIC_URL", "PUBLIC_URL"),
                ("VNH_HOTLINE_NUMBER", "HOTLINE_NUMBER"),
                ("VNH_SECRET_KEY", "SECRET_KEY"),
            )
            if not config.get(key)
        ]
        if missing:
            raise ConfigError("twilio telephony needs " + ", ".join(missing))
    if config["TELEPHONY"] == "aliyun":
        _check_aliyun(config)
    if not config.get("SECRET_KEY"):
        # Local mode only: sessions do not survive a restart, which is fine for the demo.
        config["SECRET_KEY"] = secrets.token_hex(32)


class Settings:
    """The timings and numbers the services need, taken from the app config once."""

    def __init__(self, config):
        self.offer_window_s: int = config["OFFER_WINDOW_S"]
        self.asap_offer_window_s: int = config.get("ASAP_OFFER_WINDOW_S", 300)
        self.emergency_offers: int = config.get("EMERGENCY_OFFERS", 3)
        self.emergency_radius_factor: float = config.get("EMERGENCY_RADIUS_FACTOR", 2.0)
        self.review_delay_s: int = config["REVIEW_DELAY_S"]
        self.max_offers: int = config["MAX_OFFERS"]
        self.quiet_hours: str = config["QUIET_HOURS"]
        self.hotline_number: str = config["HOTLINE_NUMBER"]
        self.operator_numbers: list[str] = list(config["OPERATOR_NUMBERS"])
        self.public_url: str = config.get("PUBLIC_URL") or "http://localhost"
        self.voice: str | None = config.get("VOICE") or None
        self.speech_rate: str = config.get("SPEECH_RATE") or "90%"
        self.review_sample_share: float = config.get("REVIEW_SAMPLE", 0.1)
        self.suspend_below: float = config.get("SUSPEND_BELOW", 3.0)
        self.wellbeing_retry_s: int = config.get("WELLBEING_RETRY_S", 1800)
        self.after_hours: str = config.get("AFTER_HOURS") or ""
        self.emergency_fallback_number: str = config.get("EMERGENCY_FALLBACK_NUMBER") or ""
        self.sms_per_number: int = config.get("SMS_PER_NUMBER", 0)
        self.sms_window_s: int = config.get("SMS_WINDOW_S", 86400)
        # How near the elder's home a worker's phone location must be to prove the place (metres).
        self.proof_distance_m: int = config.get("PROOF_DISTANCE_M", 300)
        self.plan_horizon_days: int = config.get("PLAN_HORIZON_DAYS", 7)
        self.plan_review_every_days: int = config.get("PLAN_REVIEW_EVERY_DAYS", 7)

    def url(self, path: str) -> str:
        return self.public_url + path
