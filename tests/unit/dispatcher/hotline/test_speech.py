"""The speech matcher: what an elder says → a catalogue item, with a confidence."""

import tomllib

import pytest

from dispatcher.catalogue import CATALOGUE_FILE
from dispatcher.hotline.speech import SURE, UNSURE, guess_item, phrases_for


@pytest.fixture(scope="module")
def phrases():
    data = tomllib.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
    return phrases_for([(i["code"], i["name"], i["synonyms"]) for c in data["category"] for i in c["item"]])


@pytest.mark.parametrize(("said", "item"), [
    ("我想找人来打扫一下卫生", "HK01"),
    ("送个午饭", "ML01"),
    ("水管漏水了", "RE01"),
    ("我摔倒了", "EM02"),
    ("门打不开了", "EM04"),
    ("帮我洗个澡吧", "LC01"),
    # A word said with a measure or an aspect between its halves (离合词) is heard whole.
    ("想洗个热水澡", "LC01"),
    ("好久没洗过澡了", "LC01"),
    ("想找个中医把个脉", "HC17"),
    ("想理个发", "LC02"),
    ("帮我去食堂打个饭", "ML19"),
])
def test_a_colloquial_request_is_mapped_to_its_item_with_confidence(phrases, said, item):
    guess = guess_item(said, phrases)
    assert guess is not None and guess.item_code == item
    assert guess.confidence >= SURE


def test_speech_that_names_no_service_is_not_guessed(phrases):
    assert guess_item("今天天气不错", phrases) is None
    assert guess_item("嗯", phrases) is None
    assert guess_item("", phrases) is None


def test_a_vague_request_is_a_guess_to_confirm_not_a_booking(phrases):
    guess = guess_item("家里太脏了", phrases)
    assert guess is not None and UNSURE <= guess.confidence < SURE


def test_a_single_character_never_matches_a_whole_phrase(phrases):
    # "想不开" (a counselling phrase) loses its filler to one character; "开锁" must not match it.
    guess = guess_item("开锁", phrases)
    assert guess is not None and guess.item_code == "EM04"


def test_a_doubtful_recogniser_lowers_the_confidence(phrases):
    sure = guess_item("送个午饭", phrases, asr_confidence=0.95)
    doubtful = guess_item("送个午饭", phrases, asr_confidence=0.1)
    assert doubtful.confidence < SURE <= sure.confidence


def test_words_that_only_stand_apart_are_not_joined(phrases):
    # 冰箱 and 不冷, 屋里 and 没电: no measure or aspect between a word's halves, nothing joined.
    assert guess_item("冰箱不冷了", phrases).item_code == "RE05"
    assert guess_item("屋里没电了", phrases).item_code == "RE01"
    # Nor where the second half begins a word of its own: 扎个针灸 is 针灸, not 扎针.
    assert guess_item("想扎个针灸", phrases).item_code == "RN17"
