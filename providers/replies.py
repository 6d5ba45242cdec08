"""Provider SMS replies: `工单号 指令`, e.g. `123456 接`. Pure."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

ACTIONS = {"接": "accept", "1": "accept", "拒": "decline", "2": "decline", "到": "check_in",
           "完": "check_out"}
_REPLY = re.compile(r"^(?:(?P<code>[0-9]{4,8})[\s\u3000:：,，]*)?(?P<word>接|拒|到|完|1|2)[。.!！]?$")


@dataclass(frozen=True)
class ProviderReply:
    action: str
    job_code: str | None


def parse_reply(text: str) -> ProviderReply | None:
    """Read a reply; None when it is not one of the words a provider can send."""
    # NFKC folds what a Chinese IME types (full-width digits, spaces and colons) to ASCII.
    match = _REPLY.match(unicodedata.normalize("NFKC", text or "").strip())
    if match is None:
        return None
    return ProviderReply(ACTIONS[match["word"]], match["code"])
