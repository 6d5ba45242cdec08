"""Provider SMS replies: `工单号 指令`, e.g. `123456 接`; a check-in or check-out may name the worker and
the visit code: `123456 到 0001 码4821` (work number or the worker's mobile; 码 then the elder's code). Pure."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ACTIONS = {"接": "accept", "1": "accept", "拒": "decline", "2": "decline", "到": "check_in",
           "完": "check_out"}
_REPLY = re.compile(r"^(?:(?P<code>[0-9]{4,8})[\s\u3000:：,，]*)?(?P<word>接|拒|到|完|1|2)"
                    r"(?:[\s:：,，]+(?P<worker>[0-9A-Za-z]{1,20}))?"
                    r"(?:[\s:：,，]*(?:验证码|码)[\s:：]*(?P<visit_code>[0-9]{4}))?[。.!！]?$")


@dataclass(frozen=True)
class ProviderReply:
    action: str
    job_code: str | None
    worker: str | None = None  # the worker's work number or mobile (check-in and check-out only)
    visit_code: str | None = None  # the code the elder read out, written after 码


def parse_reply(text: str) -> ProviderReply | None:
    """Read a reply; None when it is not one of the words a provider can send."""
    # NFKC folds what a Chinese IME types (full-width digits, spaces and colons) to ASCII.
    match = _REPLY.match(unicodedata.normalize("NFKC", text or "").strip())
    if match is None:
        return None
    action = ACTIONS[match["word"]]
    if action in ("accept", "decline") and (match["worker"] or match["visit_code"]):
        return None
    return ProviderReply(action, match["code"], match["worker"], match["visit_code"])
