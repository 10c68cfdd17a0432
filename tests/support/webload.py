"""Web load for the load test and its benchmark: logged-in clients fetching pages as htmx does, and a health prober."""
from __future__ import annotations

import http.client
import threading
import time
import urllib.parse


def login(port: int, name: str, password: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = urllib.parse.urlencode({"name": name, "password": password, "next": "/"})
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    resp = conn.getresponse()
    resp.read()
    cookie = resp.getheader("Set-Cookie") or ""
    conn.close()
    assert resp.status == 303 and cookie, f"login failed: {resp.status}"
    return cookie.split(";", 1)[0]


class Load:
    """`clients` threads, each on its own keep-alive connection, cycling through the pages."""

    def __init__(self, port: int, cookie: str, paths: list[str], clients: int) -> None:
        self.port, self.cookie, self.paths = port, cookie, paths
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.slowest = 0.0
        self.latencies: list[float] = []
        self.threads = [threading.Thread(target=self._client, args=(i,), daemon=True) for i in range(clients)]

    def _client(self, n: int) -> None:
        headers = {"Cookie": self.cookie, "HX-Request": "true", "Accept": "text/html"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        i = n
        while not self.stop.is_set():
            path = self.paths[i % len(self.paths)]
            i += 1
            started = time.monotonic()
            try:
                conn.request("GET", path, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                with self.lock:
                    self.errors += 1
                continue
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                took = time.monotonic() - started
                self.latencies.append(took)
                self.slowest = max(self.slowest, took)
        conn.close()

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=70)


def health_latencies(port: int, seconds: float) -> list[float]:
    """GET /healthz once a second (a fresh connection each time, as a monitor would)."""
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            conn.close()
            out.append(time.monotonic() - started if resp.status == 200 else float("inf"))
        except (OSError, http.client.HTTPException):
            out.append(float("inf"))
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    return out
