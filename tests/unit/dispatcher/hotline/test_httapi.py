"""The hotline's replies as mod_httapi documents: dial strings and key bindings."""

import re
import xml.etree.ElementTree as ET

from dispatcher.hotline.flow import Reply
from dispatcher.hotline.httapi import SwitchSettings, bridge_data, national_number, render_document

DESKS = ["+869312345600", "+869312345601"]
ACTION = "https://hotline.example/telephony/switch/call?seq=3"


def test_the_operator_numbers_ring_the_configured_desks_together():
    switch = SwitchSettings(operator_bridge="user/1001,user/1002")

    assert bridge_data(DESKS, switch, DESKS) == "{originate_timeout=25}user/1001,user/1002"


def test_without_desks_the_operator_numbers_go_out_through_the_gateway_as_dialled_in_china():
    assert bridge_data(DESKS, SwitchSettings(), DESKS) == (
        "{originate_timeout=25}sofia/gateway/carrier/09312345600,sofia/gateway/carrier/09312345601")


def test_the_emergency_fallback_number_goes_through_the_gateway_even_with_desks():
    switch = SwitchSettings(operator_bridge="user/1001", gateway="sofia/gateway/pstn/{e164}")

    assert bridge_data(["+8613911112222"], switch, DESKS) == (
        "{originate_timeout=25}sofia/gateway/pstn/+8613911112222")


def test_a_desk_string_with_its_own_originate_variables_is_used_as_it_is():
    switch = SwitchSettings(operator_bridge="{originate_timeout=40}user/1001")

    assert bridge_data(DESKS, switch, DESKS) == "{originate_timeout=40}user/1001"


def test_national_numbers_keep_the_trunk_zero_for_landlines_only():
    assert national_number("+869312345678") == "09312345678"
    assert national_number("+8613912340001") == "13912340001"
    assert national_number("+14155550100") == "0014155550100"


def test_a_one_key_menu_binds_any_single_key_and_waits_six_seconds():
    body = render_document(Reply(say=["保洁按1。", "助餐按2。"], gather=True), ACTION, SwitchSettings(), DESKS)

    speak = ET.fromstring(body).find("work/speak")
    assert speak.text == "保洁按1。助餐按2。"
    assert (speak.get("action"), speak.get("input-timeout"), speak.get("name")) == (ACTION, "6000", "vnh_digits")
    pattern = speak.find("bind").text[1:]
    assert all(re.fullmatch(pattern, key) for key in "0123456789*#")
    assert not re.fullmatch(pattern, "12")


def test_a_code_is_keys_ended_by_hash_which_is_stripped():
    body = render_document(Reply(say=["请输入工单号，以井号键结束。"], gather=True, digits=None), ACTION,
                           SwitchSettings(tts_voice="xiaoyun"), DESKS)

    speak = ET.fromstring(body).find("work/speak")
    bind = speak.find("bind")
    assert speak.get("voice") == "xiaoyun" and speak.get("digit-timeout") == "6000"
    assert bind.get("strip") == "#" and re.fullmatch(bind.text[1:], "482913#")
    assert not re.fullmatch(bind.text[1:], "4829")


def test_a_goodbye_says_its_words_and_hangs_up():
    body = render_document(Reply(say=["再见。"], hangup=True), ACTION, SwitchSettings(), DESKS)

    assert [tag.tag for tag in ET.fromstring(body).find("work")] == ["speak", "hangup"]
