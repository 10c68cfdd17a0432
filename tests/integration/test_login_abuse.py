"""Login throttling holds against parallel guesses and forged X-Forwarded-For (issue 14, item 2).

Against a real `fleetwatch serve`: before the fix, 60 wrong passwords sent at
once from one address were all checked (a failure was counted only after
argon2 finished), and any loopback client, a monitored host through its
forward among them, got a fresh address per try from X-Forwarded-For.
"""
from __future__ import annotations

import http.client
import threading
import urllib.parse

from tests.support.hubproc import HubProcess, make_user, write_inventory
from webapp.login_throttle import LOCK_AFTER


def _try_login(port: int, name: str, password: str, headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = urllib.parse.urlencode({"name": name, "password": password, "next": "/"})
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})
    status = conn.getresponse().status
    conn.close()
    return status


def _hub(tmp_path, name: str, extra: list[str] | None = None) -> HubProcess:
    inventory = write_inventory(tmp_path / f"{name}.yaml", [])
    hub = HubProcess(inventory, tmp_path / f"{name}.db", extra=extra)
    make_user(hub.db_url, "ops", "admin", "the right password")
    return hub.start()


def test_sixty_parallel_wrong_passwords_are_not_all_checked(tmp_path):
    hub = _hub(tmp_path, "parallel")
    try:
        statuses: list[int] = []
        lock = threading.Lock()
        go = threading.Event()

        def guess(i: int) -> None:
            go.wait()
            status = _try_login(hub.port, "ops", f"guess-{i}")
            with lock:
                statuses.append(status)

        threads = [threading.Thread(target=guess, args=(i,)) for i in range(60)]
        for t in threads:
            t.start()
        go.set()
        for t in threads:
            t.join(timeout=120)
        checked = statuses.count(401)  # a 401 is a password that was checked and was wrong
        assert len(statuses) == 60 and set(statuses) <= {401, 429}, statuses
        assert checked <= LOCK_AFTER, f"{checked} of 60 parallel guesses were checked (at most {LOCK_AFTER})"
        assert "Traceback" not in hub.log()
    finally:
        hub.stop()


def test_forwarded_for_is_ignored_unless_the_proxy_is_named(tmp_path):
    plain = _hub(tmp_path, "plain")
    try:
        for i in range(1, 6):  # five guesses, each claiming another address
            assert _try_login(plain.port, "ops", f"guess-{i}", {"X-Forwarded-For": f"10.0.0.{i}"}) == 401
        log = plain.log()
        assert "login failed for 'ops' from 127.0.0.1 (5 in a row)" in log, log[-2000:]
        assert "10.0.0." not in log
    finally:
        plain.stop()

    behind_proxy = _hub(tmp_path, "proxied", ["--forwarded-allow-ips", "127.0.0.1"])
    try:
        for i in range(1, 3):
            assert _try_login(behind_proxy.port, "ops", f"guess-{i}", {"X-Forwarded-For": f"10.0.0.{i}"}) == 401
        log = behind_proxy.log()
        assert "login failed for 'ops' from 10.0.0.2 (1 in a row)" in log, "the named proxy's header is trusted"
    finally:
        behind_proxy.stop()
