"""The simulated caller reads the prompt's words and presses what says their wish — never by position."""

import random

from dispatcher.demo.listener import Caller, Wish, options
from telephony.simulator import Spoken

OPEN_ORDER = "王奶奶您好，这里是虚拟养老院。紧急情况按9。您有一个工单：居室保洁，明天上午上门。保留按1，取消按2，预约其他服务按3。服务人员签到签退按7。"
CATEGORIES = "生活照料按1。家政保洁按2。助餐送餐按3。医疗保健按4。康复护理按5。更多按8。人工服务按0。"


def wish(**fields):
    return Wish("ML01", "送午餐", "助餐送餐", **fields)


def test_a_prompt_is_read_as_options_with_their_own_words():
    opts = {o.key: o.words for o in options(OPEN_ORDER)}
    assert opts == {"9": "紧急情况", "1": "保留", "2": "取消", "3": "预约其他服务", "7": "服务人员签到签退"}
    assert {o.key: o.words for o in options(CATEGORIES)}["0"] == "人工服务"


def test_a_repeat_caller_keeps_the_order_or_books_another_and_never_cancels():
    keeper = Caller("repeat", wish(keep_open=True), random.Random(1))
    assert keeper.answer(OPEN_ORDER) == "1"
    booker = Caller("repeat", wish(), random.Random(1))
    assert booker.answer(OPEN_ORDER) == "3"
    # The same words in another order: the keys follow the words.
    moved = OPEN_ORDER.replace("保留按1，取消按2，预约其他服务按3", "取消按1，预约其他服务按2，保留按3")
    assert Caller("repeat", wish(keep_open=True), random.Random(1)).answer(moved) == "3"
    assert Caller("repeat", wish(), random.Random(1)).answer(moved) == "2"


def test_callers_choose_by_meaning_speak_or_ask_for_a_person():
    assert Caller("decisive", wish(), random.Random(1)).answer(CATEGORIES) == "3"
    assert Caller("decisive", Wish("CP01", "电话聊天陪伴", "精神慰藉"), random.Random(1)).answer(CATEGORIES) == "8"
    assert Caller("confused", wish(), random.Random(1)).answer(CATEGORIES) == "0"
    assert Caller("emergency", wish(), random.Random(1)).answer(OPEN_ORDER) == "9"
    said = Caller("speaker", wish(utterance="中午送个饭来"), random.Random(1)).answer(CATEGORIES)
    assert said == Spoken("中午送个饭来")
    assert Caller("decisive", wish(), random.Random(1)).answer("您要的是送午餐吗？是按1，不是按2。") == "1"
    assert Caller("decisive", wish(), random.Random(1)).answer("您要的是送晚餐吗？是按1，不是按2。") == "2"
    later = Caller("decisive", wish(slot_words=("明天上午", "另约", "尽快")), random.Random(1))
    assert later.answer("尽快上门按1，另约时间按2。") == "2"
    assert later.answer("今天下午按1。明天上午按2。明天下午按3。") == "2"
    # The day menu and then the half-day (issue 17's any date): "明天", then "下午" not "明天".
    afternoon = Caller("decisive", wish(slot_words=("明天下午", "下午", "明天", "另约", "尽快")), random.Random(1))
    assert afternoon.answer("尽快上门按1，另约时间按2。") == "2"
    assert afternoon.answer("今天按1。明天按2。后天按3。星期六按4。星期日按5。星期一按6。星期二按7。"
                            "其他日子请直接说，比如“下周三”或者“12月2号”。") == "2"
    assert afternoon.answer("明天 11月26日 星期四，上午按1，下午按2。") == "2"
    assert Caller("decisive", wish(), random.Random(1)).answer("尽快上门按1，另约时间按2。") == "1"
