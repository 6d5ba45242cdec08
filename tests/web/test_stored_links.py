"""A stored URL is rendered as a link only when it is https: or one of the app's own paths."""

from __future__ import annotations

import pytest

from dispatcher.lifecycle.tasks import open_task


@pytest.fixture
def operator(operator_client):
    return operator_client


@pytest.fixture
def voicemail(session, clock, make_elder):
    def leave(recording_url: str) -> None:
        elder = make_elder()
        task = open_task(session, kind="voicemail", reason="来电留言", dedupe_key=f"vm:{elder.id}", now=clock.now(),
                         elder_id=elder.id)
        task.recording_url = recording_url
        session.commit()

    return leave


@pytest.mark.parametrize("url", ["javascript:alert(document.cookie)", " JavaScript:alert(1)",
                                 "data:text/html;base64,PHNjcmlwdD4=", "http://example.org/RE1.mp3",
                                 "//evil.example/RE1.mp3"])
def test_a_voicemail_link_of_another_scheme_is_not_rendered(operator, voicemail, url):
    voicemail(url)
    for path in ("/console", "/console?partial=queue"):
        page = operator.get(path).get_data(as_text=True)
        assert "留言地址无效" in page and "听留言" not in page, path
        assert url.strip() not in page and "javascript:" not in page.lower(), path


@pytest.mark.parametrize("url", ["https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
                                 "/telephony/recordings/RE1"])
def test_a_voicemail_link_over_https_or_to_the_app_is_rendered(operator, voicemail, url):
    voicemail(url)
    page = operator.get("/console").get_data(as_text=True)
    # Issue 19: it plays in the page, fetched through the app with the operator's session.
    assert '<audio controls preload="none" src="/console/tasks/' in page and f'"{url}"' not in page
