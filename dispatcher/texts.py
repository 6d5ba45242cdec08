"""What the product says, in Mandarin: SMS bodies and spoken phrases. Pure."""

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


def offer_sms(job_code: str, item_name: str, address: str, when: str, price_fen: int, minutes: int) -> str:
    return (
        f"【虚拟养老院】新派单 工单号:{job_code} {item_name}，{address}，{when}，"
        f"结算价{fen_to_yuan(price_fen)}元。接单回复“{job_code} 接”，拒绝回复“{job_code} 拒”，"
        f"{minutes}分钟内有效。"
    )


def accepted_sms(job_code: str, item_name: str, address: str, when: str, elder_title: str) -> str:
    return (
        f"已接单：工单号:{job_code} {item_name}，{elder_title}，{address}，{when}。"
        f"到达后回复“{job_code} 到”，服务完成后回复“{job_code} 完”。"
    )


def elder_confirmation_sms(elder_title: str, provider_name: str, item_name: str, when: str, job_code: str) -> str:
    return f"【虚拟养老院】{elder_title}您好，{provider_name}已接单，将于{when}上门提供{item_name}。工单号{job_code}。"


def emergency_contact_sms(contact_name: str, elder_name: str, when: datetime) -> str:
    return (
        f"【虚拟养老院】{contact_name}您好，{elder_name}于{local(when):%H:%M}拨打热线按下紧急求助键，"
        "话务员正在处理，请尽快与老人联系。"
    )
