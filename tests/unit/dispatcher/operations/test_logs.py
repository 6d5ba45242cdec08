"""Logs mask phone and ID numbers and are one JSON object a line."""

import json
import logging
import sys

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from dispatcher.operations.logs import JsonFormatter, mask_text


@pytest.mark.parametrize(("raw", "masked"), [
    ("caller +8613912340001 pressed 9", "caller +86139****0001 pressed 9"),
    ("landline +869318123456", "landline +8693****3456"),
    ("13912340001 called", "139****0001 called"),
    ("home 0931-8123456", "home 0931-****3456"),
    ("id 620102194103050117", "id 620102********0117"),
    ("id 62010219410305011X", "id 620102********011X"),
])
def test_phone_and_id_numbers_are_masked(raw, masked):
    assert mask_text(raw) == masked


@pytest.mark.parametrize("text", ["order 20261125123456", "job 123456", "4800 fen", "seq=12"])
def test_order_numbers_job_codes_and_amounts_are_left_alone(text):
    assert mask_text(text) == text


def test_a_log_record_becomes_one_masked_json_line():
    record = logging.LogRecord("vnh.hotline", logging.INFO, __file__, 1,
                               "voice %s from %s", ("CA1", "+8613912340001"), None)
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["message"] == "voice CA1 from +86139****0001"
    assert entry["level"] == "info" and entry["logger"] == "vnh.hotline"
    assert "\n" not in line


@pytest.mark.parametrize(("raw", "masked"), [
    ("uk +442079460958 rang", "uk +4420****0958 rang"),
    ("us +14155550100 rang", "us +141****0100 rang"),
    ("hk +85221234567 rang", "hk +852****4567 rang"),
    ("written +44 20 7946 0958 here", "written +4420****0958 here"),
    ("written +1 (415) 555-0100 here", "written +141****0100 here"),
    ("dialled 0044 20 7946 0958", "dialled +4420****0958"),
    ("来电+85221234567转人工", "来电+852****4567转人工"),
])
def test_numbers_of_every_country_are_masked(raw, masked):
    assert mask_text(raw) == masked


@pytest.mark.parametrize(("raw", "hidden"), [
    ("+86 139 1234 0001", "1234"),
    ("+86-139-1234-0001", "1234"),
    ("139 1234 0001", "1234"),
    ("139-1234-0001", "1234"),
    ("8613912340001", "1234"),
    ("008613912340001", "1234"),
    ("１３９１２３４０００１", "1234"),
    ("＋８６１３９１２３４０００１", "1234"),
    ("(0931)8123456", "812"),
    ("（0931）8123456", "812"),
    ("0931 812 3456", "812"),
])
def test_numbers_in_chinese_writing_are_masked(raw, hidden):
    masked = mask_text(f"电话{raw}。")
    assert hidden not in masked and "*" in masked


def _error_with(*values) -> IntegrityError:
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE messages (sid TEXT PRIMARY KEY, sender TEXT, body TEXT)"))
        statement = text("INSERT INTO messages VALUES (:sid, :sender, :body)")
        connection.execute(statement, dict(zip(("sid", "sender", "body"), values, strict=True)))
        try:
            connection.execute(statement, dict(zip(("sid", "sender", "body"), values, strict=True)))
        except IntegrityError as exc:
            return exc
    raise AssertionError("the second insert should have failed")


def test_a_logged_database_error_carries_neither_the_sms_body_nor_the_number():
    error = _error_with("SM1", "+442079460958", "王奶奶的药放在抽屉里")
    try:
        raise error
    except IntegrityError:
        record = logging.LogRecord("vnh.hotline", logging.ERROR, __file__, 1, "sms %s: failed",
                                   ("SM1",), sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert "IntegrityError" in entry["error"]
    assert "王奶奶的药" not in entry["error"] and "7946" not in entry["error"]


def test_an_exception_message_holding_a_foreign_number_is_masked():
    try:
        raise ValueError("could not reach +85221234567")
    except ValueError:
        record = logging.LogRecord("vnh.scheduler", logging.ERROR, __file__, 1, "tick failed", (),
                                   sys.exc_info())
    entry = json.loads(JsonFormatter().format(record))
    assert "+852****4567" in entry["error"] and "21234567" not in entry["error"]


def test_a_database_error_in_the_message_itself_is_stripped_of_its_values():
    record = logging.LogRecord("vnh.scheduler", logging.WARNING, __file__, 1, "tick: %s",
                               (str(_error_with("SM2", "x", "接单请回复1")),), None)
    assert "接单请回复1" not in json.loads(JsonFormatter().format(record))["message"]


@pytest.mark.parametrize("detail", [
    "DETAIL:  Failing row contains (5, SM1, +8613912340001, 王奶奶的药在抽屉里, null).",
    "DETAIL:  Key (body)=(王奶奶的药在抽屉里) already exists.",
])
def test_a_postgresql_error_detail_does_not_carry_the_row_into_the_log(detail):
    try:
        raise RuntimeError(f"null value in column \"reply\"\n{detail}")
    except RuntimeError:
        record = logging.LogRecord("vnh.hotline", logging.ERROR, __file__, 1, "sms failed", (), sys.exc_info())
    assert "王奶奶的药" not in json.loads(JsonFormatter().format(record))["error"]


def test_gunicorns_own_log_masks_numbers_of_every_country(capsys):
    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    from dispatcher.operations.server import GUNICORN_LOG_CONFIG

    config = Config()
    config.set("logconfig_dict", GUNICORN_LOG_CONFIG)
    Logger(config).error("worker died while answering +447700900123 and 13912345678")

    written = capsys.readouterr().err
    assert "gunicorn.error" in written
    assert "+447700900123" not in written and "13912345678" not in written
