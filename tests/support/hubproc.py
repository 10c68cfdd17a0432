"""A real `fleetwatch serve` process for end-to-end tests, and inventories over several test sshds."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.support.sshd import SSHDServer, free_port

ROOT = Path(__file__).resolve().parent.parent.parent


def host_entry(sshd: SSHDServer, host_id: str, **overrides: Any) -> dict[str, Any]:
    """An inventory host pointing at one test sshd, with that sshd's key and known_hosts."""
    entry = {"id": host_id, "address": "127.0.0.1", "port": sshd.port, "user": sshd.user,
             "identity_file": str(sshd.client_key_path), "known_hosts": str(sshd.known_hosts_path)}
    entry.update(overrides)
    return entry


def write_inventory(path: Path, hosts: list[dict[str, Any]], **defaults: Any) -> Path:
    doc = {"defaults": {"timeout": "5s", **defaults}, "hosts": hosts}
    path.write_text("# test fleet\n" + yaml.safe_dump(doc, sort_keys=False))
    return path


def make_token(db_url: str, role: str = "admin") -> str:
    """An API token in the database at `db_url` (upgraded first), as `fleetwatch token create` makes one."""
    import secrets

    from sqlmodel import Session

    from schema import auth
    from schema.db import make_engine
    from schema.migrate import upgrade

    upgrade(db_url, log=lambda _line: None)
    engine = make_engine(db_url)
    with Session(engine) as session:
        token = auth.create_token(session, f"tests-{role}-{secrets.token_hex(4)}", role, time.time())
    engine.dispose()
    return token


def make_user(db_url: str, name: str, role: str, password: str) -> None:
    from sqlmodel import Session

    from schema import auth
    from schema.db import make_engine
    from schema.migrate import upgrade

    upgrade(db_url, log=lambda _line: None)
    engine = make_engine(db_url)
    with Session(engine) as session:
        auth.add_user(session, name, role, password, time.time())
    engine.dispose()


UNHEALTHY_AFTER_S = 5.0  # the collectors beat every 2 s: /healthz still 503 after this is the hub's state


class HubProcess:
    """`python -m collector.cli serve` on a free loopback port, stopped by PID."""

    def __init__(self, inventory: Path, db_path: Path, *, extra: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.inventory = inventory
        self.db_path = db_path
        self.env = env or {}  # more environment for the hub (e.g. FLEETWATCH_STREAM_MAX_S)
        self.port = free_port()
        self.extra = extra or []
        self.proc: subprocess.Popen | None = None
        self.log_path = db_path.with_suffix(f".hub-{self.port}.log")
        self.token: str | None = None  # an admin API token, made at the first start

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"

    def start(self, wait_s: float = 30.0) -> HubProcess:
        if self.token is None:
            self.token = make_token(self.db_url)
        env = dict(os.environ, PYTHONUNBUFFERED="1", FLEETWATCH_DATA=str(self.db_path.parent), **self.env)
        cmd = [sys.executable, "-m", "collector.cli", "serve", "--inventory", str(self.inventory),
               "--db", f"sqlite:///{self.db_path}", "--listen", f"127.0.0.1:{self.port}", *self.extra]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        started = time.monotonic()
        deadline = started + wait_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.log()}")
            try:
                status, _ = self.request("GET", "/healthz")
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
                continue
            # 503 while the collectors' first heartbeats are on their way; a hub unhealthy on purpose
            # (a test's broken database) says so for good, and its test checks what it wants
            if status == 200 or time.monotonic() - started > UNHEALTHY_AFTER_S:
                return self
            time.sleep(0.1)
        raise RuntimeError(f"hub did not answer /healthz within {wait_s} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            return exc.code, json.loads(raw) if raw else None

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        if status >= 400:
            raise AssertionError(f"GET {path} -> {status}: {body}\n--- hub log ---\n{self.log()[-3000:]}")
        return body

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode
