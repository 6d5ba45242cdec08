"""Logs mask phone and ID numbers and are one JSON object a line."""

import json
import logging

import pytest

from dispatcher.operations.logs import JsonFormatter, mask_text


@pytest.mark.parametrize(("raw", "masked"), [
    ("caller +8613912340001 pressed 9", "caller +86139****0001 pressed 9"),
    ("landline +869318123456", "landline +86931****3456"),
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
