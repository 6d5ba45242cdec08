"""The outside world of the acceptance tests: `vnh serve` as a subprocess, a Twilio-like phone, the CLI.

Each test module starts its own server on a free localhost port with a fresh database (a new
SQLite file, or a freshly created schema of VNH_TEST_DATABASE_URL on PostgreSQL), local telephony,
an auth token (so every webhook is signed) and short timings. Everything a test does goes through
signed Twilio-style webhooks, `GET /simulator/outbox`, staff pages and `vnh` commands.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dispatcher.operations.server import free_port, wait_until_healthy
from telephony.simulator import HttpTransport, Phone

PG_URL = os.environ.get("VNH_TEST_DATABASE_URL", "").strip()
AUTH_TOKEN = "acceptance-auth-token"
HOTLINE = "+869312345678"
OPERATORS = ("+8693188880001", "+8693188880002")
WAIT_S = 20.0


# -- enrollment files ---------------------------------------------------------------------------
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(birth: date, serial: int, region: str = "620102") -> str:
    """A resident ID number with its GB 11643 check digit (written here, not taken from vnh)."""
    first17 = f"{region}{birth:%Y%m%d}{serial:03d}"
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


@dataclass
class ElderRow:
    name: str
    gender: str
    birth: date
    phone: str
    elder_class: str
    disability: str = "能力完好"
    lives_alone: bool = False
    latitude: float = 36.0600
    longitude: float = 103.8300
    contact_name: str = ""
    contact_phone: str = ""
    serial: int = 1
    street: str = "东岗西路街道"
    community: str = "试验社区"

    @property
    def id_number(self) -> str:
        return id_number(self.birth, self.serial)


@dataclass
class ProviderRow:
    code: str
    name: str
    dispatch_phone: str
    latitude: float
    longitude: float
    radius_km: float
    offerings: dict[str, str] = field(default_factory=dict)  # item code → price in yuan


def write_enrollment(directory: Path, elders: list[ElderRow], providers: list[ProviderRow]) -> dict[str, Path]:
    """Write the three enrollment CSV files the way DESIGN.md names their columns."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {kind: directory / f"{kind}.csv" for kind in ("elders", "providers", "offerings")}
    with open(paths["elders"], "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id_number", "name", "gender", "birth_date", "phone", "other_phones", "address",
                         "street", "community", "latitude", "longitude", "elder_class", "disability_level",
                         "lives_alone", "emergency_contact_name", "emergency_contact_phone"])
        for e in elders:
            writer.writerow([e.id_number, e.name, e.gender, e.birth.isoformat(), e.phone, "",
                             f"城关区{e.street}{e.community}{e.serial}号楼", e.street, e.community,
                             f"{e.latitude:.4f}", f"{e.longitude:.4f}", e.elder_class, e.disability,
                             "1" if e.lives_alone else "0", e.contact_name, e.contact_phone])
    with open(paths["providers"], "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["code", "name", "license_no", "dispatch_phone", "address", "latitude", "longitude",
                         "service_radius_km", "capacity_per_day", "hours"])
        for i, p in enumerate(providers, 1):
            writer.writerow([p.code, p.name, f"91620102MA7TEST{i:03d}", p.dispatch_phone, f"城关区测试路{i}号",
                             f"{p.latitude:.4f}", f"{p.longitude:.4f}", p.radius_km, 100, "00:00-23:59"])
    with open(paths["offerings"], "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["provider_code", "item_code", "price_yuan"])
        for p in providers:
            for item, price in p.offerings.items():
                writer.writerow([p.code, item, price])
    return paths


# -- the phone, played as Twilio plays it -------------------------------------------------------
@dataclass
class Step:
    """One TwiML answer: what was said, and where Twilio goes next."""

    said: str
    gather_action: str | None = None
    redirect: str | None = None
    dial: list[str] = field(default_factory=list)
    dial_action: str | None = None
    record_action: str | None = None
    hangup: bool = False


def parse_twiml(body: str) -> Step:
    root = ET.fromstring(body)
    assert root.tag == "Response", body
    step = Step(said="")
    for verb in root:
        if verb.tag == "Say":
            step.said += "".join(verb.itertext())
        elif verb.tag == "Gather":
            step.said += "".join("".join(s.itertext()) for s in verb.iter("Say"))
            step.gather_action = verb.get("action")
        elif verb.tag == "Redirect":
            step.redirect = (verb.text or "").strip()
            break
        elif verb.tag == "Dial":
            step.dial = [n.text or "" for n in verb.iter("Number")] or [(verb.text or "").strip()]
            step.dial_action = verb.get("action")
            break
        elif verb.tag == "Record":
            step.record_action = verb.get("action")
            break
        elif verb.tag == "Hangup":
            step.hangup = True
            break
    return step


class Call:
    """One phone call, step by step: every request goes to the URL the last TwiML named."""

    def __init__(self, server: Server, url: str, base: dict):
        self.server, self.base = server, base
        self.sid = "CA" + uuid.uuid4().hex
        self.steps: list[Step] = []
        self.step = self._post(url, {})

    @property
    def text(self) -> str:
        return "".join(s.said for s in self.steps)

    def _post(self, url: str, extra: dict) -> Step:
        form = {**self.base, "CallSid": self.sid, "AccountSid": "AC" + "0" * 32, **extra}
        status, body = self.server.post_signed(url, form)
        assert status == 200, f"{url} answered {status}: {body[:300]}"
        step = parse_twiml(body)
        self.steps.append(step)
        return step

    def press(self, digits: str) -> Step:
        assert self.step.gather_action, f"nothing is listening for keys: {self.step}"
        self.step = self._post(self.step.gather_action, {"Digits": digits})
        return self.step

    def say(self, words: str) -> Step:
        assert self.step.gather_action, f"nothing is listening for speech: {self.step}"
        self.step = self._post(self.step.gather_action, {"SpeechResult": words, "Confidence": "0.9"})
        return self.step

    def silence(self) -> Step:
        """No key and no speech: Twilio follows the <Redirect> after the <Gather>."""
        assert self.step.gather_action and self.step.redirect, f"no fall-through: {self.step}"
        self.step = self._post(self.step.redirect, {})
        return self.step

    def dial_ends(self, status: str) -> Step:
        assert self.step.dial_action, f"no <Dial action>: {self.step}"
        self.step = self._post(self.step.dial_action, {"DialCallStatus": status})
        return self.step

    def record(self) -> Step:
        assert self.step.record_action, f"no <Record>: {self.step}"
        self.step = self._post(self.step.record_action, {
            "RecordingUrl": f"https://api.twilio.com/recordings/RE{uuid.uuid4().hex}",
            "RecordingDuration": "6"})
        return self.step

    def keys(self, *presses: str) -> Step:
        for digits in presses:
            self.press(digits)
        return self.step


JOB_CODE = re.compile(r"工单号[:：]\s*(\d{4,8})")


class Server:
    """A running `vnh serve` and the `vnh` command line pointed at the same database."""

    def __init__(self, tmp: Path, database_url: str, env: dict):
        self.tmp, self.database_url = tmp, database_url
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "VNH_DATABASE_URL": database_url, "VNH_TELEPHONY": "local",
                    "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "VNH_HOTLINE_NUMBER": HOTLINE,
                    "VNH_OPERATOR_NUMBERS": ",".join(OPERATORS), "VNH_PUBLIC_URL": self.base_url,
                    "VNH_QUIET_HOURS": "", "VNH_AFTER_HOURS": "", "VNH_TICK_S": "0.2",
                    "VNH_OFFER_WINDOW_S": "600", "VNH_ASAP_OFFER_WINDOW_S": "600",
                    "VNH_REVIEW_DELAY_S": "1", "VNH_REVIEW_SAMPLE": "0", "VNH_INSTANCE_DIR": str(tmp),
                    **env}
        for name in ("TWILIO_ACCOUNT_SID", "VNH_TEST_DATABASE_URL", "VNH_EMERGENCY_FALLBACK_NUMBER"):
            self.env.pop(name, None)
        self.phone = Phone(HttpTransport(self.base_url, timeout=15), AUTH_TOKEN, HOTLINE)
        self.process: subprocess.Popen | None = None
        self.log = open(tmp / "serve.log", "wb")  # noqa: SIM115 - closed in stop()

    # -- process ---------------------------------------------------------------------------
    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dispatcher.cli", "serve", "--port", str(self.port), "--workers", "2"],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.tmp, start_new_session=True)
        try:
            wait_until_healthy(self.base_url, 60, self.process)
        except (RuntimeError, TimeoutError) as exc:
            raise AssertionError(f"{exc}:\n{self.log_text()}") from None

    def restart(self, **env: str) -> None:
        """Stop the server and start it again on the same port and database with changed settings."""
        self.stop()
        self.env.update(env)
        self.log = open(self.tmp / "serve.log", "ab")  # noqa: SIM115 - closed in stop()
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()

    def log_text(self) -> str:
        self.log.flush()
        return (self.tmp / "serve.log").read_text(errors="replace")[-4000:]

    # -- the command line ------------------------------------------------------------------
    def vnh(self, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "dispatcher.cli", *args],
                                env={**self.env, **(env or {})}, capture_output=True, text=True,
                                cwd=self.tmp, timeout=120)
        if check:
            assert result.returncode == 0, f"vnh {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def enroll(self, elders: list[ElderRow], providers: list[ProviderRow]) -> None:
        paths = write_enrollment(self.tmp / "enrollment", elders, providers)
        for kind in ("providers", "offerings", "elders"):
            self.vnh("import", kind, str(paths[kind]))

    def report(self, kind: str, month: str, name: str, env: dict | None = None) -> Path:
        path = self.tmp / f"{name}.csv"
        # English column names: the tests read the report as a system would.
        self.vnh("report", kind, "--month", month, "--format", "csv", "--output", str(path),
                 "--lang", "en", env=env)
        return path

    # -- HTTP ------------------------------------------------------------------------------
    def post_signed(self, url: str, form: dict) -> tuple[int, str]:
        return self.phone.post(url, form)

    def get_json(self, path: str):
        return self.phone.transport.get_json(path)

    def outbox(self) -> list[dict]:
        return self.phone.outbox()

    def wait_for(self, predicate, what: str, timeout: float = WAIT_S) -> list[dict]:
        """Poll the outbox until some messages match; return the matches (oldest first)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.outbox() if predicate(m)]
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout} s for {what}; outbox: {self.outbox()[-8:]}")
            time.sleep(0.15)

    def sms_to(self, number: str) -> list[dict]:
        return [m for m in self.outbox() if m["kind"] == "sms" and m["to"] == number]

    # -- calls and SMS as Twilio sends them -------------------------------------------------
    def call_hotline(self, caller: str) -> Call:
        return Call(self, "/telephony/voice", {"From": caller, "To": HOTLINE, "Direction": "inbound",
                                               "CallStatus": "in-progress"})

    def answer(self, outbox_call: dict) -> Call:
        """Answer a call the app placed, by POSTing to its url as Twilio does."""
        return Call(self, outbox_call["url"], {"From": outbox_call["from"], "To": outbox_call["to"],
                                               "Direction": "outbound-api", "CallStatus": "in-progress"})

    def call_status(self, outbox_call: dict, status: str) -> None:
        """Twilio's status callback for a call the app placed (e.g. no-answer)."""
        code, body = self.post_signed("/telephony/status/call", {
            "CallSid": outbox_call["sid"], "CallStatus": status, "AccountSid": "AC" + "0" * 32,
            "From": outbox_call["from"], "To": outbox_call["to"], "Direction": "outbound-api"})
        assert code in (200, 204), body

    def sms(self, sender: str, body: str) -> str:
        """Text the hotline; return the app's reply."""
        form = {"MessageSid": "SM" + uuid.uuid4().hex, "From": sender, "To": HOTLINE, "Body": body,
                "AccountSid": "AC" + "0" * 32}
        status, text = self.post_signed("/telephony/sms", form)
        assert status == 200, text
        message = ET.fromstring(text).find("Message")
        return "" if message is None else (message.text or "")

    # -- the whole life of an order ---------------------------------------------------------
    def book(self, phone: str, *keys: str) -> tuple[Call, str]:
        """Book by keypad and return the call and the job code of the offer it caused."""
        before = {m["id"] for m in self.outbox()}
        call = self.call_hotline(phone)
        call.keys(*keys)
        assert call.step.hangup, f"booking did not end: {call.text}"
        offers = self.wait_for(lambda m: m["id"] not in before and m["kind"] == "sms"
                               and JOB_CODE.search(m["body"] or ""), "the offer SMS")
        return call, JOB_CODE.search(offers[0]["body"]).group(1)

    def offer_sms(self, job_code: str) -> dict:
        """The first SMS naming `工单号:CODE` (DESIGN.md): the offer, before anyone accepted it."""
        return self.wait_for(lambda m: m["kind"] == "sms" and f"工单号:{job_code}" in (m["body"] or ""),
                             f"the offer of {job_code}")[0]

    def review_call(self, phone: str, seen: set[int]) -> dict:
        """Wait for the next callback-review call placed to `phone` that is not in `seen`."""
        found = self.wait_for(lambda m: m["kind"] == "call" and m["purpose"] == "review"
                              and m["to"] == phone and m["id"] not in seen and m["status"] == "sent",
                              f"a review call to {phone}")
        seen.add(found[0]["id"])
        return found[0]

    def answer_review(self, outbox_call: dict, came: bool, rating: int | None = None) -> Call:
        """The elder answers the review call: 1 (came) then a rating, or 2 (did not come)."""
        call = self.answer(outbox_call)
        call.press("1" if came else "2")
        if came and rating is not None:
            call.press(str(rating))
            if call.step.record_action:  # an optional spoken comment: the elder says nothing
                call.record()
        assert call.step.hangup, call.text
        return call

    def visit(self, provider_phone: str, job_code: str) -> None:
        """The provider accepts by SMS, the worker arrives and leaves (SMS replies)."""
        for word, expect in (("接", "接单"), ("到", "签到"), ("完", "签退")):
            reply = self.sms(provider_phone, f"{job_code} {word}")
            assert expect in reply and job_code in reply, reply


def read_csv(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("\ufeff"), "CSV for Excel starts with a BOM"
    return list(csv.DictReader(io.StringIO(text[1:])))


def fresh_database(tmp: Path) -> str:
    if not PG_URL:
        return f"sqlite:///{tmp / 'vnh.sqlite'}"
    from sqlalchemy import text

    from dispatcher.db import make_engine

    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return PG_URL
