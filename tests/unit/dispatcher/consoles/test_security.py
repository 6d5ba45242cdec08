"""The web edge's pure rules: which stored links may be rendered, which ids can exist, which characters go."""

from __future__ import annotations

import pytest

from dispatcher.consoles.security import MAX_ID, database_id, safe_url, without_control_characters


@pytest.mark.parametrize("url", [
    "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
    "https://example.invalid/recordings/RE-simulated",
    "/console/orders/7",
    "/telephony/recordings/RE1.mp3?x=1",
])
def test_https_links_and_the_apps_own_paths_are_rendered(url):
    assert safe_url(url) == url


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "http://example.org/a.mp3",
    "//evil.example/a.mp3", "/\\evil.example/a.mp3", "https:/evil.example", "https://", "ftp://example.org/a",
    "recordings/RE1", "", None,
])
def test_any_other_link_is_not_rendered(url):
    assert safe_url(url) == ""


def test_an_id_is_one_to_the_largest_bigint():
    assert database_id("1") == 1 and database_id(str(MAX_ID)) == MAX_ID
    for value in ("0", "-1", str(MAX_ID + 1), str(2**64), "9" * 5000, "x", ""):
        with pytest.raises(ValueError):
            database_id(value)


def test_nul_and_other_control_characters_go_but_tabs_and_line_breaks_stay():
    assert without_control_characters("1234\x00 接\x07\x1b[31m\x7f\x85") == "1234 接[31m"
    assert without_control_characters("第一行\r\n第二行\t完") == "第一行\r\n第二行\t完"
