"""Area scope: a community worker's account sees and acts on its own community's elders only, on
every page and in every download; another area's ids are not found (404)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from dispatcher.consoles.auth import add_user
from dispatcher.consoles.scope import Area, area_of, in_scope, scope_filter
from dispatcher.models import Elder


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _sees_only_a(page: str, areas) -> None:
    a, b = areas["A"], areas["B"]
    assert a.elder_name in page
    assert b.elder_name not in page and b.street not in page and b.open_order_no not in page


def test_a_community_operator_finds_only_its_communitys_elders(area_staff, two_areas):
    client = area_staff["a-operator"]
    a, b = two_areas["A"], two_areas["B"]
    assert f'/console/elders/{a.elder_id}"' in _text(client.get(f"/console/elders?q={a.elder_name}"))
    page = _text(client.get(f"/console/elders?q={b.elder_name}"))
    assert f'/console/elders/{b.elder_id}"' not in page and "没有找到" in page


def test_a_community_operator_sees_only_its_community_on_the_queue_and_the_board(area_staff, two_areas):
    client = area_staff["a-operator"]
    _sees_only_a(_text(client.get("/console")), two_areas)
    board = _text(client.get("/console/board"))
    assert two_areas["A"].open_order_no in board
    assert two_areas["B"].open_order_no not in board and two_areas["B"].street not in board
    assert client.get("/console/transfers.json").get_json()["open_orders"] == 1


@pytest.mark.parametrize("path", [
    "/console/elders/{elder_id}", "/console/orders/{open_order_id}", "/console/orders/{disputed_order_id}",
    "/console/transfers/{task_id}/card",
])
def test_another_areas_ids_are_not_found(area_staff, two_areas, path):
    client = area_staff["a-operator"]
    assert client.get(path.format(**vars(two_areas["B"]))).status_code == 404
    assert client.get(path.format(**vars(two_areas["A"]))).status_code == 200


def test_a_scoped_operator_cannot_act_on_another_areas_order_or_task(area_staff, two_areas, app):
    from dispatcher.models import OperatorTask, Order

    client, b = area_staff["a-operator"], two_areas["B"]
    form = {"item_code": "HK01", "slot_code": "asap"}
    assert client.post(f"/console/elders/{b.elder_id}/orders/preview", data=form).status_code == 404
    assert client.post(f"/console/elders/{b.elder_id}/orders", data=form).status_code == 404
    assert client.post(f"/console/orders/{b.open_order_id}/cancel", data={"reason": "x"}).status_code == 404
    assert client.post(f"/console/orders/{b.open_order_id}/redispatch", data={"provider_id": "1"}).status_code == 404
    assert client.post(f"/console/tasks/{b.task_id}/close", data={"outcome": "其他", "note": "x"}).status_code == 404
    assert client.post(f"/console/tasks/{b.task_id}/call").status_code == 404
    with app.extensions["vnh.sessionmaker"]() as s:
        assert s.get(Order, b.open_order_id).state != "cancelled"
        assert s.get(OperatorTask, b.task_id).resolved_at is None


def test_a_scoped_supervisor_sees_and_settles_only_its_areas_cases(area_staff, two_areas):
    client = area_staff["a-supervisor"]
    page = _text(client.get("/supervisor"))
    assert f'/supervisor/cases/{two_areas["A"].case_id}"' in page
    assert f'/supervisor/cases/{two_areas["B"].case_id}"' not in page
    assert client.post(f"/supervisor/cases/{two_areas['B'].case_id}",
                       data={"action": "close", "note": "x"}).status_code == 404


def test_a_scoped_bureau_account_reads_its_areas_totals_and_downloads_only(area_staff, two_areas, staff_of_all):
    scoped, whole = area_staff["a-bureau"], staff_of_all["bureau"]
    a, b = two_areas["A"], two_areas["B"]
    page = _text(scoped.get("/bureau/"))
    assert a.community in page and b.street not in page
    assert "服务次数<b>1</b>" in page.replace(" ", "")
    assert "服务次数<b>2</b>" in _text(whole.get("/bureau/")).replace(" ", "")
    for kind in ("subsidy", "summary", "settlement"):
        text = _text(scoped.get(f"/bureau/reports/{kind}.csv"))
        assert b.elder_name not in text and b.street not in text, kind
    detail = list(csv.reader(io.StringIO(_text(scoped.get("/bureau/reports/subsidy.csv")).lstrip("\ufeff"))))
    assert [row[4] for row in detail[1:]] == [a.elder_name]
    assert scoped.get("/bureau/verify").status_code == 403
    street_page = _text(area_staff["a-street"].get("/bureau/"))
    assert a.street in street_page and b.street not in street_page


def test_the_xlsx_download_holds_only_the_areas_rows(area_staff, two_areas):
    from openpyxl import load_workbook

    response = area_staff["a-bureau"].get("/bureau/reports/subsidy.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    cells = {str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row}
    assert two_areas["A"].elder_name in cells and two_areas["B"].elder_name not in cells


def test_accounts_of_every_area_see_both(staff_of_all, two_areas):
    page = _text(staff_of_all["operator"].get("/console"))
    assert two_areas["A"].elder_name in page and two_areas["B"].elder_name in page
    assert staff_of_all["operator"].get(f"/console/elders/{two_areas['B'].elder_id}").status_code == 200


def test_scope_filter_is_true_for_accounts_of_every_area_and_narrows_for_an_area(session, two_areas):
    assert area_of(None) is None
    street_only = Area(two_areas["A"].street)
    names = set(session.scalars(select(Elder.name).where(scope_filter(street_only, Elder.id))))
    assert names == {two_areas["A"].elder_name, two_areas["A"].dormant_name}
    assert in_scope(session, street_only, two_areas["A"].elder_id)
    assert not in_scope(session, street_only, two_areas["B"].elder_id)
    assert not in_scope(session, street_only, None)
    assert len(set(session.scalars(select(Elder.name).where(scope_filter(None, Elder.id))))) == 4


@pytest.fixture
def staff_of_all(two_areas, session, clock, sign_in):
    clients = {}
    for role in ("operator", "bureau"):
        add_user(session, username=f"all-{role}", password="long-enough-pw", role=role, display_name=role,
                 provider_id=None, now=clock.now())
        session.commit()
        clients[role] = sign_in(f"all-{role}")
    return clients
