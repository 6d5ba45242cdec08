"""`vnh simulate`: a month of callers who listen, through the signed webhooks, on the app's clock.

Each simulated day from 08:30 to 17:30 elders (and their families) call the hotline; each is a
persona (dispatcher/demo/personas.py) who reads the prompts and acts by intent
(dispatcher/demo/listener.py). Providers answer offer SMS by their profile, workers check in and
out by SMS, the scheduler's sweeps run as time passes, and elders answer (or miss) the review
calls. At the end the month's figures are counted from the rows (dispatcher/demo/seen.py) and
each call's outcome is tabled by persona, with the reason for anything not completed.
"""

from __future__ import annotations

import heapq
import math
import random
import re
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import select

from dispatcher.centre.figures import figures as centre_figures
from dispatcher.centre.summary import format_summary
from dispatcher.clock import LOCAL_TZ, FakeClock, SystemClock
from dispatcher.demo import personas
from dispatcher.demo.listener import Caller, Reviewer, Wish, is_failed_prompt
from dispatcher.demo.seen import MonthSeen, month_seen

_JOB_CODE = re.compile(r"工单号:(\d{4,8})")
DAY_OPENS, DAY_CLOSES, DAY_ENDS = time(8, 30), time(17, 30), time(19, 0)
# How often elders book in each category (the rest of the catalogue is rarer).
CATEGORY_WEIGHTS = {"HK": 30, "ML": 20, "LC": 15, "HC": 15, "RN": 8, "RE": 8, "CP": 4}
MAX_FAILED_PROMPTS = 3


class Refused(SystemExit):
    """The simulation will not run here; the message says why."""


@dataclass
class CallOutcome:
    persona: str
    outcome: str
    ok: bool
    failed_prompts: int
    detail: str = ""


@dataclass
class SimulationResult:
    start: date | None = None
    days: int = 0
    calls: list[CallOutcome] = field(default_factory=list)
    offers: int = 0
    accepted: int = 0
    declined: int = 0
    late_refused: int = 0
    no_shows: int = 0
    checked_out: int = 0
    review_calls: int = 0
    review_unanswered: int = 0
    seen: MonthSeen | None = None
    centre: str = ""  # the centre's own figures (运营统计) for the simulated days, as `vnh report operations` prints
    failures: list[str] = field(default_factory=list)

    def ordinary(self) -> tuple[int, int]:
        """(ordinary requests, of them finished without an operator)."""
        ordinary = [c for c in self.calls if c.persona in personas.ORDINARY]
        return len(ordinary), sum(c.outcome.startswith(("booked", "kept the open order")) for c in ordinary)

    def table(self) -> list[str]:
        counts = Counter((c.persona, c.outcome) for c in self.calls)
        lines = [f"{'persona':<10} {'outcome':<58} calls"]
        lines += [f"{p:<10} {o:<58} {n}" for (p, o), n in sorted(counts.items())]
        return lines

    def figures(self) -> list[str]:
        asked, alone = self.ordinary()
        emergencies = [c for c in self.calls if c.persona == "emergency"]
        fast = sum(c.outcome == "reached a person (emergency)" for c in emergencies)
        worst = max((c.failed_prompts for c in self.calls), default=0)
        lines = [
            f"simulated {self.days} days from {self.start}: {len(self.calls)} calls",
            f"ordinary requests finished without an operator: {alone} of {asked} "
            f"({100 * alone / asked if asked else 0:.1f}%; goal at least 80%)",
            f"emergencies at a <Dial> within one step: {fast} of {len(emergencies)}",
            f"most failed prompts one caller heard before a person: {worst} (goal at most {MAX_FAILED_PROMPTS})",
            f"offers {self.offers} (accepted {self.accepted}, declined {self.declined}, "
            f"answered too late and refused {self.late_refused}); no-shows {self.no_shows}; "
            f"visits completed {self.checked_out}; review calls {self.review_calls} "
            f"(not picked up {self.review_unanswered})",
        ]
        centre = ["", self.centre] if self.centre else []
        return lines + (self.seen.lines() if self.seen else []) + centre


def first_of_last_month(now: datetime) -> date:
    """The default start: a month already over, so its subsidy report can be made and verified."""
    today = now.astimezone(LOCAL_TZ).date()
    return date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)


def at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, LOCAL_TZ)


def run_simulation(*, seed: int, calls: int | None = None, days: int | None = None, calls_per_day: int = 7,
                   mix: dict[str, float] | None = None, fresh: bool = False, i_know: bool = False,
                   start: date | None = None, app=None, echo=print) -> SimulationResult:
    """Run the simulation: `days` (30) of `calls_per_day`, or `calls` in all over `days` (10 a day)."""
    from dispatcher import create_app
    from dispatcher.catalogue import load_catalogue
    from dispatcher.db import session_scope
    from dispatcher.demo.district import build_demo_district, is_demo_district
    from dispatcher.migrate import upgrade

    start = start or first_of_last_month(SystemClock().now())
    clock = FakeClock(at(start, DAY_OPENS))
    workdir, own_app = None, app is None
    if own_app:
        config = {"CLOCK": clock, "TESTING": True}
        if fresh:
            # In memory where the system has it: a month of commits waits on no disk.
            shm = Path("/dev/shm")
            workdir = tempfile.TemporaryDirectory(prefix="vnh-simulate-", dir=shm if shm.is_dir() else None)
            config["DATABASE_URL"] = f"sqlite:///{Path(workdir.name) / 'vnh.sqlite'}"
        app = create_app(config)
    else:
        clock = app.extensions["vnh.clock"]
        clock.set(at(start, DAY_OPENS))
    try:
        if app.config["TELEPHONY"] != "local":
            raise Refused("vnh simulate runs only with local telephony: it would text and call real phones")
        if own_app:
            upgrade(app.extensions["vnh.engine"])
        with session_scope(app) as session:
            load_catalogue(session)
            if fresh:
                build_demo_district(session, seed=seed, now=clock.now())
            elif not i_know and not is_demo_district(session):
                raise Refused("this database is not a demo district (no mark of `vnh demo-data`): the "
                              "simulation would place orders for real elders; give --i-know to run anyway")
        if calls is not None:
            days = max(1, math.ceil(calls / 10)) if days is None else days
            per_day = [calls // days + (d < calls % days) for d in range(days)]
        else:
            per_day = [calls_per_day] * (days or 30)
        sim = Simulation(app, clock, random.Random(seed), mix or dict(personas.DEFAULT_MIX), echo)
        return sim.run(start, per_day)
    finally:
        if own_app:
            app.extensions["vnh.engine"].dispose()
        if workdir is not None:
            workdir.cleanup()


class Simulation:
    def __init__(self, app, clock: FakeClock, rng: random.Random, mix: dict[str, float], echo):
        from dispatcher.catalogue import read_snapshot
        from telephony.simulator import FlaskTransport, Phone

        self.app, self.clock, self.rng, self.mix, self.echo = app, clock, rng, mix, echo
        self.phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"],
                           app.config["HOTLINE_NUMBER"])
        self.seen_outbox = max([e["id"] for e in self.phone.outbox()], default=0)
        self.result = SimulationResult()
        self.events: list[tuple[datetime, int, str, tuple]] = []
        self.event_seq = 0
        with self._session() as session:
            self.catalogue = read_snapshot(session)
        self.profiles: dict[str, personas.ProviderProfile] = {}
        self.provider_of: dict[str, int] = {}
        self.answered: set[tuple[str, int]] = set()  # (job code, provider): every phone of it gets the offer

    def _session(self):
        return self.app.extensions["vnh.sessionmaker"]()

    # -- the month ---------------------------------------------------------------------------
    def run(self, start: date, per_day: list[int]) -> SimulationResult:
        self.result.start, self.result.days = start, len(per_day)
        self._load_people()
        for offset, count in enumerate(per_day):
            day = start + timedelta(days=offset)
            self._until(at(day, DAY_OPENS))
            span = (at(day, DAY_CLOSES) - at(day, DAY_OPENS)).total_seconds()
            moments = sorted(self.rng.uniform(0, span) for _ in range(count))
            for seconds in moments:
                self._until(at(day, DAY_OPENS) + timedelta(seconds=seconds))
                self._one_call()
                self._read_outbox()
            self._until(at(day, DAY_ENDS))
        # The last day's visits are reviewed before the figures are counted.
        self._until(self.clock.now() + timedelta(seconds=self.app.config["REVIEW_DELAY_S"] + 3600))
        end = at(start + timedelta(days=len(per_day)), time(0))
        with self._session() as session:
            self.result.seen = month_seen(session, at(start, time(0)), end)
            self.result.centre = format_summary(centre_figures(session, start=at(start, time(0)), end=end,
                                                               now=self.clock.now()))
        return self.result

    def _load_people(self) -> None:
        from dispatcher.models import Elder, ElderPhone
        from providers.models import Provider, ProviderPhone

        with self._session() as session:
            rows = session.execute(
                select(Elder.id, ElderPhone.phone, ElderPhone.is_primary).join(ElderPhone)
                .where(Elder.latitude.is_not(None)).order_by(Elder.id, ElderPhone.id)).all()
            providers = session.execute(select(Provider.id, Provider.dispatch_phone).order_by(Provider.id)).all()
            providers += session.execute(select(ProviderPhone.provider_id, ProviderPhone.phone)
                                         .order_by(ProviderPhone.provider_id, ProviderPhone.id)).all()
        self.elders: dict[int, str] = {}
        self.family: dict[int, str] = {}
        for elder_id, phone, primary in rows:
            if primary:
                self.elders[elder_id] = phone
            elif phone.startswith("+861"):
                # A second mobile on record: a son's or daughter's, who calls for the parent.
                self.family.setdefault(elder_id, phone)
        if not self.elders:
            raise Refused("no elders with coordinates in the database: run `vnh demo-data` first")
        profile_of = {}
        for provider_id, phone in sorted(providers):
            if provider_id not in profile_of:
                profile_of[provider_id] = personas.provider_profile(self.rng)
            self.profiles[phone] = profile_of[provider_id]
            self.provider_of[phone] = provider_id

    def _until(self, moment: datetime) -> None:
        """Let time pass to `moment`: visits happen, the scheduler sweeps, offers are answered."""
        from dispatcher.operations.sweepers import run_due_work

        while self.events and self.events[0][0] <= moment:
            when, _, kind, args = heapq.heappop(self.events)
            self.clock.set(max(when, self.clock.now()))
            if kind == "late_accept":
                run_due_work(self.app)  # the lapsed offer has moved on before the late answer
            getattr(self, f"_on_{kind}")(*args)
            self._read_outbox()
        self.clock.set(max(moment, self.clock.now()))
        run_due_work(self.app)
        self._read_outbox()

    def _later(self, seconds: float, kind: str, *args) -> None:
        self.event_seq += 1
        heapq.heappush(self.events, (self.clock.now() + timedelta(seconds=seconds), self.event_seq, kind, args))

    # -- callers -----------------------------------------------------------------------------
    def _one_call(self) -> None:
        persona = personas.draw_persona(self.rng, self.mix)
        open_orders = self._elders_with_open_orders()
        if persona == "repeat" and open_orders:
            elder_id = self.rng.choice(sorted(open_orders))
        else:
            persona = "decisive" if persona == "repeat" else persona
            elder_id = self.rng.choice(sorted(self.elders))
        phone = self.elders[elder_id]
        if persona == "family":
            phone = self.family.get(elder_id, phone)
        caller = Caller(persona, self._wish(persona), self.rng)
        if persona == "slow":
            caller.silences = 1
        if persona == "miskey":
            caller.miskeys = 2 if self.rng.random() < 0.1 else 1
        transcript = self.phone.converse(phone, caller.answer, on_dial=self._operator_answers)
        self.result.calls.append(self._judge(caller, transcript))

    def _wish(self, persona: str) -> Wish:
        if persona == "emergency":
            return Wish("", "", "", utterance=self.rng.choice(personas.EMERGENCY_WORDS))
        codes = [c for c in CATEGORY_WEIGHTS if any(cat.code == c for cat in self.catalogue.categories)]
        category = self.catalogue.category(self.rng.choices(codes, [CATEGORY_WEIGHTS[c] for c in codes])[0])
        menu = list(category.menu)
        # Most requests are for the usual things; some reach deep into the menu.
        item = menu[min(int(self.rng.expovariate(1 / 4)), len(menu) - 1)]
        frame = self.rng.choice(personas.SPOKEN_FRAMES)
        said = frame.format(self.rng.choice([item.name, *item.synonyms]))
        # Most want it soon; the rest a half-day tomorrow: "另约时间" leads to the days, where
        # "明天" is chosen, then the half-day (said before "明天", which the half-day menu repeats).
        half = self.rng.choice(("上午", "下午"))
        later = (f"明天{half}", half, "明天", "另约", "其他时间", "尽快")
        slot = ("尽快",) if self.rng.random() < 0.7 else later
        return Wish(item.code, item.name, category.name, slot_words=slot,
                    keep_open=persona == "repeat" and self.rng.random() < 0.6, utterance=said)

    def _operator_answers(self, numbers) -> str:
        delay = personas.answer_delay(self.rng)
        if delay > personas.CALLER_PATIENCE_S:
            self.clock.advance(25)
            return "no-answer"
        self.clock.advance(delay)
        return "completed"

    def _judge(self, caller: Caller, transcript) -> CallOutcome:
        from dispatcher.models import OperatorTask

        text, persona = transcript.text, caller.persona
        failed = sum(is_failed_prompt(p) for p in transcript.prompts)
        if transcript.dialled:
            with self._session() as session:
                kind = session.scalar(select(OperatorTask.kind).where(OperatorTask.call_sid == transcript.call_sid))
            outcome = f"reached a person ({kind})"
            if persona == "emergency" and len(transcript.pressed) > 1:
                return CallOutcome(persona, outcome + " late", False, failed,
                                   f"an emergency pressed {transcript.pressed} before a person")
            if persona in ("emergency", "confused") and kind in ("emergency", "operator_request"):
                return CallOutcome(persona, outcome, True, failed)
            if failed > MAX_FAILED_PROMPTS:
                return CallOutcome(persona, outcome, False, failed, f"heard {failed} failed prompts first")
            return CallOutcome(persona, outcome, True, failed,
                               "; ".join(caller.did[-2:]) if kind in ("invalid", "speech") else "")
        if "已为您下单" in text and "暂时没有服务商" in text:
            return CallOutcome(persona, "booked; no provider free, an operator calls back", True, failed,
                               "the app refused to promise a visit no provider can make")
        if "已为您下单" in text:
            return CallOutcome(persona, "booked", True, failed)
        if "工单保留不变" in text:
            return CallOutcome(persona, "kept the open order", True, failed)
        if "已为您取消" in text:
            return CallOutcome(persona, "cancelled an order", False, failed,
                               f"cancelled while wanting {'to keep it' if caller.wish.keep_open else 'more'}")
        return CallOutcome(persona, f"ended: {transcript.ended_with}", False, failed,
                           f"last heard {transcript.prompts[-1:] or text[-60:]!r}; did {caller.did[-3:]}")

    def _elders_with_open_orders(self) -> set[int]:
        from dispatcher.lifecycle.states import OPEN_STATES
        from dispatcher.models import Order

        with self._session() as session:
            return set(session.scalars(select(Order.elder_id).where(Order.state.in_(OPEN_STATES))))

    # -- providers, workers and reviews ----------------------------------------------------------
    def _read_outbox(self) -> None:
        while True:
            entries = self.phone.outbox(after=self.seen_outbox)
            if not entries:
                return
            self.seen_outbox = entries[-1]["id"]
            for entry in entries:
                if entry["kind"] == "sms" and entry["purpose"] == "offer":
                    self._offer(entry)
                elif entry["kind"] == "call" and "/telephony/review/" in (entry.get("url") or ""):
                    self._review(entry)

    def _offer(self, entry: dict) -> None:
        code = _JOB_CODE.search(entry["body"]).group(1)
        offer = (code, self.provider_of.get(entry["to"], 0))
        if offer in self.answered:
            return
        self.answered.add(offer)
        profile = self.profiles.get(entry["to"], personas.PROVIDER_PROFILES[0])
        self.result.offers += 1
        draw = self.rng.random()
        if draw < profile.decline:
            self.phone.send_sms(entry["to"], f"{code} 拒")
            self.result.declined += 1
        elif draw < profile.decline + profile.late_answer:
            self._later(self.app.config["OFFER_WINDOW_S"] + 120, "late_accept", entry["to"], code)
        else:
            self._accept(entry["to"], code, profile)

    def _accept(self, phone: str, code: str, profile) -> bool:
        from dispatcher.models import Order

        reply = self.phone.send_sms(phone, f"{code} 接")
        if "已接单" not in reply:
            return False
        self.result.accepted += 1
        with self._session() as session:
            start = session.scalar(select(Order.window_start_at).where(Order.job_code == code)
                                   .order_by(Order.id.desc()).limit(1))
        if self.rng.random() < profile.no_show:
            self.result.no_shows += 1
            return True
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
        wait = max(600.0, (start - self.clock.now()).total_seconds() + self.rng.uniform(300, 2400))
        self._later(wait, "check_in", phone, code)
        return True

    def _on_late_accept(self, phone: str, code: str) -> None:
        if not self._accept(phone, code, self.profiles[phone]):
            # The offer had lapsed and gone to the next provider: the app rightly refused.
            self.result.late_refused += 1

    def _on_check_in(self, phone: str, code: str) -> None:
        reply = self.phone.send_sms(phone, f"{code} 到 0001")
        if "不在本服务商登记" in reply:
            reply = self.phone.send_sms(phone, f"{code} 到")
        if "已签到" not in reply:
            self.result.failures.append(f"job {code}: check-in refused: {reply}")
            return
        self._later(self.rng.uniform(3000, 5400), "check_out", phone, code)

    def _on_check_out(self, phone: str, code: str) -> None:
        reply = self.phone.send_sms(phone, f"{code} 完")
        if "已签退" in reply:
            self.result.checked_out += 1
        else:
            self.result.failures.append(f"job {code}: check-out refused: {reply}")

    def _review(self, entry: dict) -> None:
        self.result.review_calls += 1
        if self.rng.random() < personas.REVIEW_UNREACHED:
            self.result.review_unanswered += 1
            return
        elder = Reviewer(came=self.rng.random() >= personas.FALSE_DENIAL, stars=personas.rating(self.rng))
        transcript = self.phone.converse(entry["from"], elder.answer, url=entry["url"],
                                         direction="outbound-api", to=entry["to"])
        if transcript.ended_with not in ("hangup", "caller hung up"):
            self.result.failures.append(f"review call ended with {transcript.ended_with}")
