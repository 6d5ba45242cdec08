"""What the product says, in Mandarin: spoken phrases, and the values SMS templates are filled with. Pure."""

from __future__ import annotations

from datetime import date, datetime

from billing.money import fen_to_yuan
from dispatcher.clock import local


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def honorific(surname: str, gender: str, age: int) -> str:
    """Address an elder the customary way: 王阿姨, 李大爷, 张奶奶."""
    if gender == "F":
        return surname + ("奶奶" if age >= 75 else "阿姨")
    return surname + ("大爷" if age >= 65 else "叔叔")


def yuan_words(fen: int) -> str:
    """Say an amount as it is spoken: 4800 → 48元, 1650 → 16.5元, 1605 → 16.05元."""
    text = fen_to_yuan(fen)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "元"


def charge_words(price_fen: int, subsidy_fen: int, copay_fen: int) -> str:
    if price_fen == 0:
        return "本次服务免费。"
    tail = "您无需付费。" if copay_fen == 0 else f"您自付{yuan_words(copay_fen)}。"
    return f"本次服务{yuan_words(price_fen)}，政府补贴{yuan_words(subsidy_fen)}，{tail}"


def when_words(start: datetime, slot_label: str) -> str:
    return f"{slot_label}上门（{local(start):%m月%d日 %H:%M}起）"


def visit_time(start: datetime) -> str:
    """When a visit starts, as SMS and visit-notice calls say it: 12月02日 08:30起."""
    return f"{local(start):%m月%d日 %H:%M}起"


def emergency_params(contact_name: str, elder_name: str, when: datetime) -> dict:
    """The parameters of the emergency contact's message (SMS template `emergency_contact`)."""
    return {"contact_name": contact_name, "elder_name": elder_name, "time": f"{local(when):%H:%M}"}
