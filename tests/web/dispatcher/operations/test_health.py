"""`/healthz` and `vnh status`: the database, the scheduler, the backlog, overdue work."""

from click.testing import CliRunner

from dispatcher.cli import main
from telephony.outbox import enqueue_sms


def test_healthz_reports_the_backlog_and_how_late_the_oldest_due_row_is(app, session, clock):
    enqueue_sms(session, to="+8613912340001", purpose="offer_withdrawn", params={"job_code": "123456"},
                dedupe_key="t1",
                from_=app.config["HOTLINE_NUMBER"], now=clock.now())
    session.commit()
    clock.advance(90)

    response = app.test_client().get("/healthz")

    assert response.status_code == 200
    report = response.get_json()
    assert report["ok"] is True
    assert report["outbox_backlog"] == 1 and report["outbox_failed"] == 0
    assert report["oldest_overdue_s"] == 90
    assert report["scheduler"]


def test_healthz_shows_no_personal_data(app, session, clock):
    enqueue_sms(session, to="+8613912340001", purpose="offer_withdrawn", params={"job_code": "123456"},
                dedupe_key="t2",
                from_=app.config["HOTLINE_NUMBER"], now=clock.now())
    session.commit()
    assert "13912340001" not in app.test_client().get("/healthz").get_data(as_text=True)


def test_vnh_status_prints_the_same_report(app, monkeypatch):
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(main, ["status"])
    assert result.exit_code == 0, result.output
    assert "ok: True" in result.output and "outbox_backlog: 0" in result.output


def test_only_one_process_holds_the_scheduler_lease_and_health_names_it(app, clock):
    import pytest
    from conftest import PG_URL

    from dispatcher.operations.health import health_report
    from dispatcher.operations.sweepers import SchedulerLease

    if not PG_URL:
        pytest.skip("the advisory lock exists on PostgreSQL only")
    first, second = SchedulerLease(app), SchedulerLease(app)
    try:
        assert first.acquire() is True
        assert second.acquire() is False
        with app.extensions["vnh.sessionmaker"]() as session:
            assert health_report(session, clock.now())["scheduler"].startswith("postgres backend pid")
        first.release()
        assert second.acquire() is True
    finally:
        first.release()
        second.release()
