"""The catalogue out to JSON or CSV and back in: `vnh catalogue`, `vnh import catalogue FILE`."""

from __future__ import annotations

import csv
import json
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from dispatcher.catalogue.prices import market_price_on
from dispatcher.catalogue.transfer import export_text, import_catalogue
from dispatcher.cli import main
from dispatcher.models import Item

TODAY = date(2026, 11, 25)


@pytest.fixture
def vnh(database_url, app):
    def run(*args):
        env = {"VNH_DATABASE_URL": database_url, "VNH_TELEPHONY": "local", "TWILIO_ACCOUNT_SID": "",
               "TWILIO_AUTH_TOKEN": "", "VNH_GEOCODER": ""}
        return CliRunner().invoke(main, list(args), env=env)

    return run


def exported(session) -> list[dict]:
    return json.loads(export_text(session, "json", TODAY))


def write_json(tmp_path, rows, name="catalogue.json"):
    path = tmp_path / name
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    return path


def test_vnh_catalogue_lists_at_least_170_items_in_8_categories(vnh):
    result = vnh("catalogue", "--format", "json")

    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert len(rows) >= 170 and len({r["category_code"] for r in rows}) == 8
    canteen = next(r for r in rows if r["item_code"] == "ML06")
    assert (canteen["place"], canteen["venue"]) == ("venue", "社区老年食堂")
    assert all(r["unit"] and r["synonyms"] and r["place"] for r in rows)


def test_the_csv_export_imports_back_unchanged(session, tmp_path, clock):
    path = tmp_path / "catalogue.csv"
    path.write_text(export_text(session, "csv", TODAY), encoding="utf-8")

    report = import_catalogue(session, path, clock.now(), today=TODAY, actor="test")

    assert report.ok, report.errors
    assert (report.added, report.updated, report.unchanged) == (0, 0, len(exported(session)))


def test_an_import_adds_an_item_and_changes_a_price_from_its_date(session, tmp_path, clock):
    rows = exported(session)
    cleaning = next(r for r in rows if r["item_code"] == "HK01")
    cleaning.update(market_price_yuan="66.00", effective_on="2026-12-01")
    new = {**cleaning, "item_code": "HK23", "name": "油烟机清洗", "market_price_yuan": "90.00",
           "synonyms": ["洗抽油烟机"]}
    del new["effective_on"]

    report = import_catalogue(session, write_json(tmp_path, [cleaning, new]), clock.now(), today=TODAY,
                              actor="test")

    assert report.ok and (report.added, report.updated, report.price_changes) == (1, 1, 1), report.errors
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    assert market_price_on(session, item, date(2026, 11, 30)) == 6000
    assert market_price_on(session, item, date(2026, 12, 1)) == 6600
    assert session.scalar(select(Item.position).where(Item.code == "HK23")) == 23


def test_bad_rows_are_named_and_nothing_is_written(session, tmp_path, clock):
    rows = exported(session)[:3]
    rows[0] = {**rows[0], "name": "改了名字"}
    rows[1] = {**rows[1], "market_price_yuan": "abc"}
    rows[2] = {**rows[2], "place": "moon"}
    path = tmp_path / "bad.csv"
    with path.open("w", encoding="gb18030", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({**r, "synonyms": "|".join(r["synonyms"])} for r in rows)

    report = import_catalogue(session, path, clock.now(), today=TODAY, actor="test")

    assert [(row, column) for row, column, _ in report.errors] == [
        (3, "market_price_yuan"), (4, "place")]
    assert session.scalar(select(Item.name).where(Item.code == rows[0]["item_code"])) != "改了名字"


def test_vnh_import_catalogue_names_the_bad_row(vnh, tmp_path, session):
    rows = exported(session)[:2]
    rows[1] = {**rows[1], "item_code": "lc99"}
    session.rollback()  # SQLite: let the command's connection in

    result = vnh("import", "catalogue", str(write_json(tmp_path, rows)))

    assert result.exit_code == 1
    assert "row 2, item_code: 'lc99' is not an item code" in result.output
