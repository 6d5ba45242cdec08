"""Enrollment in the browser: upload, dry run, apply, the bad rows as CSV; bad files refused."""

from __future__ import annotations

import csv
import io
import zipfile

from sqlalchemy import func, select

from dispatcher.administration.models import Upload
from dispatcher.enrollment.models import AuditEntry
from dispatcher.models import Elder
from providers.models import Offering, Provider


def upload(client, kind: str, content: bytes, name: str = "名册.csv"):
    return client.post("/admin/uploads", data={"kind": kind, "file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def count(session, model) -> int:
    return read(session, select(func.count()).select_from(model))


def read(session, statement):
    """One value read by the test, its transaction ended at once (SQLite: the app's writes wait on it)."""
    session.expire_all()
    value = session.scalar(statement)
    session.expunge_all()  # detached: reading it later starts no transaction the app would wait on
    session.rollback()
    return value


def test_a_good_file_is_dry_run_then_applied_with_the_importers_counts(admin, session, elder_row, elders_file):
    response = upload(admin, "elders", elders_file([elder_row(1), elder_row(2)]))
    assert response.status_code == 302
    review = admin.get(response.headers["Location"])
    page = review.get_data(as_text=True)
    assert review.status_code == 200 and 'id="added">2<' in page and "确认导入" in page
    assert count(session, Elder) == 0  # the dry run wrote nothing
    applied = admin.post(response.headers["Location"] + "/apply")
    assert applied.status_code == 200 and "已导入：新增 2" in applied.get_data(as_text=True)
    assert count(session, Elder) == 2
    # Applied once only.
    again = admin.post(response.headers["Location"] + "/apply", follow_redirects=True)
    assert "已经导入过了" in again.get_data(as_text=True) and count(session, Elder) == 2


def test_the_dry_run_tells_rows_to_add_update_and_leave(admin, session, elder_row, elders_file):
    upload(admin, "elders", elders_file([elder_row(1), elder_row(2)]))
    token = read(session, select(Upload.token))
    admin.post(f"/admin/uploads/{token}/apply")
    second = upload(admin, "elders", elders_file([elder_row(1), elder_row(2, name="王秀兰"), elder_row(3)]))
    page = admin.get(second.headers["Location"]).get_data(as_text=True)
    assert 'id="added">1<' in page and 'id="updated">1<' in page and 'id="unchanged">1<' in page


def test_bad_rows_are_named_nothing_is_applied_and_the_errors_download_as_csv(admin, session, elder_row, elders_file):
    rows = [elder_row(1), elder_row(2, gender="X", phone=""), elder_row(3, birth_date="1941-03-06")]
    location = upload(admin, "elders", elders_file(rows)).headers["Location"]
    page = admin.get(location).get_data(as_text=True)
    assert 'id="refused">2<' in page and "确认导入" not in page
    assert "is required" in page and "not one of M, F" in page
    errors = admin.get(location + "/errors.csv")
    assert errors.status_code == 200 and errors.mimetype == "text/csv"
    listed = list(csv.reader(io.StringIO(errors.get_data(as_text=True).lstrip("\ufeff"))))
    assert listed[0] == ["row", "column", "reason"]
    assert {(r[0], r[1]) for r in listed[1:]} == {("3", "gender"), ("3", "phone"), ("4", "birth_date")}
    applied = admin.post(location + "/apply")
    assert applied.status_code == 422 and count(session, Elder) == 0


def test_a_gb18030_file_is_read_as_vnh_import_reads_it(admin, session, elder_row, elders_file):
    location = upload(admin, "elders", elders_file([elder_row(1)], encoding="gb18030")).headers["Location"]
    admin.post(location + "/apply")
    assert read(session, select(Elder.name)) == "王秀英"


def test_an_applied_file_is_audited_as_the_administrator_who_applied_it(admin, session, elder_row, elders_file):
    location = upload(admin, "elders", elders_file([elder_row(1)])).headers["Location"]
    admin.post(location + "/apply")
    location = upload(admin, "elders", elders_file([elder_row(1, name="王秀兰")])).headers["Location"]
    admin.post(location + "/apply")
    entry = read(session, select(AuditEntry))
    assert entry.actor.startswith("laozhang") and entry.changes["name"] == ["王秀英", "王秀兰"]


def test_providers_and_offerings_files_go_through_the_same_importer(admin, session, csv_bytes):
    from dispatcher.enrollment.rows import OFFERING_COLUMNS, PROVIDER_COLUMNS

    provider = {"code": "P001", "name": "兰州安康家政服务有限公司", "license_no": "91620102MA00000001",
                "dispatch_phone": "13800000001", "address": "城关区张掖路", "latitude": "36.06",
                "longitude": "103.83", "service_radius_km": "5", "capacity_per_day": "10", "hours": "08:00-18:00"}
    admin.post(upload(admin, "providers", csv_bytes(PROVIDER_COLUMNS, [provider])).headers["Location"] + "/apply")
    assert read(session, select(Provider.code)) == "P001"
    too_dear = upload(admin, "offerings", csv_bytes(OFFERING_COLUMNS, [
        {"provider_code": "P001", "item_code": "HK01", "price_yuan": "9999"}]))
    assert "80% of the market price" in admin.get(too_dear.headers["Location"]).get_data(as_text=True)
    fine = upload(admin, "offerings", csv_bytes(OFFERING_COLUMNS, [
        {"provider_code": "P001", "item_code": "HK01", "price_yuan": "30"}]))
    admin.post(fine.headers["Location"] + "/apply")
    assert read(session, select(Offering.price_fen)) == 3000


def test_not_a_spreadsheet_is_refused_with_the_reason_and_nothing_is_kept(admin, session):
    response = upload(admin, "elders", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, name="photo.png")
    assert response.status_code == 422 and "未写入任何内容" in response.get_data(as_text=True)
    assert count(session, Upload) == 0


def test_a_workbook_with_a_formula_is_refused_naming_the_cell(admin, session, elder_row):
    from openpyxl import Workbook

    from dispatcher.enrollment.rows import ELDER_COLUMNS

    book = Workbook()
    sheet = book.active
    sheet.append(list(ELDER_COLUMNS))
    row = elder_row(1)
    sheet.append([row[c] for c in ELDER_COLUMNS])
    sheet["B2"] = "=HYPERLINK(\"http://evil.example\", \"王\")"
    out = io.BytesIO()
    book.save(out)
    response = upload(admin, "elders", out.getvalue(), name="名册.xlsx")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "B2" in page and "formula" in page
    assert count(session, Upload) == 0 and count(session, Elder) == 0


def test_a_file_over_the_import_limit_is_refused_with_the_limit(admin, app, session):
    app.config["IMPORT_MAX_MB"] = 1
    response = upload(admin, "elders", b"id_number\n" + b"1" * (1 << 20))
    assert response.status_code == 422 and "文件过大" in response.get_data(as_text=True)
    assert count(session, Upload) == 0


def test_a_body_over_the_web_limit_is_refused_with_a_reason(admin, app):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = upload(admin, "elders", b"x" * 2000)
    assert response.status_code == 413 and "文件过大" in response.get_data(as_text=True)


def test_a_zip_bomb_workbook_is_refused(admin, session):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr("xl/worksheets/sheet1.xml", "<a>" + "x" * (30 << 20) + "</a>")
    response = upload(admin, "elders", out.getvalue(), name="bomb.xlsx")
    assert response.status_code == 422 and count(session, Upload) == 0


def test_an_unknown_kind_and_a_missing_file_are_refused(admin, elder_row, elders_file):
    assert upload(admin, "spaceships", elders_file([elder_row(1)])).status_code == 422
    assert admin.post("/admin/uploads", data={"kind": "elders"}).status_code == 422


def test_another_administrators_upload_cannot_be_seen_or_applied(admin, app, session, clock, elder_row, elders_file, sign_in):
    location = upload(admin, "elders", elders_file([elder_row(1)])).headers["Location"]
    other = sign_in("xiaowang", "admin")
    assert other.get(location).status_code == 404
    assert other.post(location + "/apply").status_code == 404
    assert other.get(location + "/errors.csv").status_code == 404
    assert count(session, Elder) == 0


def test_staff_other_than_administrators_cannot_upload(app, session, clock, make_provider, elder_row, elders_file, sign_in):
    for role in ("operator", "supervisor", "bureau"):
        client = sign_in(f"u-{role}", role)
        assert upload(client, "elders", elders_file([elder_row(1)])).status_code == 403, role
    provider = make_provider()
    client = sign_in("u-provider", "provider", provider.id)
    assert upload(client, "elders", elders_file([elder_row(1)])).status_code == 403
    assert count(session, Upload) == 0


def test_a_further_kind_of_file_is_offered_by_registering_it_in_one_line(admin, session):
    from types import SimpleNamespace

    from dispatcher.administration import uploads

    seen = []

    def run(session, path, options):
        seen.append((path.read_bytes(), options.dry_run))
        return SimpleNamespace(added=1, updated=0, unchanged=0, refused=0, rows=1, error_count=0, errors=[],
                               source="CSV", header_row=1)

    uploads.register("plans", "护理计划", run)
    try:
        assert "护理计划" in admin.get("/admin/uploads").get_data(as_text=True)
        location = upload(admin, "plans", b"plan\n1\n", name="plans.csv").headers["Location"]
        assert admin.post(location + "/apply").status_code == 200
    finally:
        del uploads.KINDS["plans"]
    assert seen[-1] == (b"plan\n1\n", False) and all(dry for _, dry in seen[:-1])


def test_an_assessments_file_is_uploaded_dry_run_and_applied(admin, session, elder_row, elders_file):
    from dispatcher.assessments.models import Assessment

    upload(admin, "elders", elders_file([elder_row(1)]))
    token = read(session, select(Upload.token))
    admin.post(f"/admin/uploads/{token}/apply")
    id_number = read(session, select(Elder.id_number))
    before = count(session, Assessment)  # the enrollment file's level is the first assessment
    lines = ["身份证号码,评估日期,评估等级,评估得分,评估人,评估机构",
             f"{id_number},2026-11-02,中度失能,55,李评估,城关区评估中心",
             f"{id_number},2026-11-03,很严重,55,李评估,城关区评估中心"]
    response = upload(admin, "assessments", ("\n".join(lines) + "\n").encode(), "评估.csv")
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "很严重" in page or "GB/T 42195" in page  # the bad row is named with its reason
    lines.pop()
    good = upload(admin, "assessments", ("\n".join(lines) + "\n").encode(), "评估.csv")
    assert admin.post(good.headers["Location"] + "/apply").status_code == 200
    assert count(session, Assessment) == before + 1
