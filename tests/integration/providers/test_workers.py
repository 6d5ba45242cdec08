"""Workers on record (issue 18): `vnh worker add|list|…`, CSV import, duplicates, several providers."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dispatcher.cli import main
from providers.models import Worker
from providers.workers import (
    WorkerError,
    WorkerFields,
    add_certificate,
    add_worker,
    expired_certificates,
    workers_at_several_providers,
)


def _valid(first17: str) -> str:
    from dispatcher.enrollment.identity import check_digit

    return first17 + check_digit(first17)


# Valid resident ID numbers (GB 11643 checksums).
ID_A, ID_B = _valid("62010219800601001"), _valid("62010219850715002")


@pytest.fixture
def vnh(database_url, app):
    def run(*args):
        environment = {"VNH_DATABASE_URL": database_url, "VNH_TELEPHONY": "local", "TWILIO_ACCOUNT_SID": "",
                       "TWILIO_AUTH_TOKEN": ""}
        return CliRunner().invoke(main, list(args), env=environment)

    return run


def test_vnh_worker_add_prints_the_work_number_and_list_masks_the_id_and_mobile(vnh, make_provider):
    provider = make_provider()
    added = vnh("worker", "add", "--provider", provider.code, "--name", "张丽", "--phone", "13712340001",
                "--id-number", ID_A, "--items", "HK01,LC01")
    assert added.exit_code == 0, added.output
    assert added.output.strip() == "0001"
    listed = vnh("worker", "list", "--provider", provider.code, "--format", "json")
    (row,) = json.loads(listed.output)
    assert row["work_number"] == "0001" and row["items"] == ["HK01", "LC01"] and row["active"]
    assert ID_A not in listed.output and row["id_number"].startswith("620102") and "*" in row["id_number"]
    assert "13712340001" not in listed.output
    text = vnh("worker", "list", "--provider", provider.code)
    assert ID_A not in text.output and "张丽" in text.output


def test_the_same_id_number_twice_at_one_provider_is_refused(vnh, make_provider):
    provider = make_provider()
    assert vnh("worker", "add", "--provider", provider.code, "--name", "张丽", "--phone", "13712340001",
               "--id-number", ID_A).exit_code == 0
    again = vnh("worker", "add", "--provider", provider.code, "--name", "张丽丽", "--phone", "13712340009",
                "--id-number", ID_A)
    assert again.exit_code != 0 and "已登记为本服务商的服务人员" in again.output and ID_A not in again.output


@pytest.mark.parametrize("option, value, word", [("--id-number", "620102198006010015", "身份证号"),
                                                 ("--phone", "12345", "手机号"),
                                                 ("--items", "ZZ99", "ZZ99")])
def test_bad_worker_input_is_refused_naming_the_field(vnh, make_provider, option, value, word):
    provider = make_provider()
    fields = {"--name": "张丽", "--phone": "13712340001", "--id-number": ID_A, option: value}
    args = [x for pair in fields.items() for x in pair]
    refused = vnh("worker", "add", "--provider", provider.code, *args)
    assert refused.exit_code != 0 and word in refused.output


def test_the_same_worker_at_two_providers_is_allowed_and_visible_to_supervisors(
        session, clock, make_provider, vnh):
    first, second, third = make_provider(), make_provider(), make_provider()
    for provider in (first, second):
        add_worker(session, provider, WorkerFields("张丽", "13712340001", ID_A), clock.now())
    add_worker(session, third, WorkerFields("王芳", "13712340002", ID_B), clock.now())
    session.commit()
    ((id_number, workers),) = workers_at_several_providers(session)
    assert id_number == ID_A and {w.provider_id for w in workers} == {first.id, second.id}
    session.commit()
    shared = vnh("worker", "shared")
    assert first.code in shared.output and second.code in shared.output and third.code not in shared.output
    assert ID_A not in shared.output


def test_deactivate_edit_and_certificates(session, clock, make_provider, vnh):
    from datetime import date

    provider = make_provider()
    worker = add_worker(session, provider, WorkerFields("张丽", "13712340001", ID_A), clock.now())
    add_certificate(session, worker, "健康证", None, date(2026, 1, 1))
    add_certificate(session, worker, "养老护理员", "四级", date(2030, 1, 1))
    session.commit()
    (expired,) = expired_certificates(session, provider.id, date(2026, 11, 25))
    assert expired[1].kind == "健康证"
    session.commit()
    assert vnh("worker", "edit", "--provider", provider.code, "0001", "--items", "HK01").exit_code == 0
    assert vnh("worker", "deactivate", "--provider", provider.code, "0001").exit_code == 0
    cert = vnh("worker", "certificate", "--provider", provider.code, "0001", "--kind", "急救证",
               "--expires", "2027-06-30")
    assert cert.exit_code == 0, cert.output
    listed = vnh("worker", "list", "--provider", provider.code, "--format", "json")
    assert listed.exit_code == 0, (listed.output, listed.exception)
    (row,) = json.loads(listed.output)
    assert {c["kind"] for c in row["certificates"]} == {"健康证", "养老护理员", "急救证"}
    assert (row["items"], row["active"]) == (["HK01"], False)


def test_a_service_refusal_is_a_worker_error_and_writes_nothing(session, clock, make_provider):
    provider = make_provider()
    with pytest.raises(WorkerError, match="姓名"):
        add_worker(session, provider, WorkerFields("", "13712340001", ID_A), clock.now())
    assert session.scalar(select(Worker.id)) is None


def test_vnh_import_workers_names_every_bad_row_and_writes_nothing_then_imports_a_good_file(
        vnh, make_provider, tmp_path, session):
    provider = make_provider()
    bad = tmp_path / "workers.csv"
    bad.write_text("provider_code,name,phone,id_number,items,work_number\n"
                   f"{provider.code},张丽,13712340001,{ID_A},HK01;LC01,A01\n"
                   f"NOPE,王芳,13712340002,{ID_B},,\n"
                   f"{provider.code},李娜,12345,{ID_B},,\n", encoding="utf-8")
    refused = vnh("import", "workers", str(bad))
    assert refused.exit_code != 0
    assert "row 3, provider_code" in refused.output and "row 4, phone" in refused.output
    assert session.scalar(select(Worker.id)) is None
    session.commit()
    good = tmp_path / "good.csv"
    good.write_text("服务商编号,姓名,手机号,身份证号,服务项目,工号\n"
                    f"{provider.code},张丽,13712340001,{ID_A},HK01;LC01,A01\n", encoding="utf-8")
    done = vnh("import", "workers", str(good))
    assert done.exit_code == 0, done.output
    assert "added 1" in done.output
    again = vnh("import", "workers", str(good))
    assert "unchanged 1" in again.output
    session.expire_all()
    (worker,) = session.scalars(select(Worker)).all()
    assert (worker.work_number, worker.items) == ("A01", "HK01,LC01")


def test_the_supervisor_page_lists_a_worker_at_two_providers_masked(app, session, clock, make_provider):
    from dispatcher.consoles.auth import add_user

    first, second = make_provider(), make_provider()
    for provider in (first, second):
        add_worker(session, provider, WorkerFields("张丽", "13712340001", ID_A), clock.now())
    codes = (first.code, second.code)
    add_user(session, username="sup", password="long-enough-pw", role="supervisor", display_name="监督员",
             provider_id=None, now=clock.now())
    session.commit()
    client = app.test_client()
    assert client.post("/login", data={"username": "sup", "password": "long-enough-pw"}).status_code == 302
    page = client.get("/supervisor").get_data(as_text=True)
    assert "在多家服务商登记的服务人员" in page and all(code in page for code in codes)
    assert ID_A not in page and ID_A[:6] in page
