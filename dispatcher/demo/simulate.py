"""`vnh simulate`: whole lifecycles through the HTTP layer, the app's clock moved by hand.

Elders call the hotline and book by keypad; providers answer the offer SMS (some decline, so
offers cascade), check in and out by SMS; the review calls are answered with "came, 5 stars".
Everything goes through the signed webhooks and the simulator outbox, as from outside.
"""

from __future__ import annotations

import random
import re
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path

from sqlalchemy import func, select

from dispatcher.clock import LOCAL_TZ, FakeClock, SystemClock

DECLINE_SHARE = 0.2
_JOB_CODE = re.compile(r"工单号:(\d{4,8})")


@dataclass
class SimulationResult:
    calls: int = 0
    orders: int = 0
    offers: int = 0
    accepted: int = 0
    declined: int = 0
    unassigned: int = 0
    checked_out: int = 0
    review_calls: int = 0
    verified: int = 0
    subsidy_payable_fen: int = 0
    copay_fen: int = 0
    month: str = ""
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        from billing.money import fen_to_yuan

        return (
            f"calls {self.calls}, orders {self.orders}, offers {self.offers} "
            f"(accepted {self.accepted}, declined {self.declined}), to operator {self.unassigned}, "
            f"visits completed {self.checked_out}, review calls {self.review_calls}, "
            f"verified {self.verified}, subsidy payable {fen_to_yuan(self.subsidy_payable_fen)} yuan, "
            f"co-pay {fen_to_yuan(self.copay_fen)} yuan ({self.month})"
        )


def next_morning(now: datetime) -> datetime:
    """08:30 local on the next day, so the simulated day is inside providers' hours."""
    day = now.astimezone(LOCAL_TZ).date() + timedelta(days=1)
    return datetime.combine(day, time(8, 30), LOCAL_TZ).astimezone(now.tzinfo)


def run_simulation(*, seed: int, calls: int, fresh: bool, echo=print) -> SimulationResult:
    from dispatcher import create_app
    from dispatcher.catalogue import load_catalogue
    from dispatcher.db import session_scope
    from dispatcher.demo.district import build_demo_district
    from dispatcher.migrate import upgrade

    clock = FakeClock(next_morning(SystemClock().now()))
    config = {"CLOCK": clock, "TESTING": True}
    workdir = None
    if fresh:
        workdir = tempfile.TemporaryDirectory(prefix="vnh-simulate-")
        config["DATABASE_URL"] = f"sqlite:///{Path(workdir.name) / 'vnh.sqlite'}"
    app = create_app(config)
    if app.config["TELEPHONY"] != "local":
        raise SystemExit("vnh simulate runs only with local telephony: it would text real phones")
    upgrade(app.extensions["vnh.engine"])
    with session_scope(app) as session:
        load_catalogue(session)
        if fresh:
            build_demo_district(session, seed=seed, now=clock.now())
    try:
        return Simulation(app, clock, random.Random(seed), echo).run(calls)
    finally:
        app.extensions["vnh.engine"].dispose()
        if workdir is not None:
            workdir.cleanup()


class Simulation:
    def __init__(self, app, clock: FakeClock, rng: random.Random, echo):
        from telephony.simulator import FlaskTransport, Phone

        self.app, self.clock, self.rng, self.echo = app, clock, rng, echo
        self.phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"],
                           app.config["HOTLINE_NUMBER"])
        self.seen_outbox = 0
        self.result = SimulationResult()

    def run(self, calls: int) -> SimulationResult:
        from billing.months import month_of
        from dispatcher.operations.sweepers import run_due_work

        callers = self._callers()
        if not callers:
            raise SystemExit("no elders with coordinates in the database: run `vnh demo-data` first")
        accepted = []
        for _ in range(calls):
            code = self._book(self.rng.choice(callers))
            self.clock.advance(30)
            if code:
                accepted += self._answer_offers({code})
        self.clock.advance(1800)
        for provider_phone, code in accepted:
            # The demo's providers have worker 0001 on record; a provider with none checks in unnamed.
            reply = self.phone.send_sms(provider_phone, f"{code} 到 0001")
            if "不在本服务商登记" in reply:
                reply = self.phone.send_sms(provider_phone, f"{code} 到")
            self._expect_ok(reply, "已签到", code)
        self.clock.advance(3600)
        for provider_phone, code in accepted:
            reply = self.phone.send_sms(provider_phone, f"{code} 完")
            if self._expect_ok(reply, "已签退", code):
                self.result.checked_out += 1
        self.clock.advance(self.app.config["REVIEW_DELAY_S"] + 60)
        run_due_work(self.app)
        for entry in self._new_outbox():
            if entry["kind"] == "call" and "/telephony/review/" in (entry.get("url") or ""):
                transcript = self.phone.answer_call(entry, ["1", "5"])
                self.result.review_calls += 1
                if transcript.ended_with != "hangup":
                    self.result.failures.append(f"review call ended with {transcript.ended_with}")
        self.result.month = month_of(self.clock.now())
        self._tally()
        return self.result

    def _callers(self) -> list[str]:
        from dispatcher.models import Elder, ElderPhone

        with self.app.extensions["vnh.sessionmaker"]() as session:
            return list(session.scalars(
                select(ElderPhone.phone).join(Elder)
                .where(ElderPhone.is_primary, Elder.latitude.is_not(None)).order_by(ElderPhone.id)
            ))

    def _book(self, caller: str) -> str | None:
        keys = [str(self.rng.randint(1, 5)), str(self.rng.randint(1, 4)), "1", "1"]
        transcript = self.phone.call_hotline(caller, keys)
        self.result.calls += 1
        match = re.search(r"工单号([\d，]+)", transcript.text)
        if match is None:
            self.result.failures.append(f"call from {caller} booked nothing: {transcript.ended_with}")
            return None
        self.result.orders += 1
        return match.group(1).replace("，", "")

    def _new_outbox(self) -> list[dict]:
        entries = self.phone.outbox()
        new = [e for e in entries if e["id"] > self.seen_outbox]
        if entries:
            self.seen_outbox = max(self.seen_outbox, entries[-1]["id"])
        return new

    def _answer_offers(self, open_codes: set[str]) -> list[tuple[str, str]]:
        """Answer offer SMS until every order is accepted or with an operator."""
        accepted = []
        while True:
            offers = [e for e in self._new_outbox()
                      if e["kind"] == "sms" and e["purpose"] == "offer"]
            if not offers:
                break
            for entry in offers:
                code = _JOB_CODE.search(entry["body"]).group(1)
                if code not in open_codes:
                    continue
                self.result.offers += 1
                if self.rng.random() < DECLINE_SHARE:
                    self.phone.send_sms(entry["to"], f"{code} 拒")
                    self.result.declined += 1
                    continue
                if self._expect_ok(self.phone.send_sms(entry["to"], f"{code} 接"), "已接单", code):
                    self.result.accepted += 1
                    accepted.append((entry["to"], code))
        return accepted

    def _expect_ok(self, reply: str, word: str, code: str) -> bool:
        if word in reply:
            return True
        self.result.failures.append(f"job {code}: expected {word}, got {reply!r}")
        return False

    def _tally(self) -> None:
        from billing.ledger import ELDER_COPAY, SUBSIDY_PAYABLE
        from billing.models import LedgerPosting
        from dispatcher.models import Order

        with self.app.extensions["vnh.sessionmaker"]() as session:
            self.result.unassigned = session.scalar(
                select(func.count()).select_from(Order).where(Order.state == "unassigned"))
            self.result.verified = session.scalar(
                select(func.count()).select_from(Order).where(Order.state == "verified"))
            for account, attr in ((SUBSIDY_PAYABLE, "subsidy_payable_fen"), (ELDER_COPAY, "copay_fen")):
                total = session.scalar(select(func.coalesce(func.sum(LedgerPosting.amount_fen), 0))
                                       .where(LedgerPosting.account == account))
                setattr(self.result, attr, total)
