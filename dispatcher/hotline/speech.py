"""Map what an elder says to a catalogue item. Pure: phrases in, a guess with a confidence out."""

from __future__ import annotations

import re
from dataclasses import dataclass

SURE = 0.6
UNSURE = 0.3
# Words that carry no meaning for the match: politeness and filler of spoken requests.
_FILLER_WORDS = ["能不能", "找个人", "来个人", "麻烦", "我想", "我要", "想要", "帮我", "帮忙", "找人",
                 "一下", "给我", "那个", "就是", "你们", "可以", "请", "吧", "呢", "啊", "呀", "了", "的"]
_FILLER = re.compile("|".join(_FILLER_WORDS) + r"|[，。！？、,.!?\s]")


@dataclass(frozen=True)
class Phrase:
    item_code: str
    text: str


@dataclass(frozen=True)
class Guess:
    item_code: str
    confidence: float
    heard: str


def phrases_for(items: list[tuple[str, str, list[str]]]) -> list[Phrase]:
    """Build the phrase list from (code, name, synonyms) of each item."""
    return [Phrase(code, text) for code, name, synonyms in items for text in [name, *synonyms] if text]


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)} or ({text} if text else set())


def _similarity(spoken: str, phrase: str) -> float:
    if len(phrase) >= 2 and phrase in spoken:
        return 1.0
    a, b = _bigrams(spoken), _bigrams(phrase)
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))


def guess_item(speech: str, phrases: list[Phrase], asr_confidence: float | None = None) -> Guess | None:
    """The item the speech most likely asks for, or None when nothing is close.

    A phrase said whole scores 1; otherwise the overlap of character pairs (Dice) with the
    speech stripped of filler. The speech recogniser's own confidence scales the result.
    """
    spoken = _FILLER.sub("", speech or "")
    if not spoken:
        return None
    best: Guess | None = None
    for phrase in phrases:
        core = _FILLER.sub("", phrase.text) or phrase.text
        score = max(_similarity(speech, phrase.text), _similarity(spoken, core))
        if best is None or score > best.confidence or (
            score == best.confidence and len(phrase.text) > len(best.heard)
        ):
            best = Guess(phrase.item_code, score, phrase.text)
    if best is None or best.confidence < UNSURE:
        return None
    if asr_confidence is not None and 0 <= asr_confidence < 1:
        best = Guess(best.item_code, round(best.confidence * (0.5 + asr_confidence / 2), 3), best.heard)
    return best
