"""Map what an elder says to a catalogue item. Pure: phrases in, a guess with a confidence out.

Three ways of hearing a phrase in the speech, the best one wins:

- the phrase said whole (by its characters, or by its sound: the recogniser writes homophones,
  "洗早" for 洗澡, so the phrase's toneless pinyin inside the speech's counts almost as much);
- the words they share (jieba's words; a thing named — a noun — weighs more than what is wrong
  with it, and a word many items use weighs less), so "电视怎么不亮了" is about the television
  (家电维修), not the light (水电维修);
- the overlap of character pairs, for what is said in a way no word list has.

Dialect and everyday words are first put into the catalogue's words (DIALECT), and a word said
with a measure between its halves is joined (洗个热水澡 → 洗澡个热水). Measured on the
corpus in tests/unit/dispatcher/hotline/speech_corpus.csv; SURE and UNSURE are checked there.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import jieba
import jieba.posseg
from pypinyin import lazy_pinyin
from rapidfuzz import fuzz

jieba.setLogLevel(logging.WARNING)

SURE = 0.6
UNSURE = 0.3
# Words that carry no meaning for the match: politeness and filler of spoken requests.
_FILLER_WORDS = ["能不能", "找个人", "来个人", "麻烦", "我想", "我要", "想要", "帮我", "帮忙", "找人",
                 "一下", "给我", "那个", "就是", "你们", "可以", "请", "吧", "呢", "啊", "呀", "了", "的"]
_FILLER = re.compile("|".join(_FILLER_WORDS) + r"|[，。！？、,.!?\s]")
# Words elders here say for the catalogue's words (Lanzhou and the north-west, and plain speech).
DIALECT = {
    "咋": "怎么", "啥": "什么", "娃娃们": "孩子", "娃娃": "孩子", "尕娃": "孩子", "尕": "小", "拉话": "聊天",
    "浪一浪": "走走", "出去浪": "出去走走", "腿子": "腿", "腰杆子": "腰", "衣裳": "衣服", "老汉": "老伴",
    "老婆子": "老伴", "大夫": "医生", "不得劲": "不舒服", "解手": "上厕所", "电壶": "电器", "拐棍": "拐杖",
    "护工": "陪床", "晌午": "中午", "屋里": "家里", "老娘": "老人", "我妈": "老人", "我爸": "老人",
    "我爹": "老人", "推个头": "理个发", "剪个头": "理个发", "中午饭": "午饭", "早上的饭": "早饭",
    "晚上的饭": "晚饭", "电视机": "电视", "窗子": "窗户", "灯泡泡": "灯泡",
}
_DIALECT = re.compile("|".join(sorted(map(re.escape, DIALECT), key=len, reverse=True)))
# Words said about anything, which name no service.
_STOP = frozenset("我 你 他 她 们 的 了 着 个 一 要 想 给 帮 来 去 把 吧 呢 啊 很 得 都 也 又 还 就 是 有 在 "
                  "上 下 一下 一个 能 会 让 人 说 这 那 好 太 多 么 怎么 什么 自己 老伴 老人 孩子 家里".split())
NOUN_WEIGHT = 2.0
SOUND_SCORE = 0.9  # a phrase heard by its sound, not its characters
WORD_FLOOR = 0.5
SOUNDS_ALIKE = 85  # rapidfuzz ratio of two words' pinyin above which they are heard as one
# What may stand between the halves of a separable word: an aspect or a measure (了, 过, 不了, 个,
# 一次, 会儿), then at most two words of what (热水).
_SPLIT = r"(?:(?:不了|得了|了|过|着)(?:[一两几半]?(?:个|次|回|会儿|下))?|[一两几半]?(?:个|次|回|会儿|下))[\u4e00-\u9fff]{0,2}?"


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


def normalise(speech: str) -> str:
    return _DIALECT.sub(lambda m: DIALECT[m.group(0)], speech or "")


def _bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)} or ({text} if text else set())


def _similarity(spoken: str, pairs: set, phrase: str, phrase_pairs: frozenset) -> float:
    if len(phrase) >= 2 and phrase in spoken:
        return 1.0
    if not pairs or not phrase_pairs:
        return 0.0
    return 2 * len(pairs & phrase_pairs) / (len(pairs) + len(phrase_pairs))


def _sound(text: str) -> str:
    return " ".join(lazy_pinyin(text))


def _words(text: str) -> dict[str, bool]:
    """The meaningful words of `text`, each with whether it names a thing (a noun)."""
    return {w.word: w.flag.startswith("n") for w in jieba.posseg.lcut(text)
            if w.word.strip() and w.word not in _STOP and not _FILLER.fullmatch(w.word)}


@dataclass(frozen=True)
class _Entry:
    phrase: Phrase
    core: str
    sound: str
    words: tuple[str, ...]
    weight: float  # of all its words
    pairs: frozenset  # character pairs of the phrase
    core_pairs: frozenset


class _Index:
    """The phrases prepared once: their cores, sounds and words, and each word's weight and sound."""

    def __init__(self, phrases: tuple[Phrase, ...]):
        parsed = [(p, _FILLER.sub("", p.text) or p.text, _words(p.text)) for p in phrases]
        items: dict[str, set[str]] = {}
        nouns = set()
        for phrase, _, words in parsed:
            for word, noun in words.items():
                items.setdefault(word, set()).add(phrase.item_code)
                if noun:
                    nouns.add(word)
        count = len({p.item_code for p in phrases}) or 1
        self.unknown_weight = 1 + math.log(count)
        self.weights = {w: (1 + math.log(count / len(codes))) * (NOUN_WEIGHT if w in nouns else 1.0)
                        for w, codes in items.items()}
        self.sounds = {w: _sound(w) for w in self.weights if len(w) >= 2}
        self.entries = [_Entry(p, core, _sound(core), tuple(words), sum(self.weights[w] for w in words),
                               frozenset(_bigrams(p.text)), frozenset(_bigrams(core)))
                        for p, core, words in parsed]
        # A two-character word said with a measure or an aspect between its halves (离合词:
        # 洗个热水澡, 理个发, 把个脉, 洗过澡) is heard joined, what stood between after it.
        self.separable: dict[str, list[re.Pattern]] = {}
        for word in sorted(w for w in self.weights if len(w) == 2):
            self.separable.setdefault(word[0], []).append(
                re.compile(f"({re.escape(word[0])})({_SPLIT})({re.escape(word[1])})"))

    def join_separated(self, text: str) -> str:
        def join(m: re.Match) -> str:
            # Not where the second half begins a word of its own (扎个针灸 is 针灸, not 扎针).
            if len(word := m.string[m.end(3) - 1:m.end(3) + 1]) == 2 and word in self.weights:
                return m.group(0)
            return m.group(1) + m.group(3) + m.group(2)

        for first in set(text) & self.separable.keys():
            for pattern in self.separable[first]:
                text = pattern.sub(join, text)
        return text

    def heard_words(self, spoken: dict[str, bool]) -> tuple[dict[str, float], float]:
        """How well each known word was said (1 whole, 0.8 in part or by a near sound), and the
        weight of all that was said."""
        said = {w: 1.0 for w in spoken if w in self.weights}
        long_words = [(w, _sound(w)) for w in spoken if len(w) >= 2]
        for word, sound in self.sounds.items():
            if word not in said and any(word in w or w in word or fuzz.ratio(s, sound) >= SOUNDS_ALIKE
                                        for w, s in long_words):
                said[word] = 0.8
        total = sum(self.weights.get(w, self.unknown_weight * (NOUN_WEIGHT if n else 1.0))
                    for w, n in spoken.items())
        return said, total


@lru_cache(maxsize=4)
def _index(phrases: tuple[Phrase, ...]) -> _Index:
    return _Index(phrases)


def _shared(said: dict[str, float], total: float, entry: _Entry, index: _Index) -> float:
    """Weighted Dice of the words of the speech and of the phrase."""
    if not total or not entry.weight:
        return 0.0
    common = sum(index.weights[w] * said.get(w, 0.0) for w in entry.words)
    score = 2 * common / (total + entry.weight)
    # Sharing less than half the meaning ("今天天气不错" and 极端天气探视 share 天气) is no hint at all.
    return score if score >= WORD_FLOOR else 0.0


def guess_item(speech: str, phrases: list[Phrase], asr_confidence: float | None = None) -> Guess | None:
    """The item the speech most likely asks for, or None when nothing is close.

    The speech recogniser's own confidence scales the result.
    """
    index = _index(tuple(phrases))
    said = index.join_separated(normalise(speech))
    spoken = _FILLER.sub("", said)
    if not spoken:
        return None
    sound = f" {_sound(spoken)} "
    said_words, total = index.heard_words(_words(said))
    said_pairs, spoken_pairs = _bigrams(said), _bigrams(spoken)
    best: Guess | None = None
    best_core = 0
    for entry in index.entries:
        score = max(_similarity(said, said_pairs, entry.phrase.text, entry.pairs),
                    _similarity(spoken, spoken_pairs, entry.core, entry.core_pairs),
                    _shared(said_words, total, entry, index))
        if score < SOUND_SCORE and len(entry.core) >= 2 and f" {entry.sound} " in sound:
            score = max(score, SOUND_SCORE)
        # Of two phrases heard as well, the one with more meaning said (its core) is the closer.
        if best is None or score > best.confidence or (score == best.confidence and len(entry.core) > best_core):
            best, best_core = Guess(entry.phrase.item_code, score, entry.phrase.text), len(entry.core)
    if best is None or best.confidence < UNSURE:
        return None
    best = Guess(best.item_code, round(min(best.confidence, 1.0), 3), best.heard)
    if asr_confidence is not None and 0 <= asr_confidence < 1:
        best = Guess(best.item_code, round(best.confidence * (0.5 + asr_confidence / 2), 3), best.heard)
    return best
