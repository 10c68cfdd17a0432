"""Logins, roles, API tokens and CSRF (SPEC §6): every route refuses strangers, viewers only look."""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
import io
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from bs4 import BeautifulSoup
from fastapi.routing import APIRoute
from sqlalchemy import text, update
from sqlmodel import Session

from collector.cli import main as cli_main
from collector.hub import Hub
from schema import auth
from schema.auth_models import WebSession
from schema.db import make_engine
from schema.migrate import upgrade
from tests.support.apphub import served_hub
from tests.support.hubproc import host_entry, make_token, write_inventory
from tests.support.sshd import free_port
from tests.support.webhub import LIVE, USERS
from webapp.app import create_app
from webapp.login_throttle import LOCK_AFTER, LoginThrottle

OPEN = {"/healthz", "/login"}
STATE_CHANGING = {"POST", "PUT", "DELETE", "PATCH"}


def _raw_routes() -> list[tuple[str, str]]:
    """(method, path) of every route the app serves, path parameters still as `{name}`."""
    from sqlalchemy import create_engine

    app = create_app(Hub(Path("unused.yaml"), create_engine("sqlite://")), manage_hub=False)
    out = []
    routes = [r for top in app.routes for r in getattr(getattr(top, "original_router", None), "routes", [top])]
    for route in routes:  # FastAPI keeps included routers as one entry each: flattened above
        if isinstance(route, APIRoute) or getattr(route, "methods", None):
            for method in sorted(route.methods - {"HEAD"}):
                out.append((method, route.path))
    assert len(out) > 30, out  # the API and the pages, not a handful
    return out


def _fill(path: str, host_id: str) -> str:
    return re.sub(r"\{[^}]+\}", host_id, path)


RAW_ROUTES = _raw_routes()
ROUTES = [(method, _fill(path, "alpha")) for method, path in RAW_ROUTES]


@contextmanager
def _login(base: str, name: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, timeout=30) as client:
        resp = client.post("/login", data={"name": name, "password": USERS[name][1], "next": "/"})
        assert resp.status_code == 303, resp.text[:500]
        yield client


def _csrf(client: httpx.Client) -> str:
    doc = BeautifulSoup(client.get("/servers").text, "html.parser")
    return doc.select_one('form.logout input[name="csrf_token"]')["value"]


# --------------------------------------------------------------------------- every route
@pytest.mark.parametrize("method, path", ROUTES, ids=[f"{m} {p}" for m, p in ROUTES])
def test_every_route_refuses_anonymous_requests(web_hub, method, path):
    with httpx.Client(base_url=web_hub.url, timeout=30) as client:
        api = client.request(method, path, headers={"Accept": "application/json"})
        page = client.request(method, path, headers={"Accept": "text/html"})
    if path in OPEN:
        assert api.status_code < 500
        return
    if path.startswith("/api/") or path in ("/openapi.json",):
        assert api.status_code == 401 and api.headers["www-authenticate"] == "Bearer", (api.status_code, api.text)
        assert "log in" in api.json()["detail"]
    else:
        assert page.status_code in (303, 401), (page.status_code, page.text[:300])
        if page.status_code == 303:
            assert page.headers["location"].startswith("/login?next=")
    if path.startswith("/api/"):
        assert api.status_code == 401


@pytest.mark.parametrize("method, path", [r for r in ROUTES if r[0] in STATE_CHANGING
                                          and r[1] not in OPEN | {"/logout"}],
                         ids=lambda v: v if isinstance(v, str) else None)
def test_every_state_changing_route_refuses_a_viewer(web_hub, method, path):
    token = make_token(web_hub.hub.db_url, role="viewer")
    with httpx.Client(base_url=web_hub.url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        resp = client.request(method, path, headers={"Accept": "application/json"})
    assert resp.status_code == 403, (resp.status_code, resp.text)
    assert "viewer" in resp.json()["detail"]


def test_viewers_may_look(web_hub):
    token = make_token(web_hub.hub.db_url, role="viewer")
    with httpx.Client(base_url=web_hub.url, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/api/servers").status_code == 200
        assert client.get("/hosts/alpha", headers={"Accept": "text/html"}).status_code == 200
    with _login(web_hub.url, "vic") as client:
        assert client.get("/").status_code == 200
        assert client.post("/servers", data={"csrf_token": _csrf(client)}).status_code == 403


# --------------------------------------------------------------------------- every page, as a viewer and an admin
HOST_IDS = (*LIVE, "ghost")  # every host of tests/support/webhub.py: two live, one unreachable
NOT_PAGES = {"/openapi.json", "/healthz", "/metrics",  # Prometheus text: tests/integration/test_metrics_endpoint.py
             "/lang/{code}",  # the language switch, a redirect: tests/integration/test_pages_zh.py
             "/stream/overview", "/stream/hosts/{host_id}",  # event streams: tests/integration/test_stream.py
             "/hosts/{host_id}/marks"}  # the charts' markers, JSON: tests/integration/test_pages_zh.py
PAGE_ROUTES = sorted({_fill(path, host) for method, path in RAW_ROUTES for host in HOST_IDS
                      if method == "GET" and not path.startswith("/api/") and path not in NOT_PAGES})
OWN_SESSION_FORMS = {"/login", "/logout"}  # logging in and out touch only the user's own session: viewers need them
WRITE_ATTRS = ("hx-post", "hx-put", "hx-patch", "hx-delete")
LINK_ATTRS = ("href", "action", "formaction", "hx-get")
EDIT_PAGE = re.compile(r"^/servers/(?:new|[^/]+/(?:edit|discover))$")  # the host forms and their service picker
VIEWER_REFUSED = "viewers may look, only admins change hosts"


def _form_method(form) -> str:
    return (form.get("method") or "get").lower()


def edit_controls(html: str) -> list[str]:
    """Every control of a page that changes the hub, or leads to a form that does.

    - a form whose method is not GET (except logging in and out);
    - an element that sends htmx's hx-post, hx-put, hx-patch or hx-delete, or a button's formmethod;
    - a link, form action or hx-get to an edit page: /servers/new, /servers/ID/edit, /servers/ID/discover;
    - a form field outside any form (the edit form's pieces, like discovered services' checkboxes), except a
      `data-browser-only` one: a setting the browser keeps for itself (the theme switch) changes nothing on the hub.
    """
    doc = BeautifulSoup(html, "html.parser")
    found = []
    for el in doc.find_all(True):
        if el.name == "form" and _form_method(el) != "get" \
                and urlsplit(el.get("action") or "").path not in OWN_SESSION_FORMS:
            found.append(f"form {_form_method(el)} {el.get('action')}")
        found += [f"{attr} {el[attr]}" for attr in WRITE_ATTRS if el.has_attr(attr)]
        if (el.get("formmethod") or "get").lower() != "get":
            found.append(f"formmethod {el['formmethod']} {el.get('formaction')}")
        found += [f"link {el[attr]}" for attr in LINK_ATTRS
                  if el.has_attr(attr) and EDIT_PAGE.match(urlsplit(el[attr]).path)]
        if el.name in ("input", "select", "textarea") and el.find_parent("form") is None \
                and not (el.has_attr("data-browser-only") and not el.get("name")):
            found.append(f"field {el.get('name')} outside a form")
    return found


def _firing_alert_ids(admin: httpx.Client) -> list[int]:
    """The firing alerts a Silence button is for: alpha's hot GPU fires `gpu-hot` at its first poll
    (tests/support/webhub.py); silences other tests left (the browser test's Silence button) are lifted first."""
    deadline = time.monotonic() + 20
    while not (rows := admin.get("/api/alerts", params={"state": "firing"}).json()["rows"]):
        assert time.monotonic() < deadline, "gpu-hot never fired"
        time.sleep(0.2)
    csrf = {"X-CSRF-Token": _csrf(admin)}
    for silence in admin.get("/api/alerts/silences").json():
        assert admin.delete(f"/api/alerts/silences/{silence['id']}", headers=csrf).status_code == 200
    rows = admin.get("/api/alerts", params={"state": "firing"}).json()["rows"]
    return [r["id"] for r in rows if not r.get("silenced_until")]


def _pages_as(base: str, name: str) -> dict[str, httpx.Response]:
    with _login(base, name) as client:
        return {path: client.get(path, headers={"Accept": "text/html"}) for path in PAGE_ROUTES}


def test_every_page_shows_a_viewer_no_edit_control(web_hub):
    assert {"/", "/servers", "/hosts/alpha", "/servers/alpha/edit", "/alerts", "/docs"} <= set(PAGE_ROUTES)
    with _login(web_hub.url, "ada") as admin:
        assert _firing_alert_ids(admin), "a firing alert that can be silenced, so its button is under test"
    controls, refusals = {}, {}
    for path, resp in _pages_as(web_hub.url, "vic").items():
        assert resp.headers["content-type"].startswith("text/html"), path
        if found := edit_controls(resp.text):
            controls[path] = found
        main = BeautifulSoup(resp.text, "html.parser").select_one("main")
        if EDIT_PAGE.match(path):  # asked for by hand: a page that says why, not the form
            if resp.status_code != 403 or main is None or VIEWER_REFUSED not in main.text:
                refusals[path] = f"{resp.status_code}: {(main.text if main else resp.text)[:80].strip()!r}"
        else:
            assert resp.status_code == 200, (path, resp.status_code, resp.text[:500])
    assert not controls, f"a viewer is shown edit controls: {controls}"
    assert not refusals, f"a viewer asking for an edit page is not told {VIEWER_REFUSED!r}: {refusals}"


def test_every_edit_control_is_still_there_for_an_admin(web_hub):
    with _login(web_hub.url, "ada") as admin:
        silenceable = _firing_alert_ids(admin)
    assert silenceable, "a firing alert that can be silenced, so its button is under test"
    pages = _pages_as(web_hub.url, "ada")
    assert pages["/servers/new"].status_code == 303 and pages["/servers/new"].headers["location"] == "/servers#add-host"
    expected = {"/servers": ["form post /servers"] + [f"link /servers/{h}/edit" for h in HOST_IDS],
                "/alerts": [f"hx-post /alerts/{i}/silence" for i in silenceable]}
    for h in HOST_IDS:
        expected[f"/hosts/{h}"] = [f"link /servers/{h}/edit"]
        expected[f"/servers/{h}/edit"] = [f"form post /servers/{h}", f"form post /servers/{h}/delete",
                                          f"link /servers/{h}/discover"]
    for path, controls in expected.items():
        assert pages[path].status_code == 200, (path, pages[path].text[:500])
        found = edit_controls(pages[path].text)
        assert set(controls) <= set(found), (path, found)


async def test_the_proxy_buttons_are_for_admins_only(sshd, tmp_path):
    inventory = write_inventory(tmp_path / "hosts.yaml", [host_entry(
        sshd, "tunnel", proxy={"enabled": True, "remote_listen": f"127.0.0.1:{free_port()}",
                               "target": f"127.0.0.1:{free_port()}"})])
    db_url = f"sqlite:///{tmp_path / 'proxy.db'}"
    async with served_hub(inventory, db_url) as served:
        viewer = {"Authorization": f"Bearer {make_token(db_url, role='viewer')}", "Accept": "text/html"}
        seen = {}
        for role, headers in (("admin", {"Accept": "text/html"}), ("viewer", viewer)):
            resp = await served.client.get("/hosts/tunnel", headers=headers)
            assert resp.status_code == 200 and BeautifulSoup(resp.text, "html.parser").select_one("#proxy"), role
            seen[role] = edit_controls(resp.text)
    assert {"hx-post /api/servers/tunnel/proxy/start", "hx-post /api/servers/tunnel/proxy/stop"} <= set(seen["admin"])
    assert seen["viewer"] == []


# --------------------------------------------------------------------------- CSRF
def test_state_changes_with_a_session_need_the_csrf_token(web_hub):
    before = web_hub.inventory.read_text()
    with _login(web_hub.url, "ada") as client:
        form = {"id": "csrf-host", "address": "127.0.0.1"}
        refused = client.post("/servers", data=form)
        assert refused.status_code == 403 and "CSRF" in refused.text
        assert client.post("/servers", data={**form, "csrf_token": "forged"}).status_code == 403
        assert client.delete("/api/servers/alpha").status_code == 403  # a cookie alone changes nothing
        assert web_hub.inventory.read_text() == before
        token = _csrf(client)
        bad = client.post("/servers", data={"id": "csrf-host", "address": "", "csrf_token": token})
        assert bad.status_code == 422  # past the guard: the form's own validation answered
        header = client.post("/servers", data={"id": "csrf-host", "address": ""}, headers={"X-CSRF-Token": token})
        assert header.status_code == 422  # htmx sends the token as a header
    assert web_hub.inventory.read_text() == before


def test_logout_ends_the_session(web_hub):
    with _login(web_hub.url, "vic") as client:  # a viewer may log out too
        cookie = client.cookies["fleetwatch_session"]
        assert client.post("/logout", data={"csrf_token": _csrf(client)}).status_code == 303
    again = httpx.get(web_hub.url + "/api/servers", cookies={"fleetwatch_session": cookie})
    assert again.status_code == 401


def test_login_only_redirects_within_the_hub(web_hub):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        with httpx.Client(base_url=web_hub.url, timeout=30) as client:
            resp = client.post("/login", data={"name": "ada", "password": USERS["ada"][1], "next": target})
            assert resp.status_code == 303 and resp.headers["location"] == "/", target


# --------------------------------------------------------------------------- in-process: throttling, expiry, cookies
@pytest.fixture
def local_app(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'auth.db'}"
    upgrade(db_url, log=lambda _line: None)
    inventory = tmp_path / "hosts.yaml"
    inventory.write_text("hosts: []\n")
    engine = make_engine(db_url)
    app = create_app(Hub(inventory, engine), manage_hub=False)
    app.state.login_throttle = LoginThrottle(delay_step_s=0.01)
    yield app, engine
    engine.dispose()


def _asgi(app, client_ip="10.1.2.3", base="http://hub.test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(client_ip, 5555)), base_url=base)


async def test_no_user_yet_refuses_everyone_and_says_how_to_start(local_app):
    app, _engine = local_app
    async with _asgi(app) as client:
        page = BeautifulSoup((await client.get("/login")).text, "html.parser")
        assert "fleetwatch user add NAME --role admin" in page.select_one("[role=alert]").text
        resp = await client.post("/login", data={"name": "admin", "password": "admin"})
        assert resp.status_code == 401
        assert (await client.get("/api/servers")).status_code == 401


async def test_repeated_failures_slow_down_then_lock_and_the_log_has_no_password(local_app, caplog):
    app, engine = local_app
    with Session(engine) as s:
        auth.add_user(s, "ops", "admin", "the right password", time.time())
    async with _asgi(app, "10.9.9.9") as attacker, _asgi(app, "10.7.7.7") as colleague:
        for _ in range(LOCK_AFTER):
            resp = await attacker.post("/login", data={"name": "ops", "password": "guess-password-123"})
            assert resp.status_code == 401
        locked = await attacker.post("/login", data={"name": "ops", "password": "the right password"})
        assert locked.status_code == 429 and "Too many failed logins" in locked.text
        ok = await colleague.post("/login", data={"name": "ops", "password": "the right password"})
        assert ok.status_code == 303, "another address is not locked out"
    assert "guess-password-123" not in caplog.text and "the right password" not in caplog.text
    assert "login failed for 'ops' from 10.9.9.9" in caplog.text


def test_throttle_delays_grow_then_lock_and_expire():
    throttle = LoginThrottle()
    delays = [throttle.failed("c", 100.0 + i) for i in range(LOCK_AFTER - 1)]
    assert delays[:3] == [0, 0, 0] and delays[3] == 1.0 and delays == sorted(delays) and max(delays) <= 5.0
    assert throttle.locked_for("c", 120.0) == 0
    throttle.failed("c", 120.0)
    assert throttle.locked_for("c", 121.0) == pytest.approx(15 * 60 - 1)
    assert throttle.locked_for("c", 120.0 + 15 * 60 + 1) == 0
    throttle.succeeded("c")
    assert throttle.failures("c") == 0


async def test_session_cookie_flags_and_expiry(local_app):
    app, engine = local_app
    with Session(engine) as s:
        auth.add_user(s, "ops", "viewer", "the right password", time.time())
    async with _asgi(app, base="https://hub.test") as client:
        resp = await client.post("/login", data={"name": "ops", "password": "the right password"})
        cookie = resp.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie and "max-age=43200" in cookie
        assert (await client.get("/api/servers")).status_code == 200
        with Session(engine) as s:
            s.execute(update(WebSession).values(expires_at=time.time() - 1))
            s.commit()
        assert (await client.get("/api/servers")).status_code == 401
    async with _asgi(app) as plain:
        resp = await plain.post("/login", data={"name": "ops", "password": "the right password"})
        assert "secure" not in resp.headers["set-cookie"].lower()


# --------------------------------------------------------------------------- CLI
class _Cli:
    """`fleetwatch ...` in this process (the same main() the console script runs), stdin given."""

    def __init__(self, capsys, monkeypatch) -> None:
        self.capsys, self.monkeypatch = capsys, monkeypatch

    def __call__(self, *args: str, stdin: str = "") -> tuple[int, str, str]:
        self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        try:
            code = cli_main(list(args))
        except SystemExit as exc:  # argparse refusing an argument
            code = exc.code
        out = self.capsys.readouterr()
        return code, out.out, out.err


def test_cli_users_and_tokens(tmp_path, capsys, monkeypatch):
    cli = _Cli(capsys, monkeypatch)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    code, _out, err = cli("user", "add", "root-ops", "--role", "admin", "--password-stdin", "--db", db,
                          stdin="a long enough password\n")
    assert code == 0, err
    assert cli("user", "add", "root-ops", "--role", "admin", "--db", db, stdin="another password\n")[0] == 2
    code, _out, err = cli("user", "add", "x", "--role", "viewer", "--db", db, stdin="short\n")
    assert code == 2 and "too short" in err and "Traceback" not in err
    code, _out, err = cli("user", "add", "y", "--role", "root", "--db", db)
    assert code == 2 and "invalid choice" in err
    assert "root-ops\tadmin" in cli("user", "list", "--db", db)[1]

    code, out, err = cli("token", "create", "ci", "--role", "viewer", "--db", db)
    token = out.strip()
    assert code == 0 and token.startswith("fw_") and len(token) > 40 and "shown this once" in err
    listed = cli("token", "list", "--db", db)[1]
    assert "ci\tviewer\t" + token[:8] + "..." in listed and token not in listed
    engine = make_engine(db)
    with Session(engine) as s:
        assert auth.token_principal(s, token, time.time()).role == "viewer"
        dump = "\n".join(str(row) for row in s.execute(text("SELECT * FROM api_tokens")))
        assert token not in dump and "a long enough password" not in auth.list_users(s)[0].password_hash
    assert cli("token", "revoke", "ci", "--db", db)[0] == 0
    with Session(engine) as s:
        assert auth.token_principal(s, token, time.time()) is None
    assert cli("token", "revoke", "ci", "--db", db)[0] == 1
    assert cli("user", "delete", "root-ops", "--db", db)[0] == 0
    engine.dispose()


def test_passwords_are_slow_salted_hashes(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'h.db'}")
    upgrade(f"sqlite:///{tmp_path / 'h.db'}", log=lambda _line: None)
    with Session(engine) as s:
        a = auth.add_user(s, "a", "admin", "same password!", time.time())
        b = auth.add_user(s, "b", "admin", "same password!", time.time())
        assert a.password_hash.startswith("$argon2id$") and a.password_hash != b.password_hash
        assert auth.authenticate(s, "a", "same password!") is not None
        assert auth.authenticate(s, "a", "wrong") is None and auth.authenticate(s, "nobody", "x") is None
    engine.dispose()
