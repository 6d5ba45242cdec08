"""In a real browser: an administrator uploads an elders file with one bad row, reads the dry run,
downloads the bad rows, uploads the corrected file and applies it; the elders are then on record."""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from datetime import date

import pytest

from dispatcher.enrollment.identity import check_digit
from dispatcher.enrollment.rows import ELDER_COLUMNS
from dispatcher.operations.server import free_port, wait_until_healthy

pytestmark = pytest.mark.browser

PASSWORD = "admin-pw-quiet-river-42"


def _cli(env, *args):
    subprocess.run([sys.executable, "-m", "dispatcher.cli", *args], env=env, check=True, capture_output=True)


def _elders_file(path, *, bad: bool) -> None:
    rows = []
    for serial in (1, 2, 3):
        first17 = f"62010219410305{serial:03d}"
        rows.append({
            "id_number": first17 + check_digit(first17), "name": f"测试老人{serial}", "gender": "女",
            "birth_date": date(1941, 3, 5).isoformat(), "phone": f"1391234{serial:04d}", "other_phones": "",
            "address": "城关区酒泉路街道金塔巷社区3号楼", "street": "酒泉路街道", "community": "金塔巷社区",
            "latitude": "36.0580", "longitude": "103.8270", "elder_class": "特困", "disability_level": "能力完好",
            "lives_alone": "是", "emergency_contact_name": "李伟", "emergency_contact_phone": f"1580000{serial:04d}",
        })  # fmt: skip
    if bad:
        rows[1]["gender"] = "未知"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(ELDER_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode("gb18030"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("enrollment-browser")
    env = {**os.environ, "VNH_DATABASE_URL": f"sqlite:///{folder / 'vnh.sqlite'}", "VNH_TELEPHONY": "local",
           "VNH_SECRET_KEY": "browser-secret", "VNH_QUIET_HOURS": ""}
    for name in ("VNH_PUBLIC_URL", "TWILIO_ACCOUNT_SID"):
        env.pop(name, None)
    _cli(env, "init-db")
    _cli(env, "user", "add", "laozhang", "--role", "admin", "--name", "管理员老张", "--password", PASSWORD)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "dispatcher.cli", "serve", "--port", str(port),
                                "--workers", "1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", 30, process)
        yield f"http://127.0.0.1:{port}", folder
    finally:
        process.terminate()
        process.wait(20)


def test_an_administrator_uploads_reviews_and_applies_an_elders_file(server, browser, shoot):
    base, folder = server
    bad, good = folder / "名册-有错.csv", folder / "名册.csv"
    _elders_file(bad, bad=True)
    _elders_file(good, bad=False)
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True)
    page.set_default_timeout(15_000)
    page.goto(f"{base}/admin/uploads")
    page.fill("input[name=username]", "laozhang")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/admin/uploads$"))

    page.select_option("select[name=kind]", "elders")
    page.set_input_files("input[name=file]", str(bad))
    page.click("text=上传并试导入")
    page.wait_for_selector("#errors")
    shoot(page, "enrollment-01-dry-run-with-a-bad-row")
    assert page.inner_text("#refused") == "1" and page.inner_text("#added") == "2"
    assert "gender" in page.inner_text("#errors") and page.locator("#apply").count() == 0
    with page.expect_download() as download:
        page.click("#download-errors")
    listed = open(download.value.path(), encoding="utf-8-sig").read()
    assert listed.splitlines()[0] == "row,column,reason" and listed.splitlines()[1].startswith("3,gender,")

    page.goto(f"{base}/admin/uploads")
    page.select_option("select[name=kind]", "elders")
    page.set_input_files("input[name=file]", str(good))
    page.click("text=上传并试导入")
    page.wait_for_selector("#apply")
    assert page.inner_text("#added") == "3" and page.inner_text("#refused") == "0"
    page.click("#apply")
    page.wait_for_selector("#applied")
    shoot(page, "enrollment-02-applied")
    assert "新增 3" in page.inner_text("#applied")

    page.goto(f"{base}/admin/elders")
    assert page.locator("text=测试老人2").count() == 1
    page.close()
