"""Every outbound SMS as a named template with `${name}` parameters, ready to file with a carrier.

Carriers in mainland China deliver only texts that match a template filed in advance (Twilio:
"China SMS Template Whitelisting"; Alibaba Cloud SMS: a signature and a template code per
text), so the app never writes an SMS body by hand: a caller names the purpose and passes the
parameters, and `render` builds the body the local and Twilio adapters send while a domestic
adapter sends the template code and the parameters. Each parameter has a documented maximum
length; a longer value is shortened to it, so the listed longest rendering is a promise.
Pure: no Flask, no database.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from string import Template as _Text

# The registered signature, put before every SMS (the carrier counts it in the message length).
SIGNATURE = "【虚拟养老院】"
# A message in UCS-2 holds 70 characters; a longer one is split into parts of 67 each.
SINGLE_SEGMENT = 70
MULTI_SEGMENT = 67


@dataclass(frozen=True)
class Param:
    max_chars: int
    meaning: str


# Every parameter any template uses, with the longest value it may take and what it is.
PARAMS: dict[str, Param] = {
    "job_code": Param(8, "工单号，4–8位数字"),
    "item_name": Param(8, "服务项目名称"),
    "address": Param(40, "老人地址"),
    "when": Param(13, "上门时间，如“12月02日 08:30起”"),
    "price": Param(10, "结算价，读法与电话一致，如“48元”“16.5元”"),
    "minutes": Param(3, "派单有效分钟数"),
    "title": Param(4, "对老人的称呼，如“王奶奶”"),
    "provider_name": Param(12, "服务商名称"),
    "contact_name": Param(6, "紧急联系人姓名"),
    "elder_name": Param(6, "老人姓名"),
    "time": Param(5, "时刻，如“09:30”"),
    "proof": Param(32, "到场如何核验，如“（验证码核验）”或“（未核验到场）”"),
    "reason": Param(6, "改派原因，如“超时未签到”"),
    "score": Param(4, "质量评分，如“2.85”"),
    "threshold": Param(4, "暂停阈值，如“3.00”"),
    "job_codes": Param(44, "几个工单号，用“、”隔开"),
    "worker_name": Param(6, "服务人员姓名"),
    "visit_code": Param(4, "上门验证码，4位数字"),
    "month": Param(8, "月份，如“11月”"),
    "count": Param(3, "次数"),
    "amount": Param(10, "金额，读法与电话一致，如“48元”"),
    "new_when": Param(18, "改期后的时间，如“12月3日 星期四 上午”“12月3日 星期四 下午3点半”"),
    "venue": Param(8, "服务场所，如“社区老年食堂”"),
    "schedule": Param(20, "服务计划的安排，如“每天 11:30”“每周二 09:00”"),
    "first_day": Param(6, "服务计划首日，如“12月2日”"),
}


@dataclass(frozen=True)
class Template:
    code: str
    purpose: str
    text: str  # with ${name} placeholders, without the signature
    audience: str  # provider, elder or contact

    @property
    def params(self) -> list[str]:
        """The parameter names in the order they first appear."""
        seen: list[str] = []
        for match in _Text.pattern.finditer(self.text):
            name = match.group("named") or match.group("braced")
            if name and name not in seen:
                seen.append(name)
        return seen


def _templates(*rows: tuple[str, str, str, str]) -> dict[str, Template]:
    return {purpose: Template(code, purpose, text, audience) for code, purpose, audience, text in rows}


TEMPLATES: dict[str, Template] = _templates(
    # -- to providers (several segments are fine; DESIGN.md: the offer names 工单号:CODE) --
    ("VNH_OFFER", "offer", "provider",
     "新派单 工单号:${job_code} ${item_name}，${address}，${when}，结算价${price}。"
     "回复“${job_code} 接”接单，“${job_code} 拒”拒绝，${minutes}分钟内有效。"),
    ("VNH_PLAN_OFFER", "plan_offer", "provider",
     "新派单 工单号:${job_code} 服务计划：${schedule} ${item_name}，自${first_day}起，${address}，"
     "每次结算价${price}。回复“${job_code} 接”承接全部各次，“${job_code} 拒”拒绝，${minutes}分钟内有效。"),
    ("VNH_ACCEPTED", "accepted_reply", "provider",
     "已接单 工单号:${job_code} ${item_name}，${title}，${address}，${when}。"
     "到达和完成时分别回复“${job_code} 到”“${job_code} 完”。"),
    ("VNH_WITHDRAWN", "offer_withdrawn", "provider",
     "工单${job_code}已由其他服务商接单，本次派单撤回。"),
    ("VNH_REASSIGNED", "order_reassigned", "provider",
     "工单${job_code}已由话务员改派，本次派单撤回，请勿上门。"),
    ("VNH_CANCELLED", "order_cancelled", "provider",
     "工单${job_code}（${item_name}）已由老人取消，请勿上门。"),
    ("VNH_OFFER_CANCELLED", "offer_cancelled", "provider",
     "工单${job_code}（${item_name}）已由老人取消，本次派单撤回。"),
    ("VNH_REDISPATCHED", "order_redispatched", "provider",
     "工单${job_code}（${item_name}）因${reason}已改派其他服务商，请勿上门。"),
    ("VNH_MOVED", "order_moved", "provider",
     "工单${job_code}（${item_name}）改期至${new_when}，请按新时间服务。"),
    ("VNH_SUSPENDED", "provider_suspended", "provider",
     "${provider_name}：服务质量评分${score}低于${threshold}，暂停派单。请联系监督员了解详情和恢复条件。"),
    ("VNH_UNREGISTERED", "unregistered_sender", "provider",
     "此号码未登记为服务商，老人预约请拨打热线。"),
    # -- answers to a provider's SMS reply (REPLY_PURPOSES): a carrier sends only filed templates --
    ("VNH_REPLY_HELP", "reply_help", "provider",
     "请发送工单号加指令，如“123456 接”：接单用接或1，拒绝用拒或2，到达用到，完成用完。"),
    ("VNH_REPLY_NO_OFFER", "reply_offer_not_found", "provider",
     "没有找到派给您的工单${job_code}，请核对号码。"),
    ("VNH_REPLY_NO_PENDING", "reply_no_pending_offer", "provider", "您目前没有待答复的派单。"),
    ("VNH_REPLY_WHICH_OFFER", "reply_which_offer", "provider",
     "您有多个待答复的派单（${job_codes}），请回复工单号加指令，如“${job_code} 接”。"),
    ("VNH_REPLY_NO_ORDER", "reply_order_not_found", "provider", "没有找到您的工单${job_code}，请核对号码。"),
    ("VNH_REPLY_NO_CHECK_IN", "reply_nothing_to_check_in", "provider", "您目前没有可以签到的工单。"),
    ("VNH_REPLY_NO_CHECK_OUT", "reply_nothing_to_check_out", "provider", "您目前没有可以签退的工单。"),
    ("VNH_REPLY_WHICH_ORDER", "reply_which_order", "provider",
     "您有多个工单（${job_codes}），请回复单号加指令，如“${job_code} 到”。"),
    ("VNH_REPLY_NOT_YOURS", "reply_not_yours", "provider", "该工单不属于您。"),
    ("VNH_REPLY_ACCEPTED_BEFORE", "reply_already_accepted", "provider", "工单${job_code}您已接单。"),
    ("VNH_REPLY_OFFER_GONE", "reply_offer_gone", "provider", "工单${job_code}已失效或已由其他服务商接单。"),
    ("VNH_REPLY_DECLINED", "reply_declined", "provider", "已拒绝工单${job_code}。"),
    ("VNH_REPLY_DECLINE_GONE", "reply_decline_gone", "provider", "工单${job_code}已失效，无需处理。"),
    ("VNH_REPLY_IN_BEFORE", "reply_already_checked_in", "provider", "工单${job_code}已签到。"),
    ("VNH_REPLY_CANNOT_IN", "reply_cannot_check_in", "provider", "工单${job_code}当前不能签到。"),
    ("VNH_REPLY_CHECKED_IN", "reply_checked_in", "provider", "已签到：工单${job_code}，${time}。${proof}"),
    ("VNH_REPLY_OUT_BEFORE", "reply_already_checked_out", "provider", "工单${job_code}已签退。"),
    ("VNH_REPLY_NOT_IN", "reply_not_checked_in", "provider", "工单${job_code}尚未签到，不能签退。"),
    ("VNH_REPLY_CHECKED_OUT", "reply_checked_out", "provider", "已签退：工单${job_code}，感谢您的服务。${proof}"),
    # An answer no template above matches (a new message in the lifecycle): said without its words.
    ("VNH_REPLY_WORKER_HELP", "reply_worker_help", "provider",
     "服务人员请回复工单号加“到”或“完”，如“123456 到”；老人告知的验证码写在码字后，如“到 码4821”。"),
    ("VNH_REPLY_WORKER_NO_NUMBER", "reply_worker_no_number", "provider",
     "请用登记的手机直接回复工单号加“到”或“完”，不必再写工号。"),
    ("VNH_REPLY_RECEIVED", "reply_received", "provider", "已收到您的短信，处理结果请在服务商网页查看或致电热线。"),
    ("VNH_BUSY", "reply_busy", "provider",
     "系统繁忙，您的回复未能处理，请稍后重新发送。"),
    # -- to elders (one segment each) --
    ("VNH_ELDER_NOTICE", "elder_confirmation", "elder",
     "${title}您好，${provider_name}将于${when}为您提供${item_name}，工单号${job_code}。"),
    ("VNH_ELDER_REMINDER", "elder_reminder", "elder",
     "${title}您好，提醒您：${provider_name}于${when}为您提供${item_name}，工单号${job_code}。"),
    ("VNH_ELDER_NOTICE_VENUE", "elder_confirmation_venue", "elder",
     "${title}您好，请于${when}到${venue}接受${item_name}，工单号${job_code}。"),
    ("VNH_ELDER_REMINDER_VENUE", "elder_reminder_venue", "elder",
     "${title}您好，提醒您：请于${when}到${venue}接受${item_name}，工单号${job_code}。"),
    ("VNH_ELDER_NOTICE_DELIVERED", "elder_confirmation_delivered", "elder",
     "${title}您好，${provider_name}将于${when}为您送${item_name}上门，工单号${job_code}。"),
    ("VNH_ELDER_REMINDER_DELIVERED", "elder_reminder_delivered", "elder",
     "${title}您好，提醒您：${provider_name}于${when}为您送${item_name}上门，工单号${job_code}。"),
    ("VNH_VISIT_CODE", "visit_code", "elder",
     "${title}您好，服务人员到达后会向您询问验证码，请告诉他：${visit_code}（工单号${job_code}）。"),
    # -- to emergency contacts and family (one segment each) --
    ("VNH_FAMILY_CHECK_IN", "family_check_in", "contact",
     "${contact_name}您好，服务人员${worker_name}已于${time}到达${elder_name}家，开始${item_name}。"),
    ("VNH_FAMILY_STATEMENT", "family_statement", "contact",
     "${contact_name}您好，${elder_name}${month}共接受上门服务${count}次，自付合计${amount}。"),
    ("VNH_FAMILY_CHECK_OUT", "family_check_out", "contact",
     "${contact_name}您好，服务人员${worker_name}已于${time}离开${elder_name}家，${item_name}已完成。"),
    ("VNH_EMERGENCY", "emergency_contact", "contact",
     "${contact_name}您好，${elder_name}于${time}拨打热线按下紧急求助键，话务员正在处理，请尽快与老人联系。"),
    ("VNH_WELLBEING_ALARM", "wellbeing_alarm", "contact",
     "${contact_name}您好，今天两次致电${elder_name}的关爱电话都无人接听，请尽快联系或上门看望老人。"),
)


class UnknownTemplate(KeyError):
    pass


def template_for(purpose: str) -> Template:
    try:
        return TEMPLATES[purpose]
    except KeyError:
        raise UnknownTemplate(purpose) from None


def fit(name: str, value) -> str:
    """A parameter's value as text, shortened with "…" to its documented maximum."""
    text = str(value)
    limit = PARAMS[name].max_chars if name in PARAMS else None
    if limit is not None and len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def fitted(purpose: str, params: dict) -> dict[str, str]:
    """The parameters a template needs, as text within their maxima; a missing one raises KeyError."""
    template = template_for(purpose)
    return {name: fit(name, params[name]) for name in template.params}


def words(purpose: str, params: dict) -> str:
    """The template with its parameters, without the signature (a reply in the same thread)."""
    return _Text(template_for(purpose).text).substitute(fitted(purpose, params))


# The answers a provider's SMS reply can get (dispatcher/hotline/sms.py and the lifecycle's outcome
# messages), besides the offer's accepted_reply and the refusal of an unregistered sender.
REPLY_PURPOSES = tuple(p for p in TEMPLATES if p.startswith("reply_") and p not in ("reply_received", "reply_busy")) \
    + ("accepted_reply", "unregistered_sender")


def reply_template(text: str) -> tuple[str, dict[str, str]]:
    """The named template (and parameters) that renders the reply `text` word for word.

    A carrier delivers only filed templates, so a reply no template renders exactly is sent as
    reply_received instead of as free text.
    """
    text = text.removeprefix(SIGNATURE)
    for purpose in REPLY_PURPOSES:
        found = _pattern(purpose).fullmatch(text)
        if found and words(purpose, found.groupdict()) == text:
            return purpose, found.groupdict()
    return "reply_received", {}


def _pattern(purpose: str) -> re.Pattern:
    parts = re.split(r"\$\{(\w+)\}", template_for(purpose).text)
    pattern, seen = "", set()
    for i, part in enumerate(parts):
        if i % 2 == 0:
            pattern += re.escape(part)
        else:
            # A parameter said twice (the offer's job code) must read the same both times.
            pattern += f"(?P={part})" if part in seen else f"(?P<{part}>.+?)"
            seen.add(part)
    return re.compile(pattern, re.S)


def render(purpose: str, params: dict) -> str:
    """The SMS body for `purpose`: the signature, then the template with its parameters."""
    return SIGNATURE + words(purpose, params)


def spoken(purpose: str, params: dict) -> str:
    """The same words said on a call (to a landline): the signature becomes a spoken greeting."""
    return "这里是虚拟养老院。" + words(purpose, params)


def ucs2_length(text: str) -> int:
    """Characters as a carrier counts them in UCS-2 (a character outside the BMP counts twice)."""
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """SMS parts needed: 70 UCS-2 characters fit in one, 67 in each part of a split message."""
    n = ucs2_length(text)
    if n <= SINGLE_SEGMENT:
        return 1 if n else 0
    return math.ceil(n / MULTI_SEGMENT)


def longest(purpose: str) -> str:
    """The longest rendering: every parameter at its documented maximum length."""
    template = template_for(purpose)
    return render(purpose, {name: "字" * PARAMS[name].max_chars for name in template.params})


def listing() -> list[dict]:
    """One row per template, for `vnh telephony templates` and for filing with a carrier."""
    rows = []
    for template in TEMPLATES.values():
        text = longest(template.purpose)
        rows.append({
            "code": template.code, "purpose": template.purpose, "audience": template.audience,
            "signature": SIGNATURE, "text": template.text,
            "params": {name: {"max_chars": PARAMS[name].max_chars, "meaning": PARAMS[name].meaning}
                       for name in template.params},
            "max_chars": ucs2_length(text), "segments": segments(text),
        })
    return rows
