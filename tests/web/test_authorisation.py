"""Route by route: every page refuses anonymous visitors and staff of the wrong role.

The table below names who may use each route. A route added without a line here fails
`test_every_route_has_declared_access`, so nobody can add a page and forget its check.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from werkzeug.routing.converters import NumberConverter

from dispatcher.consoles.auth import ROLES, add_user
from telephony.simulator import FlaskTransport, Phone

# Open to anyone: the sign-in page, liveness, static files, the API's own description, and (in
# local telephony mode only) the phone simulator, which is the app's stand-in phone network.
PUBLIC = {"static", "auth.login", "auth.logout", "views.healthz", "provider_api.openapi",
          "simulator.outbox", "simulator.simulator_page", "simulator.simulator_post", "portal.login"}
# Twilio's webhooks: refused without its signature (403).
SIGNED_PREFIXES = ("hotline.", "telephony.", "visit_calls.")
# FreeSWITCH's fetches: absent (404) while VNH_SWITCH_SECRET is unset, as here; 403 without it
# once set (tests/web/dispatcher/hotline/test_switch.py).
SECRET_PREFIXES = ("switch.",)
# The provider API: refused without a bearer token (401); a staff session is no token.
TOKEN_PREFIXES = ("provider_api.",)
CONSOLE = {"operator", "supervisor"}
# Staff pages: endpoint (or blueprint prefix ending in ".") → the roles let in; admins always are,
# except where a role is bound to its own data (provider staff to their provider).
STAFF: dict[str, set[str]] = {
    "views.home": {"operator", "supervisor", "provider", "bureau"},
    "views.console": CONSOLE,
    "views.console_transfers": CONSOLE,
    "views.console_card": CONSOLE,
    "views.console_search": CONSOLE,
    "views.console_elder": CONSOLE,
    "views.console_family_add": CONSOLE,
    "views.console_family_review": CONSOLE,
    "plans.elder_plans": CONSOLE,
    "plans.add_plan": CONSOLE,
    "plans.change_plan": CONSOLE,
    "plans.pause_plan": CONSOLE,
    "plans.end_plan": CONSOLE,
    "plans.portal_week": {"provider"},
    "views.console_preview": CONSOLE,
    "views.console_place": CONSOLE,
    "views.console_order": CONSOLE,
    "views.console_redispatch": CONSOLE,
    "views.console_move": CONSOLE,
    "views.console_skip": CONSOLE,
    "desk.transfer_page": CONSOLE,
    "desk.task_recording": CONSOLE,
    "views.console_cancel": CONSOLE,
    "views.console_close_task": CONSOLE,
    "views.console_call": CONSOLE,
    "views.console_board": CONSOLE,
    "views.supervisor": {"supervisor"},
    "views.reinstate_provider": {"supervisor"},
    "views.supervisor_act": {"supervisor"},
    "bureau.": {"bureau", "supervisor"},
    "centre.": {"bureau", "supervisor"},
    "assessments.": CONSOLE,
    "integrity.": {"supervisor"},
    "portal.": {"provider"},
    # Administration in the browser: administrators only.
    "admin_uploads.": set(),
    "admin_records.": set(),
    "admin_providers.": set(),
    # The switch's voicemail, played in the console: a staff page, not the switch's.
    "switch.recording": CONSOLE,
    "staff_admin.": set(),
    "programmes.": {"operator", "supervisor", "bureau"},
    "catalogue_admin.": set(),  # administrators only
}
PROVIDER_BOUND = ("portal.", "plans.portal_week")


def _access(endpoint: str):
    if endpoint in PUBLIC:
        return "public", None
    if endpoint in STAFF:  # a staff page inside a machine-facing blueprint
        return "staff", STAFF[endpoint]
    if endpoint.startswith(SIGNED_PREFIXES):
        return "signed", None
    if endpoint.startswith(TOKEN_PREFIXES):
        return "token", None
    if endpoint.startswith(SECRET_PREFIXES):
        return "secret", None
    for key, roles in STAFF.items():
        if endpoint == key or (key.endswith(".") and endpoint.startswith(key)):
            return "staff", roles
    return None, None


def _example_url(rule, number: str = "1") -> str:
    """The rule with a made-up value for each argument: `number` for numbers, 'x' for the rest."""
    url = rule.rule
    for name, converter in rule._converters.items():
        value = number if isinstance(converter, NumberConverter) else "x"
        url = re.sub(rf"<(?:[^:<>]+:)?{name}>", value, url)
    return url


def _method(rule) -> str:
    return "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]


def _rules(app):
    return [r for r in app.url_map.iter_rules()]


def _refused(response) -> bool:
    return response.status_code in (401, 403) or (
        response.status_code == 302 and "login" in response.headers["Location"])


@pytest.fixture
def staff(app, session, clock, make_provider):
    """A signed-in client for each role."""
    provider = make_provider()
    clients = {}
    # Account 1, the one the walk's example urls name: the administrator's staff pages disable and
    # reset it, which must not sign out the clients walking.
    add_user(session, username="u-spare", password="long-enough-pw", role="operator", display_name="spare",
             provider_id=None, now=clock.now())
    for role in ROLES:
        add_user(session, username=f"u-{role}", password="long-enough-pw", role=role, display_name=role,
                 provider_id=provider.id if role == "provider" else None, now=clock.now())
        session.commit()
        client = app.test_client()
        assert client.post("/login", data={"username": f"u-{role}", "password": "long-enough-pw"}).status_code == 302
        clients[role] = client
    return clients


def test_every_route_has_declared_access(app):
    undeclared = [r.endpoint for r in _rules(app) if _access(r.endpoint)[0] is None]
    assert undeclared == [], f"declare who may use these routes in tests/web/test_authorisation.py: {undeclared}"


def test_every_non_public_route_refuses_an_anonymous_visitor(app):
    client = app.test_client()
    checked = 0
    for rule in _rules(app):
        kind, _ = _access(rule.endpoint)
        if kind == "public":
            continue
        response = client.open(_example_url(rule), method=_method(rule))
        expected = {"signed": (403,), "token": (401,), "secret": (404,)}.get(kind)
        if expected:
            assert response.status_code in expected, (rule.endpoint, response.status_code)
        elif rule.endpoint.startswith(PROVIDER_BOUND):
            assert _refused(response), (rule.endpoint, response.status_code)
        else:
            assert response.status_code == 302 and response.headers["Location"].startswith("/login"), \
                (rule.endpoint, response.status_code)
        checked += 1
    assert checked >= 25


def test_every_staff_route_refuses_the_wrong_roles_and_lets_the_right_ones_in(app, staff):
    checked = 0
    for rule in _rules(app):
        kind, allowed = _access(rule.endpoint)
        if kind != "staff":
            continue
        for role, client in staff.items():
            if role == "admin" and rule.endpoint.startswith(PROVIDER_BOUND):
                continue  # whether an administrator sees a provider's portal is the portal's rule
            response = client.open(_example_url(rule), method=_method(rule))
            if role in allowed or role == "admin":
                assert not _refused(response), (rule.endpoint, role, response.status_code)
            elif rule.endpoint.startswith(PROVIDER_BOUND):
                assert _refused(response), (rule.endpoint, role, response.status_code)
            else:
                assert response.status_code == 403, (rule.endpoint, role, response.status_code)
            checked += 1
    assert checked >= 5 * 18


@pytest.mark.parametrize("number", [str(2**63), str(2**64), "0", "9" * 5000])
def test_every_id_route_answers_not_found_for_an_id_no_row_can_have(app, staff, number):
    """Checked before any signature, token or role: an id outside 1..2^63−1 never reaches the database."""
    anonymous = app.test_client()
    checked = 0
    for rule in _rules(app):
        if not any(isinstance(c, NumberConverter) for c in rule._converters.values()):
            continue
        for client in (anonymous, staff["admin"], staff["operator"], staff["provider"]):
            response = client.open(_example_url(rule, number), method=_method(rule))
            assert response.status_code == 404, (rule.endpoint, response.status_code)
        checked += 1
    assert checked >= 20


def test_a_staff_session_is_not_an_api_token(staff):
    for role, client in staff.items():
        assert client.get("/api/v1/jobs").status_code == 401, role


def test_provider_staff_cannot_open_any_elders_full_record(app, staff, make_elder):
    elder = make_elder()
    provider = staff["provider"]
    for path in (f"/console/elders/{elder.id}", "/console/elders?q=王", "/console/board", "/console"):
        assert provider.get(path).status_code == 403, path


# -- sign-in --------------------------------------------------------------------------------------------

@pytest.fixture
def operator_account(session, clock):
    add_user(session, username="xiaoli", password="long-enough-pw", role="operator", display_name="小李",
             provider_id=None, now=clock.now())
    session.commit()


def _sign_in(client, password, addr="10.0.0.1"):
    return client.post("/login", data={"username": "xiaoli", "password": password},
                       environ_base={"REMOTE_ADDR": addr})


def test_sign_in_is_refused_after_five_failures_even_with_the_right_password(app, operator_account, clock):
    client = app.test_client()
    for _ in range(5):
        assert _sign_in(client, "wrong-password").status_code == 200
    response = _sign_in(client, "long-enough-pw")
    assert response.status_code == 429 and "登录失败次数过多" in response.get_data(as_text=True)
    assert _sign_in(client, "long-enough-pw", addr="10.0.0.2").status_code == 302  # another address
    clock.advance(timedelta(minutes=15).total_seconds())
    assert _sign_in(client, "long-enough-pw").status_code == 302


def test_a_successful_sign_in_clears_the_failures(app, operator_account):
    client = app.test_client()
    for _ in range(4):
        _sign_in(client, "wrong-password")
    assert _sign_in(client, "long-enough-pw").status_code == 302
    for _ in range(4):
        _sign_in(client, "wrong-password")
    assert _sign_in(client, "long-enough-pw").status_code == 302


def test_passwords_are_stored_hashed(app, operator_account):
    from dispatcher.models import StaffUser

    with app.extensions["vnh.sessionmaker"]() as s:
        user = s.scalar(select(StaffUser).where(StaffUser.username == "xiaoli"))
    assert "long-enough-pw" not in user.password_hash and user.password_hash.startswith("$argon2")


def _session_cookie(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))


def test_the_session_cookie_is_http_only_and_same_site_lax(app, operator_account):
    cookie = _session_cookie(_sign_in(app.test_client(), "long-enough-pw"))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_the_session_cookie_is_secure_behind_an_https_proxy(app, operator_account):
    app.config["TRUSTED_PROXIES"] = 1
    from werkzeug.middleware.proxy_fix import ProxyFix

    app.wsgi_app = ProxyFix(app.wsgi_app, x_proto=1)
    response = app.test_client().post("/login", data={"username": "xiaoli", "password": "long-enough-pw"},
                                      headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in _session_cookie(response)


def test_the_session_cookie_is_secure_when_the_public_url_is_https(database_url, clock, operator_account):
    from dispatcher import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "s", "CLOCK": clock,
                      "PUBLIC_URL": "https://hotline.example.org", "WTF_CSRF_ENABLED": False})
    cookie = _session_cookie(app.test_client().post(
        "/login", data={"username": "xiaoli", "password": "long-enough-pw"}))
    app.extensions["vnh.engine"].dispose()
    assert "Secure" in cookie


# -- CSRF -----------------------------------------------------------------------------------------------

@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def _token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_a_form_posted_without_its_csrf_token_is_refused(csrf_app, operator_account, make_elder):
    client = csrf_app.test_client()
    assert client.post("/login", data={"username": "xiaoli", "password": "long-enough-pw"}).status_code == 400
    token = _token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"username": "xiaoli", "password": "long-enough-pw",
                                       "csrf_token": token}).status_code == 302
    elder = make_elder()
    form = {"item_code": "HK01", "slot_code": "asap"}
    assert client.post(f"/console/elders/{elder.id}/orders", data=form).status_code == 400
    assert client.post("/logout").status_code == 400
    page = client.get(f"/console/elders/{elder.id}").get_data(as_text=True)
    response = client.post(f"/console/elders/{elder.id}/orders/preview", data={**form, "csrf_token": _token(page)})
    assert response.status_code == 200


def test_every_staff_form_carries_a_csrf_token(staff, csrf_app, make_elder):
    elder = make_elder()
    for path in ("/console", f"/console/elders/{elder.id}", "/supervisor", "/bureau/", "/admin/staff/",
                 "/admin/staff/1", "/programmes/wellbeing", "/programmes/dormant"):
        page = staff["admin"].get(path).get_data(as_text=True)
        forms = re.findall(r'<form[^>]*method="post".*?</form>', page, flags=re.S)
        assert forms and all('name="csrf_token"' in f for f in forms), path


def test_twilio_webhooks_need_no_csrf_token(csrf_app, make_elder):
    elder = make_elder(phone="+8613912340001")
    call = Phone(FlaskTransport(csrf_app.test_client()), "test-auth-token").call_hotline(elder.phones[0].phone, ["0"])
    assert call.ended_with == "dial" and "转接话务员" in call.text


# -- area scope -----------------------------------------------------------------------------------------
# Which of an area's rows each id argument names (tests/web/conftest.py's AreaData fields).
AREA_IDS = {"elder_id": "elder_id", "order_id": "open_order_id", "task_id": "task_id",
            "schedule_id": "schedule_id"}
# Whole-programme pages an area's account is refused (403) though its role may open them.
WHOLE_PROGRAMME_ONLY = {"bureau.verify"}


def _area_url(rule, ids) -> str | None:
    """The rule with the given area's ids, or None when it takes an id that is not an area's."""
    url = rule.rule
    for name, converter in rule._converters.items():
        if isinstance(converter, NumberConverter):
            if name not in AREA_IDS:
                return None
            value = str(getattr(ids, AREA_IDS[name]))
        else:
            value = "x"
        url = re.sub(rf"<(?:[^:<>]+:)?{name}>", value, url)
    return url


@pytest.mark.parametrize("username", ["a-operator", "a-supervisor", "a-bureau", "a-street"])
def test_every_route_walked_as_an_areas_account_shows_nothing_of_another_area(app, area_staff, two_areas,
                                                                               username):
    """Each staff route, as an account bound to area A: another area's ids are not found, and no page
    shows another area's elder, street or order; A's own ids are found."""
    role = {"a-operator": "operator", "a-supervisor": "supervisor", "a-bureau": "bureau", "a-street": "bureau"}[username]
    client, own, other = area_staff[username], two_areas["A"], two_areas["B"]

    def shows_nothing_of_b(response, where):
        assert response.status_code < 500, (where, response.status_code)
        body = response.get_data(as_text=True) if "xlsx" not in response.mimetype else ""
        assert not [t for t in other.traces() if t in body], (where, [t for t in other.traces() if t in body])

    checked = 0
    for rule in _rules(app):
        kind, allowed = _access(rule.endpoint)
        if kind != "staff" or rule.endpoint.startswith(PROVIDER_BOUND) or (role not in allowed):
            continue  # the role's own refusals are walked above
        method = _method(rule)
        if rule.endpoint in WHOLE_PROGRAMME_ONLY:
            assert client.open(_example_url(rule), method=method).status_code == 403, rule.endpoint
            continue
        url = _area_url(rule, other)
        if url is None:  # an id that is nobody's area (a provider): the page still shows nothing of B
            shows_nothing_of_b(client.open(_example_url(rule), method=method), rule.endpoint)
        elif url != _area_url(rule, own):  # it names an area's row: B's is not found, A's is
            assert client.open(url, method=method).status_code == 404, (rule.endpoint, url)
            if method == "GET":
                assert client.get(_area_url(rule, own)).status_code == 200, rule.endpoint
        else:
            shows_nothing_of_b(client.open(url, method=method), rule.endpoint)
        checked += 1
    # Asking for B by name or filter finds nothing either; and every download holds only A.
    for path in (f"/console/board?street={other.street}", f"/console/elders?q={other.elder_name}",
                 f"/programmes/dormant?days=1&area={other.street}/{other.community}",
                 f"/programmes/dormant.csv?days=1&area={other.street}", "/programmes/dormant.csv?days=1",
                 *(f"/bureau/reports/{k}.csv" for k in ("subsidy", "summary", "settlement"))):
        endpoint = app.url_map.bind("").match(path.split("?")[0])[0]
        if role in _access(endpoint)[1]:
            response = client.get(path)
            if "elders?q=" not in path:  # the search box repeats the query as typed
                shows_nothing_of_b(response, path)
            else:
                assert f"/console/elders/{other.elder_id}" not in response.get_data(as_text=True)
            checked += 1
    assert checked >= 8
