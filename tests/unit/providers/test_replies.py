import pytest

from providers.replies import ProviderReply, parse_reply


@pytest.mark.parametrize(
    ("text", "action", "code"),
    [
        ("123456 接", "accept", "123456"),
        ("123456接", "accept", "123456"),
        ("123456：完", "check_out", "123456"),
        ("123456:完", "check_out", "123456"),
        ("123456\u3000到", "check_in", "123456"),
        ("123456，拒", "decline", "123456"),
        ("123456:1", "accept", "123456"),
        ("123456 2", "decline", "123456"),
        ("  123456 接。 ", "accept", "123456"),
        ("1234 接", "accept", "1234"),
        ("12345678 接", "accept", "12345678"),
    ],
)
def test_a_reply_with_a_job_code_names_the_code_and_the_action(text, action, code):
    assert parse_reply(text) == ProviderReply(action, code)


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("1", "accept"),
        ("2", "decline"),
        ("接", "accept"),
        ("拒。", "decline"),
        ("到", "check_in"),
        ("完!", "check_out"),
        ("接！", "accept"),
    ],
)
def test_a_bare_word_is_read_without_a_job_code(text, action):
    assert parse_reply(text) == ProviderReply(action, None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        None,
        "好的",
        "123456",
        "123456 好",
        "123456 接单",
        "3",
        "接接",
        "123 接",
        "123456789 接",
        "abcdef 接",
        "接 123456",
        "123456 接。。",
    ],
)
def test_text_that_is_not_a_provider_reply_gives_none(text):
    assert parse_reply(text) is None


@pytest.mark.parametrize(
    ("text", "action", "code"),
    [
        ("１２３４５６ 接", "accept", "123456"),
        ("１２３４５６　完", "check_out", "123456"),
        ("１２３４５６：到", "check_in", "123456"),
        ("１２３４５６　１", "accept", "123456"),
        ("２", "decline", None),
    ],
)
def test_a_reply_typed_in_full_width_digits_is_read_as_the_same_reply(text, action, code):
    assert parse_reply(text) == ProviderReply(action, code)


# -- issue 18: a check-in names the worker and may carry the visit code --------------------------

@pytest.mark.parametrize("text, worker, code", [
    ("123456 到 0001", "0001", None),
    ("123456 到 W007 码4821", "W007", "4821"),
    ("123456到 验证码 4821", None, "4821"),
    ("１２３４５６　完　０００２", "0002", None),
    ("123456 到 13912340001", "13912340001", None),
])
def test_a_check_in_or_out_may_name_the_worker_and_the_visit_code(text, worker, code):
    parsed = parse_reply(text)
    assert parsed is not None and (parsed.job_code, parsed.worker, parsed.visit_code) == ("123456", worker, code)


@pytest.mark.parametrize("text", ["123456 接 0001", "123456 拒 码4821", "123456 到 码12", "123456 到 00 01 02"])
def test_an_offer_answer_names_no_worker_and_a_malformed_tail_is_not_a_reply(text):
    assert parse_reply(text) is None
