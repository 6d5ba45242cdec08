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
    # Said on the phone before the caller confirms: every character is a quarter second (issue 21).
    if copay_fen == 0:
        return f"服务费{yuan_words(price_fen)}，政府全额补贴，您无需付费。"
    return f"服务费{yuan_words(price_fen)}，政府补贴{yuan_words(subsidy_fen)}，您自付{yuan_words(copay_fen)}。"


def when_words(start: datetime, slot_label: str) -> str:
    return f"{slot_label}上门（{local(start):%m月%d日 %H:%M}起）"


def service_place(place: str, venue: str | None, elder_address: str, provider_address: str,
                  is_meal: bool = False) -> str:
    """Where a visit happens, as an offer to a provider says it (issue 17, the item's place).

    A venue item happens at the provider's own premises (its address is the venue's: a canteen,
    a day-care centre), the elder comes; a delivered item is brought to the elder's home.
    """
    if place == "venue":
        return f"老人到{venue or '服务场所'}（{provider_address}）"
    if place == "delivered":
        return f"{'送餐上门' if is_meal else '送货上门'}：{elder_address}"
    return elder_address


WEEKDAYS = "一二三四五六日"


def day_words(day: date, today: date | None = None) -> str:
    """A date as a person says it: 12月3日 星期四; 明天 12月2日 星期三 when `today` makes it near."""
    words = f"{day.month}月{day.day}日 星期{WEEKDAYS[day.weekday()]}"
    near = {0: "今天", 1: "明天", 2: "后天"}.get((day - today).days) if today is not None else None
    return f"{near} {words}" if near else words


def clock_words(at) -> str:
    """A time of day as it is said: 上午9点, 中午12点, 下午3点半, 下午4点15分."""
    hour = at.hour
    period = "上午" if hour < 12 else "中午" if hour == 12 else "下午" if hour < 18 else "晚上"
    spoken = hour if hour <= 12 else hour - 12
    minutes = "" if at.minute == 0 else "半" if at.minute == 30 else f"{at.minute}分"
    return f"{period}{spoken}点{minutes}"


def visit_time(start: datetime) -> str:
    """When a visit starts, as SMS and visit-notice calls say it: 12月02日 08:30起."""
    return f"{local(start):%m月%d日 %H:%M}起"


def emergency_params(contact_name: str, elder_name: str, when: datetime) -> dict:
    """The parameters of the emergency contact's message (SMS template `emergency_contact`)."""
    return {"contact_name": contact_name, "elder_name": elder_name, "time": f"{local(when):%H:%M}"}
