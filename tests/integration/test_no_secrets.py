"""SPEC §6: private keys, API tokens, passwords and session cookies are never logged, sent or stored.

A real `fleetwatch serve --log-level debug` watches the test sshd twice: with the right key, and
with a key the host does not accept (auth_failed). With users logged in (and a wrong password
tried), the API asked about both hosts and the hub stopped, none of the secrets may appear in the
hub's log, in any response body, or in any table of its database. And no code path switches off
host key checking (`known_hosts=None`).
"""
from __future__ import annotations

import ast
import re
import secrets
import sqlite3
import time
from pathlib import Path

import asyncssh
import httpx
import pytest

from tests.support.hubproc import ROOT, HubProcess, host_entry, make_user, write_inventory

GOOD, LOCKED_OUT = "keyed", "wrong-key"
CHUNK = 40  # a leak of any 40 characters of a key's base64 body counts


def _key_body(path: Path) -> str:
    """The base64 body of a private key file, as one line."""
    lines = path.read_text().splitlines()
    return "".join(line.strip() for line in lines if line.strip() and not line.startswith("-----"))


def _chunks(text: str, size: int = CHUNK) -> set[str]:
    return {text[i:i + size] for i in range(len(text) - size + 1)}


def _secret_key_chunks(*paths: Path) -> dict[Path, set[str]]:
    """Every 40-character window of each key file's body, less those two keys share: the
    `openssh-key-v1 none none ssh-ed25519` header is the same in every such file, not a secret."""
    windows = {p: _chunks(_key_body(p)) for p in paths}
    shared = set.intersection(*windows.values()) if len(windows) > 1 else set()
    return {p: w - shared for p, w in windows.items()}


def _leaks(where: str, text: str, secrets_: dict[str, set[str]]) -> list[str]:
    return [f"{name} in {where}" for name, needles in secrets_.items() if any(n in text for n in needles)]


@pytest.fixture(scope="module")
def hub(sshd, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("secrets")
    wrong_key = tmp / "wrong_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(wrong_key))
    wrong_key.chmod(0o600)
    inventory = write_inventory(tmp / "hosts.yaml", [
        host_entry(sshd, GOOD, services=["nginx.service"]),
        host_entry(sshd, LOCKED_OUT, identity_file=str(wrong_key)),
    ])
    proc = HubProcess(inventory, tmp / "hub.db", extra=["--log-level", "debug"])
    passwords = {"admin-1": "Pw-" + secrets.token_urlsafe(24), "viewer-1": "Pw-" + secrets.token_urlsafe(24)}
    for (name, password), role in zip(passwords.items(), ("admin", "viewer")):
        make_user(proc.db_url, name, role, password)
    proc.start()
    yield {"proc": proc, "passwords": passwords, "keys": [sshd.client_key_path, wrong_key]}
    proc.stop()


def _raw(proc: HubProcess, method: str, path: str, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {proc.token}", **kwargs.pop("headers", {})}
    return httpx.request(method, proc.url + path, headers=headers, timeout=30, **kwargs)


def _wait_for_states(proc: HubProcess, timeout_s: float = 30) -> dict[str, dict]:
    deadline = time.monotonic() + timeout_s
    while True:
        servers = {s["id"]: s for s in proc.get("/api/servers")}
        sample = proc.get(f"/api/servers/{GOOD}/latest")["sample"]
        if servers[GOOD]["state"] == "up" and sample is not None and servers[LOCKED_OUT]["state"] == "auth_failed":
            return servers
        if time.monotonic() > deadline:
            raise AssertionError(f"hosts did not settle: {servers}\n--- hub log ---\n{proc.log()[-3000:]}")
        time.sleep(0.2)


def test_keys_tokens_passwords_are_not_logged_sent_or_stored(hub):
    proc, passwords = hub["proc"], hub["passwords"]
    servers = _wait_for_states(proc)
    assert servers[LOCKED_OUT]["last_error"]  # the auth failure happened, and says why

    bodies: dict[str, str] = {}
    paths = ["/api/servers", "/api/inventory/status", "/openapi.json", "/api/events", "/healthz"]
    for host_id in (GOOD, LOCKED_OUT):
        paths += [f"/api/servers/{host_id}", f"/api/servers/{host_id}/latest"]
    for path in paths:
        r = _raw(proc, "GET", path)
        assert r.status_code == 200, (path, r.text)
        bodies[f"GET {path}"] = r.text
    for host_id, status in ((GOOD, 200), (LOCKED_OUT, 502)):  # probe now: a full report, and the auth error
        r = _raw(proc, "POST", f"/api/servers/{host_id}/probe")
        assert r.status_code == status, r.text
        bodies[f"POST probe {host_id}"] = r.text

    # the browser's way in: a wrong password (logged as a failure), then the right ones
    wrong_password = "Pw-" + secrets.token_urlsafe(24)
    r = httpx.post(proc.url + "/login", data={"name": "admin-1", "password": wrong_password}, timeout=30)
    assert r.status_code == 401
    bodies["POST /login (wrong password)"] = r.text
    cookies = []
    for name, password in passwords.items():
        r = httpx.post(proc.url + "/login", data={"name": name, "password": password, "next": "/"}, timeout=30)
        assert r.status_code == 303, r.text
        cookies.append(r.cookies["fleetwatch_session"])
        page = httpx.get(proc.url + "/", cookies={"fleetwatch_session": cookies[-1]}, timeout=30)
        assert page.status_code == 200
        bodies[f"POST /login {name}"] = r.text  # the body; the cookie itself is in Set-Cookie, by design
        bodies[f"GET / as {name}"] = page.text

    assert proc.stop() == 0
    log = proc.log()
    assert " DEBUG " in log, "the hub did not log at debug level: the test would prove little"
    assert any(LOCKED_OUT in line and "auth_failed" in line for line in log.splitlines())  # the failure is logged ...

    key_chunks = _secret_key_chunks(*hub["keys"])
    assert all(len(c) > 100 for c in key_chunks.values())  # the private part is left to look for
    secrets_: dict[str, set[str]] = {
        **{f"private key {p.name}": chunks for p, chunks in key_chunks.items()},
        "API token": {proc.token},
        "wrong password": {wrong_password},
        **{f"password of {name}": {pw} for name, pw in passwords.items()},
        **{f"session cookie {i}": {c} for i, c in enumerate(cookies)},
    }
    leaks = _leaks("the hub's log", log, secrets_)  # ... its secrets are not
    for where, body in bodies.items():
        leaks += _leaks(f"the response to {where}", body, secrets_)
    with sqlite3.connect(proc.db_path) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert {"hosts", "events", "users", "api_tokens"} <= set(tables), tables
        dump = "\n".join(db.iterdump())  # every row of every table, as SQL text
    leaks += _leaks("the database", dump, secrets_)
    assert not leaks, leaks


def test_the_leak_detector_finds_a_piece_of_a_key(tmp_path):
    keys = []
    for name in ("a", "b"):
        asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(tmp_path / name))
        keys.append(tmp_path / name)
    chunks = _secret_key_chunks(*keys)
    body = _key_body(keys[0])
    leaked = f"DEBUG something: {body[len(body) // 2:len(body) // 2 + CHUNK]} ..."
    assert _leaks("log", leaked, {"key a": chunks[keys[0]]}) == ["key a in log"]
    assert _leaks("log", leaked, {"key b": chunks[keys[1]]}) == []
    assert _leaks("log", body[:CHUNK], {"key a": chunks[keys[0]]}) == []  # the header every key file has


# ------------------------------------------------------------------ host key checking stays on
def _known_hosts_none(source: str) -> list[int]:
    """Lines passing `known_hosts=None` as a keyword, or putting it in a dict literal."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.keyword) and node.arg == "known_hosts" and \
                isinstance(node.value, ast.Constant) and node.value.value is None:
            hits.append(node.value.lineno)
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and key.value == "known_hosts" and \
                        isinstance(value, ast.Constant) and value.value is None:
                    hits.append(key.lineno)
    return hits


def test_the_detector_finds_what_it_looks_for():
    assert _known_hosts_none("asyncssh.connect('h', known_hosts=None)") == [1]
    assert _known_hosts_none("opts = {'known_hosts': None}\nf(**opts)") == [1]
    assert _known_hosts_none("asyncssh.connect('h', known_hosts=known)") == []


@pytest.mark.parametrize("package", ["collector", "inventory", "schema", "webapp"])
def test_no_code_path_turns_host_key_checking_off(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    found = {}
    for path in files:
        source = path.read_text(encoding="utf-8")
        lines = _known_hosts_none(source)
        lines += [n for n, line in enumerate(source.splitlines(), 1) if re.search(r"known_hosts\s*=\s*None\b", line)]
        if lines:
            found[str(path.relative_to(ROOT))] = sorted(set(lines))
    assert not found, f"host key verification switched off (known_hosts=None) at {found}"


def test_the_connection_passes_the_trusted_keys():
    """The one place the hub connects (ssh_pool) hands asyncssh what hostkeys.trusted_keys() gives."""
    source = (ROOT / "collector" / "ssh_pool.py").read_text(encoding="utf-8")
    calls = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
             and getattr(node.func, "attr", None) in ("create_connection", "connect")
             and getattr(node.func.value, "id", None) == "asyncssh"]
    assert calls, "no asyncssh connection in collector/ssh_pool.py"
    for call in calls:
        value = {k.arg: k.value for k in call.keywords}.get("known_hosts")
        assert isinstance(value, ast.Name), f"line {call.lineno}: known_hosts must be the trusted keys, got {value}"
