"""A real Prometheus server for tests: Debian's /usr/bin/prometheus on 127.0.0.1, a free port.

`start_prometheus(tmp_path, ["127.0.0.1:8000"], bearer_token=...)` writes a scrape config, starts
the server with its storage in `tmp_path` and waits for /-/ready; the returned `PrometheusServer`
queries the HTTP API (`query`, `wait_for_samples`, `targets`) and is stopped by PID (`stop`).
The `prometheus` fixture (tests/integration/conftest.py) starts as many as a test asks for and stops them.
Its first scrape comes some 5 s after the start (Prometheus hands new targets to its scrape
manager at most every 5 s; no flag changes that). `Exporter` serves a prometheus_client registry
(or any collector) on a free port, behind a bearer token when given, for Prometheus to scrape.

A packaged daemon on :9090 (if apt started one) is never used. A missing binary is an error with
what to install (`PrometheusMissing`), never a skip.
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.support.sshd import free_port

PROMETHEUS = "/usr/bin/prometheus"
APT_PACKAGE = "prometheus"

Sample = tuple[dict[str, str], float]


class PrometheusMissing(RuntimeError):
    pass


@dataclass
class PrometheusServer:
    """A running Prometheus: its port, folder, process and log."""

    root: Path
    port: int
    proc: subprocess.Popen
    targets_wanted: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "prometheus.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # -- the HTTP API
    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>: its "data" (AssertionError with Prometheus's error otherwise)."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        try:
            with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:  # 400 / 422: a bad expression; the body says why
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus {path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[Sample]:
        """An instant query: (labels, value) per series, sorted by labels (a scalar: one, with no labels)."""
        data = self.api("query", query=expr)
        kind, result = data["resultType"], data["result"]
        if kind == "vector":
            return sorted(((r["metric"], float(r["value"][1])) for r in result),
                          key=lambda s: sorted(s[0].items()))
        if kind == "scalar":
            return [({}, float(result[1]))]
        raise AssertionError(f"{expr!r} gives a {kind}, not an instant vector or a scalar")

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets: scrapeUrl, health ("up" / "down" / "unknown"), lastError, lastScrape."""
        return [{k: t.get(k) for k in ("scrapeUrl", "health", "lastError", "lastScrape", "lastScrapeDuration")}
                for t in self.api("targets", state="active")["activeTargets"]]

    def wait_for_samples(self, expr: str, want: int | Callable[[list[Sample]], Any] = 1,
                         timeout: float = 30.0) -> list[Sample]:
        """Query until the result has `want` series or more (an int) or `want(result)` is true.

        On timeout, an AssertionError with the last result, the targets' health and last errors,
        and the end of Prometheus's log.
        """
        ok = (lambda r: len(r) >= want) if isinstance(want, int) else want
        deadline = time.monotonic() + timeout
        result: list[Sample] = []
        while True:
            result = self.query(expr)
            if ok(result):
                return result
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        raise AssertionError(f"Prometheus: {expr!r} did not give what was wanted within {timeout} s; last result "
                             f"{result}\n{self.describe()}")

    def wait_for_target(self, health: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Until every target has this health ("up" / "down") after a scrape; the targets."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.targets()
            if found and all(t["health"] == health for t in found):
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"Prometheus targets not all {health!r} within {timeout} s\n{self.describe()}")
            time.sleep(0.2)

    def describe(self) -> str:
        """The targets' health and errors and the end of the log: for a failure message."""
        try:
            lines = [f"  {t['scrapeUrl']}: {t['health']}" + (f" ({t['lastError']})" if t["lastError"] else "")
                     for t in self.targets()]
        except Exception as exc:  # noqa: BLE001 - a message helper: say what is known
            lines = [f"  (targets not read: {exc})"]
        return "targets:\n" + "\n".join(lines) + f"\n--- prometheus log ---\n{self.log()[-2000:]}"

    # -- lifecycle
    def stop(self) -> int | None:
        """Terminate by PID, wait, kill if it does not go; the exit code."""
        proc = self.proc
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode


def scrape_config(targets: list[str], *, metrics_path: str = "/metrics", bearer_token: str | None = None,
                  scrape_interval: str = "1s") -> dict[str, Any]:
    job: dict[str, Any] = {"job_name": "fleetwatch", "metrics_path": metrics_path, "scheme": "http",
                           "static_configs": [{"targets": list(targets)}]}
    if bearer_token is not None:
        job["authorization"] = {"type": "Bearer", "credentials": bearer_token}
    return {"global": {"scrape_interval": scrape_interval, "scrape_timeout": scrape_interval,
                       "evaluation_interval": scrape_interval},
            "scrape_configs": [job]}


def start_prometheus(tmp_path: Path, targets: list[str], *, metrics_path: str = "/metrics",
                     bearer_token: str | None = None, scrape_interval: str = "1s",
                     wait_s: float = 30.0) -> PrometheusServer:
    """Start Prometheus scraping `targets` ("host:port") every `scrape_interval`; ready when it returns."""
    if not Path(PROMETHEUS).exists():
        raise PrometheusMissing(f"{PROMETHEUS} not found: install the apt package '{APT_PACKAGE}' "
                                f"(apt-get install {APT_PACKAGE}, or run .ci/install)")
    root = Path(tmp_path) / f"prometheus-{time.monotonic_ns()}"
    root.mkdir(parents=True)
    config = root / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(targets, metrics_path=metrics_path, bearer_token=bearer_token,
                                                   scrape_interval=scrape_interval), sort_keys=False))
    config.chmod(0o600)  # it may hold a token
    last = ""
    for _attempt in range(3):  # the free port may be taken before Prometheus binds it
        port = free_port()
        cmd = [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={root / 'data'}",
               f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
               "--storage.tsdb.retention.time=1h"]
        with open(root / "prometheus.log", "ab") as log:
            proc = subprocess.Popen(cmd, cwd=root, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        server = PrometheusServer(root=root, port=port, proc=proc, targets_wanted=list(targets))
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return server
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.1)
        server.stop()
        last = server.log()
        if "address already in use" not in last:
            break
    raise RuntimeError(f"Prometheus did not become ready (command {' '.join(cmd)}):\n{last[-3000:]}")


class Exporter:
    """`registry` (a prometheus_client CollectorRegistry) served at /metrics on 127.0.0.1, a free port,
    from a thread; with `token`, only to `Authorization: Bearer <token>` (401 otherwise).
    Counts what it answered: `scrapes` (200) and `refused` (401). Use as a context manager, or `close()`."""

    def __init__(self, registry: Any, *, token: str | None = None) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        self.registry, self.token = registry, token
        self.scrapes = self.refused = 0
        self._lock = threading.Lock()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                if exporter.token is not None and self.headers.get("Authorization") != f"Bearer {exporter.token}":
                    with exporter._lock:
                        exporter.refused += 1
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", "Bearer")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = generate_latest(exporter.registry)
                with exporter._lock:
                    exporter.scrapes += 1
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE_LATEST)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="exporter", daemon=True)
        self._thread.start()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> Exporter:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()
