"""SMS templates: one per outbound purpose, their lengths in segments, and their wording."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from telephony import templates
from telephony.templates import PARAMS, TEMPLATES, render, segments, spoken

ROOT = Path(__file__).resolve().parents[3]
# Runs of Chinese characters in a template's own words (placeholders and punctuation cut them).
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")


def test_one_segment_holds_70_ucs2_characters_and_a_split_message_67_per_part():
    assert segments("") == 0
    assert segments("字" * 70) == 1
    assert segments("字" * 71) == 2
    assert segments("字" * 134) == 2
    assert segments("字" * 135) == 3


def test_a_character_outside_the_basic_plane_counts_twice():
    assert templates.ucs2_length("𠀀") == 2
    assert segments("字" * 69 + "𠀀") == 2


def test_the_signature_counts_in_the_longest_rendering():
    row = next(r for r in templates.listing() if r["purpose"] == "offer_withdrawn")
    assert row["max_chars"] == len(templates.SIGNATURE) + len("工单已由其他服务商接单，本次派单撤回。") + 8


def test_every_purpose_the_code_sends_has_a_template():
    """Every `purpose=` given to enqueue_sms, enqueue_notice or tell_provider names a template."""
    sources = [p for package in ("dispatcher", "providers", "telephony") for p in (ROOT / package).rglob("*.py")]
    purposes: set[str] = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for call in re.finditer(r"\b(?:enqueue_sms|enqueue_notice|tell_provider)\(", text):
            window = text[call.end():call.end() + 400]
            chosen = re.search(r'purpose="(\w+)"(?: if \w+ else "(\w+)")?', window)
            if chosen:
                purposes.update(p for p in chosen.groups() if p)
    purposes.update(("elder_confirmation", "elder_reminder"))  # visits.TEMPLATE_OF
    assert {"offer", "emergency_contact", "provider_suspended"} <= purposes, "the scan found the senders"
    assert purposes <= TEMPLATES.keys()
    assert {"offer", "offer_withdrawn", "order_cancelled", "offer_cancelled", "order_redispatched",
            "order_reassigned", "elder_confirmation", "elder_reminder", "emergency_contact",
            "wellbeing_alarm", "provider_suspended", "accepted_reply"} <= TEMPLATES.keys()


_HAND_WRITTEN_OK = {Path("telephony/templates.py")}


def test_no_sms_body_is_written_by_hand_outside_the_templates():
    for package in ("dispatcher", "providers", "telephony"):
        for path in (ROOT / package).rglob("*.py"):
            if path.relative_to(ROOT) in _HAND_WRITTEN_OK:
                continue
            assert "【虚拟养老院】" not in path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize("purpose", [p for p, t in TEMPLATES.items() if t.audience in ("elder", "contact")])
def test_a_text_to_an_elder_or_a_contact_fits_one_segment_at_its_longest(purpose):
    longest = templates.longest(purpose)
    assert segments(longest) == 1, (purpose, templates.ucs2_length(longest))


@pytest.mark.parametrize("purpose", list(TEMPLATES))
def test_no_template_repeats_a_word(purpose):
    """No two-character word appears twice in a template's own words (today's notice said 上门 thrice)."""
    runs = _CJK_RUN.findall(TEMPLATES[purpose].text)
    words = [run[i:i + 2] for run in runs for i in range(len(run) - 1)]
    assert sorted({w for w in words if words.count(w) > 1}) == []


@pytest.mark.parametrize("purpose", list(TEMPLATES))
def test_every_parameter_has_a_documented_maximum_and_codes_are_unique(purpose):
    assert set(TEMPLATES[purpose].params) <= PARAMS.keys()
    assert len({t.code for t in TEMPLATES.values()}) == len(TEMPLATES)


def test_the_offer_names_its_job_code_and_how_to_reply():
    body = render("offer", {"job_code": "123456", "item_name": "居室保洁", "address": "民勤街社区3号楼",
                            "when": "12月02日 08:30起", "price": "48元", "minutes": 10})
    assert body.startswith("【虚拟养老院】") and "工单号:123456" in body
    assert "“123456 接”" in body and "“123456 拒”" in body and "10分钟内有效" in body


def test_an_amount_reads_the_same_in_the_offer_sms_as_on_the_phone():
    from dispatcher.texts import charge_words, yuan_words

    body = render("offer", {"job_code": "1", "item_name": "助浴", "address": "a", "when": "b",
                            "price": yuan_words(1650), "minutes": 10})
    assert "结算价16.5元" in body and "16.5元" in charge_words(1650, 0, 1650)


def test_a_parameter_longer_than_its_maximum_is_shortened_and_a_missing_one_refused():
    body = render("offer_withdrawn", {"job_code": "1234567890"})
    assert "工单1234567…已由" in body
    with pytest.raises(KeyError):
        render("offer_withdrawn", {})
    with pytest.raises(templates.UnknownTemplate):
        render("no_such_purpose", {})


def test_a_spoken_notice_says_the_words_without_the_bracketed_signature():
    params = {"contact_name": "王小明", "elder_name": "王秀英", "time": "09:30"}
    said = spoken("emergency_contact", params)
    assert said.startswith("这里是虚拟养老院。王小明您好") and "【" not in said
    assert said.endswith(render("emergency_contact", params).removeprefix(templates.SIGNATURE))


def test_the_command_lists_every_template_as_json_with_its_lengths():
    import json

    from click.testing import CliRunner

    from dispatcher.cli import main

    result = CliRunner().invoke(main, ["telephony", "templates", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["purpose"] for r in rows] == list(TEMPLATES)
    for row in rows:
        assert {"code", "purpose", "text", "max_chars", "segments"} <= row.keys()
        assert row["segments"] == segments("字" * row["max_chars"])
    text = CliRunner().invoke(main, ["telephony", "templates"])
    assert text.exit_code == 0 and "VNH_OFFER" in text.output and "${job_code}" in text.output



# What the lifecycle answers a provider's SMS with (dispatcher/lifecycle/orders.py accept_offer and
# decline_offer, attendance.py check_in and check_out), word for word.
_LIFECYCLE_REPLIES = [
    ("该工单不属于您。", "reply_not_yours"), ("工单123456您已接单。", "reply_already_accepted"),
    ("工单123456已失效或已由其他服务商接单。", "reply_offer_gone"), ("已拒绝工单123456。", "reply_declined"),
    ("工单123456已失效，无需处理。", "reply_decline_gone"), ("工单123456已签到。", "reply_already_checked_in"),
    ("工单123456当前不能签到。", "reply_cannot_check_in"), ("已签到：工单123456，09:30。（验证码核验）", "reply_checked_in"),
    ("工单123456已签退。", "reply_already_checked_out"), ("工单123456尚未签到，不能签退。", "reply_not_checked_in"),
    ("已签退：工单123456，感谢您的服务。（定位距老人家约850米，超出300米，按未核验记录）", "reply_checked_out"),
]


@pytest.mark.parametrize("text, purpose", _LIFECYCLE_REPLIES)
def test_each_answer_to_a_providers_reply_is_its_own_named_template(text, purpose):
    found, params = templates.reply_template(text)
    assert found == purpose and templates.words(found, params) == text


def test_an_answer_no_template_renders_is_sent_as_reply_received_never_as_free_text():
    assert templates.reply_template("随便写的一句话") == ("reply_received", {})
    assert "sms_reply" not in TEMPLATES and not any(t.text == "${reply}" for t in TEMPLATES.values())


def test_a_parameter_said_twice_must_read_the_same_both_times():
    said = templates.words("accepted_reply", {"job_code": "123456", "item_name": "居室保洁", "title": "王奶奶",
                                              "address": "城关区酒泉路3号", "when": "12月02日 08:30起"})
    assert templates.reply_template(said)[0] == "accepted_reply"
    assert templates.reply_template(said.replace("“123456 完", "“999999 完"))[0] == "reply_received"
