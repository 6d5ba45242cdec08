"""A fictional demo district around Lanzhou's Chengguan district (城关区), built from a seed.

The street offices are real names of Chengguan; communities, people, companies, numbers and
addresses are invented. Two numbers are fixed so a person can use the phone simulator at once:

- the first elder's primary phone is +8613900000001 (call the hotline from it to be that elder);
- the first provider (P001) has the dispatch phone +8613800000001, offers 居室保洁 (HK01) and
  covers the first elder's community.
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from billing.money import fen_to_yuan
from dispatcher.clock import local
from dispatcher.enrollment.identity import check_digit
from dispatcher.enrollment.models import AuditEntry
from dispatcher.enrollment.rows import ELDER_COLUMNS, OFFERING_COLUMNS, PROVIDER_COLUMNS
from dispatcher.models import Category, Elder, ElderPhone, EmergencyContact, Item
from providers.models import Offering, Provider, Worker
from telephony.numbers import BadPhoneNumber, to_e164

DEMO_ELDER_PHONE = "+8613900000001"
DEMO_PROVIDER_PHONE = "+8613800000001"
# (entity, key) of the audit entry that marks a database as a demo district.
DEMO_MARK = ("demo", "district")

CENTRE = (36.057, 103.834)
REGION_CODE = "620102"
LANDLINE_AREA = "931"
# Street office -> its communities as (name, metres north, metres east of the centre).
STREETS: dict[str, list[tuple[str, int, int]]] = {
    "酒泉路街道": [("金塔巷社区", 350, -300), ("永昌里社区", 50, 250), ("南关坊社区", -250, -150), ("鼓楼巷社区", 500, 300)],
    "张掖路街道": [("庆安里社区", 900, -800), ("通远坊社区", 600, -300), ("西城巷社区", 1100, -250)],
    "白银路街道": [("临夏巷社区", 700, -2000), ("秦安里社区", 300, -1500), ("静宁坊社区", 800, -1200)],
    "皋兰路街道": [("五泉坊社区", -600, 800), ("红山里社区", -100, 1200), ("兰园巷社区", -400, 1500), ("东湖里社区", 150, 900)],
    "东岗西路街道": [("天水巷社区", -800, 1900), ("定西里社区", -400, 2300), ("平凉坊社区", -1000, 2600)],
    "雁南街道": [("雁园里社区", 700, 3900), ("雁滩坊社区", 1100, 4500), ("南河湾社区", 400, 4700), ("新港里社区", 900, 5200)],
}  # fmt: skip

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董曹袁邓许"
    "傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆"
)
FEMALE_NAMES = (
    "秀英", "桂英", "秀兰", "玉兰", "桂兰", "淑珍", "凤英", "玉珍", "玉梅", "秀珍",
    "兰英", "桂芳", "素芬", "翠兰", "凤兰", "玉凤", "淑英", "桂香", "金花", "彩霞",
)  # fmt: skip
MALE_NAMES = (
    "建国", "国庆", "建华", "志强", "德明", "永福", "振华", "文华", "明山", "宝山",
    "国华", "福贵", "玉林", "长林", "学文", "有才", "世杰", "保国", "存良", "占魁",
)  # fmt: skip
CHILD_NAMES = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
    "明", "超", "霞", "平", "刚", "红梅", "晓燕", "海燕", "建军", "卫东", "小龙", "丽娟", "志刚",
)  # fmt: skip
PROVIDER_NAMES = (
    "兰州安康家政服务有限公司",
    "兰州平安守护应急服务有限公司",
    "城关区颐养居家养老服务中心",
    "兰州金城助老服务有限公司",
    "甘肃康乐养老服务有限公司",
    "兰州福寿康居家护理有限公司",
    "城关区夕阳红助餐服务中心",
    "兰州陇原康复护理有限公司",
    "兰州邻里帮家政服务有限公司",
    "甘肃仁和医养结合服务有限公司",
    "城关区暖心助浴服务站",
    "兰州黄河之滨陪护服务有限公司",
)
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "177", "180", "181", "186", "187", "189",
)  # fmt: skip
# Unified social credit codes use digits and capitals without I, O, S, V, Z.
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# The first elders are pinned so every class and every disability level appears.
_PINNED = (
    ("低保", "中度失能"),
    ("特困", "能力完好"),
    ("优抚", "轻度失能"),
    ("高龄", "重度失能"),
    ("普通", "完全失能"),
)
_DISABILITY_WEIGHTS = (
    ("能力完好", 45), ("轻度失能", 30), ("中度失能", 13), ("重度失能", 8), ("完全失能", 4),
)  # fmt: skip
_METRES_PER_DEGREE = 111_320


@dataclass
class DemoSummary:
    streets: int
    communities: int
    elders: int
    providers: int
    offerings: int


def build_demo_district(
    session: Session, *, seed: int, elders: int = 200, providers: int = 12, now: datetime
) -> DemoSummary:
    """Fill an empty database with a deterministic demo district; flush, never commit.

    The same seed gives the same people, numbers and places. Every class of the policy, every
    disability level and every catalogue item (offered by at least two providers) appears.
    Raise ValueError if the database already has elders or providers.
    """
    if session.scalar(select(func.count()).select_from(Elder)):
        raise ValueError("the database already has elders; demo data goes into an empty database")
    if session.scalar(select(func.count()).select_from(Provider)):
        raise ValueError(
            "the database already has providers; demo data goes into an empty database"
        )
    if elders < 1 or providers < 2:
        raise ValueError("the demo needs at least one elder and two providers")
    categories = list(
        session.scalars(
            select(Category).options(selectinload(Category.items)).order_by(Category.position)
        )
    )
    if not categories:
        raise ValueError("load the service catalogue before building the demo district")

    rng = random.Random(seed)
    numbers = _Numbers(rng)
    communities = [(street, *c) for street, entries in STREETS.items() for c in entries]
    today = local(now).date()
    for index in range(elders):
        session.add(_demo_elder(rng, numbers, index, communities, today, now))
    offerings = 0
    for index, chosen in enumerate(_assign_categories(rng, categories, providers)):
        provider = _demo_provider(rng, numbers, index, communities, now)
        for category in chosen:
            provider.offerings.extend(
                Offering(item_id=item.id, price_fen=_demo_price(rng, item))
                for item in category.items
            )
            offerings += len(category.items)
        session.add(provider)
    session.flush()
    _demo_workers(session, rng, numbers, now)
    # The mark `vnh simulate` looks for before it places orders in a database.
    session.add(AuditEntry(created_at=now, actor="vnh demo-data", entity=DEMO_MARK[0], entity_key=DEMO_MARK[1],
                           action="build", changes={"seed": seed, "elders": elders, "providers": providers}))
    return DemoSummary(len(STREETS), len(communities), elders, providers, offerings)


def is_demo_district(session: Session) -> bool:
    """Whether `build_demo_district` filled this database (its mark is in the audit log)."""
    return session.scalar(select(AuditEntry.id).where(AuditEntry.entity == DEMO_MARK[0],
                                                      AuditEntry.entity_key == DEMO_MARK[1]).limit(1)) is not None


def write_demo_csvs(session: Session, directory: Path) -> list[Path]:
    """Write every elder, provider and offering in the database as enrollment CSV files.

    The files are UTF-8 with a BOM (so Excel shows the Chinese) and import back to the same
    data; only an elder's first emergency contact fits the elders file.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    elders = session.scalars(
        select(Elder)
        .options(selectinload(Elder.phones), selectinload(Elder.emergency_contacts))
        .order_by(Elder.id)
    )
    providers = list(session.scalars(select(Provider).order_by(Provider.code)))
    offerings = session.execute(
        select(Provider.code, Item.code, Offering.price_fen)
        .join(Offering.provider)
        .join(Item, Item.id == Offering.item_id)
        .join(Category, Category.id == Item.category_id)
        .order_by(Provider.code, Category.position, Item.position)
    )
    files = [
        (directory / "elders.csv", ELDER_COLUMNS, [_elder_row(e) for e in elders]),
        (directory / "providers.csv", PROVIDER_COLUMNS, [_provider_row(p) for p in providers]),
        (directory / "offerings.csv", OFFERING_COLUMNS, [
            (provider, item, fen_to_yuan(price)) for provider, item, price in offerings
        ]),
    ]  # fmt: skip
    for path, header, rows in files:
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
    return [path for path, _, _ in files]


# Every demo provider has workers on record (issue 18): work numbers 0001 and 0002, every item.
DEMO_WORKERS = (("张丽", "F"), ("王强", "M"))


def _demo_workers(session: Session, rng: random.Random, numbers: _Numbers, now: datetime) -> None:
    for provider in session.scalars(select(Provider).order_by(Provider.id)):
        for n, (name, gender) in enumerate(DEMO_WORKERS, 1):
            birth = _birth_date(rng, 1965, 1995)
            session.add(Worker(provider_id=provider.id, work_number=f"{n:04d}", name=name, phone=numbers.mobile(),
                               id_number=numbers.id_number(birth, gender), items=None, active=True, created_at=now))
    session.flush()


class _Numbers:
    """Hand out demo phone and ID numbers, each at most once."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used = {DEMO_ELDER_PHONE, DEMO_PROVIDER_PHONE}

    def id_number(self, birth: date, gender: str) -> str:
        # The 17th digit is odd for men and even for women (GB 11643).
        while True:
            serial = self.rng.randrange(0, 1000, 2) + (1 if gender == "M" else 0)
            first17 = f"{REGION_CODE}{birth:%Y%m%d}{serial:03d}"
            number = first17 + check_digit(first17)
            if number not in self.used:
                self.used.add(number)
                return number

    def mobile(self) -> str:
        return self._unique(
            lambda: self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
        )

    def landline(self) -> str:
        return self._unique(
            lambda: f"0{LANDLINE_AREA}{self.rng.choice('45678')}{self.rng.randrange(10**6):06d}"
        )

    def _unique(self, draw) -> str:
        while True:
            try:
                number = to_e164(draw())
            except BadPhoneNumber:
                continue
            if number not in self.used:
                self.used.add(number)
                return number


def _demo_elder(
    rng: random.Random,
    numbers: _Numbers,
    index: int,
    communities: list[tuple[str, str, int, int]],
    today: date,
    now: datetime,
) -> Elder:
    street, community, north, east = communities[0] if index == 0 else rng.choice(communities)
    gender = "F" if rng.random() < 0.56 else "M"
    if index < len(_PINNED):
        elder_class, disability = _PINNED[index]
        years = {"高龄": (1930, 1940), "普通": (1950, 1965)}.get(elder_class, (1930, 1965))
        birth = _birth_date(rng, *years)
    else:
        birth = _birth_date(rng, 1930, 1965)
        disability = _weighted(rng, _DISABILITY_WEIGHTS)
        draw = rng.random()
        if draw < 0.05:
            elder_class = "特困"
        elif draw < 0.20:
            elder_class = "低保"
        elif draw < 0.25:
            elder_class = "优抚"
        else:
            elder_class = "高龄" if _age(birth, today) >= 80 else "普通"
    surname = rng.choice(SURNAMES)
    name = surname + rng.choice(FEMALE_NAMES if gender == "F" else MALE_NAMES)
    latitude, longitude = _scatter(rng, north, east, 600)
    building, unit = rng.randint(1, 24), rng.randint(1, 4)
    floor, door = rng.randint(1, 7), rng.randint(1, 2)
    elder = Elder(
        id_number=numbers.id_number(birth, gender),
        name=name,
        gender=gender,
        birth_date=birth,
        address=f"兰州市城关区{street}{community}{building}号楼{unit}单元{floor}0{door}室",
        street=street,
        community=community,
        latitude=latitude,
        longitude=longitude,
        elder_class=elder_class,
        disability_level=disability,
        is_living_alone=rng.random() < 0.35,
        created_at=now,
    )
    elder.phones.append(
        ElderPhone(phone=DEMO_ELDER_PHONE if index == 0 else numbers.mobile(), is_primary=True)
    )
    if rng.random() < 0.30:
        elder.phones.append(ElderPhone(phone=numbers.landline()))
    if rng.random() < 0.20:
        elder.phones.append(ElderPhone(phone=numbers.mobile()))
    if rng.random() < 0.85:
        # A child takes the father's surname; a mother's children usually another.
        child_surname = surname if gender == "M" else rng.choice(SURNAMES)
        elder.emergency_contacts.append(
            EmergencyContact(name=child_surname + rng.choice(CHILD_NAMES), phone=numbers.mobile())
        )
    return elder


def _demo_provider(
    rng: random.Random,
    numbers: _Numbers,
    index: int,
    communities: list[tuple[str, str, int, int]],
    now: datetime,
) -> Provider:
    # Spread bases over the district; P001 sits by the first elder's community.
    street, community, north, east = communities[(index * 7) % len(communities)]
    latitude, longitude = _scatter(rng, north, east, 400)
    if index == 1:
        opens_at, closes_at = time(0, 0), time(23, 59)
    elif index > 1 and rng.random() < 0.25:
        opens_at, closes_at = time(7, 0), time(20, 0)
    else:
        opens_at, closes_at = time(8, 0), time(18, 0)
    name = (
        PROVIDER_NAMES[index]
        if index < len(PROVIDER_NAMES)
        else f"城关区第{index + 1}居家养老服务站"
    )
    return Provider(
        code=f"P{index + 1:03d}",
        name=name,
        license_no="91" + REGION_CODE + "".join(rng.choice(_USCC_CHARS) for _ in range(10)),
        dispatch_phone=DEMO_PROVIDER_PHONE if index == 0 else numbers.mobile(),
        address=f"兰州市城关区{street}{community}{rng.randint(1, 200)}号",
        latitude=latitude,
        longitude=longitude,
        service_radius_m=8000 if index == 0 else rng.randrange(3000, 8001, 500),
        capacity_per_day=rng.randint(8, 30),
        opens_at=opens_at,
        closes_at=closes_at,
        contract_status="active",
        created_at=now,
    )


def _assign_categories(
    rng: random.Random, categories: list[Category], providers: int
) -> list[list[Category]]:
    """Give each provider 2-4 categories so that every category has at least two providers.

    With few providers a provider takes more than four, as two per category must fit.
    """
    most = max(4, math.ceil(2 * len(categories) / providers))
    chosen: list[list[Category]] = [[] for _ in range(providers)]
    by_code = {c.code: c for c in categories}
    # P001 keeps house (HK01 is the demo's first call); P002 is the round-the-clock emergency one.
    for index, code in ((0, "HK"), (1, "EM")):
        if code in by_code:
            chosen[index].append(by_code[code])
    needed = [c for c in categories for _ in range(2)]
    rng.shuffle(needed)
    for category in needed:
        if sum(category in c for c in chosen) >= 2:
            continue
        order = list(range(providers))
        rng.shuffle(order)
        free = [i for i in order if category not in chosen[i]]
        chosen[min(free, key=lambda i: len(chosen[i]))].append(category)
    for current in chosen:
        target = rng.randint(2, most)
        spare = [c for c in categories if c not in current]
        rng.shuffle(spare)
        current.extend(spare[: max(0, target - len(current))])
        current.sort(key=lambda c: c.position)
    return chosen


def _demo_price(rng: random.Random, item: Item) -> int:
    # Free items too: the government pays their whole price. 60-80% of the market price, rounded down to ten fen.
    return item.market_price_fen * rng.randint(60, 80) // 100 // 10 * 10


def _elder_row(elder: Elder) -> list[str]:
    primary = next((p.phone for p in elder.phones if p.is_primary), "")
    others = ";".join(p.phone for p in elder.phones if not p.is_primary)
    contact = elder.emergency_contacts[0] if elder.emergency_contacts else None
    return [
        elder.id_number, elder.name, elder.gender, elder.birth_date.isoformat(), primary, others,
        elder.address, elder.street, elder.community, repr(elder.latitude), repr(elder.longitude),
        elder.elder_class, elder.disability_level, "1" if elder.is_living_alone else "0",
        contact.name if contact else "", contact.phone if contact else "",
    ]  # fmt: skip


def _provider_row(provider: Provider) -> list[str]:
    return [
        provider.code, provider.name, provider.license_no, provider.dispatch_phone,
        provider.address, repr(provider.latitude), repr(provider.longitude),
        str(Decimal(provider.service_radius_m) / 1000), str(provider.capacity_per_day),
        f"{provider.opens_at:%H:%M}-{provider.closes_at:%H:%M}",
    ]  # fmt: skip


def _birth_date(rng: random.Random, first_year: int, last_year: int) -> date:
    start, end = date(first_year, 1, 1), date(last_year, 12, 31)
    return start + timedelta(days=rng.randint(0, (end - start).days))


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _scatter(rng: random.Random, north: int, east: int, radius_m: float) -> tuple[float, float]:
    """A point uniformly within `radius_m` of a spot given in metres from the centre."""
    distance, angle = radius_m * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
    north += distance * math.cos(angle)
    east += distance * math.sin(angle)
    latitude = CENTRE[0] + north / _METRES_PER_DEGREE
    longitude = CENTRE[1] + east / (_METRES_PER_DEGREE * math.cos(math.radians(CENTRE[0])))
    return round(latitude, 6), round(longitude, 6)


def _weighted(rng: random.Random, choices: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]
