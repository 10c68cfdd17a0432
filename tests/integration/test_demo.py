"""`fleetwatch demo` end to end: the real command in its own process, its simulated hosts over real SSH,
its hub through the REST API, then Ctrl-C (no mocks)."""
from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import http.cookiejar
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable

import asyncssh
import pytest
import yaml

from tests.support.sshd import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
LOGIN_LINE = re.compile(r"^Log in as (\S+) with password (\S+)  \(a one-time admin for this demo\)$")
URL_LINE = re.compile(r"^Open (http://\S+)/ +\(Ctrl-C to stop; data in (.+), removed at exit\)$")
FLAKY = "demo-flaky-1"
DOWN = {"down", "unreachable"}


class Demo:
    """`python -m collector.cli demo ...`; stdout and stderr read by threads; stopped by PID."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "collector.cli", "demo", *args], cwd=ROOT,
                                     env=env or dict(os.environ, PYTHONUNBUFFERED="1"), text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=lambda s=stream, acc=lines: acc.extend(s), daemon=True).start()
        self.base = ""
        self.workdir: Path | None = None
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def log(self) -> str:
        return "--- stdout ---\n" + "".join(self.out) + "--- stderr ---\n" + "".join(self.err)[-4000:]

    def wait_url(self, timeout: float = 30) -> tuple[str, Path]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.out):
                m = URL_LINE.match(line.rstrip("\n"))
                if m:
                    self.base, self.workdir = m.group(1), Path(m.group(2))
                    self.log_in()
                    return self.base, self.workdir
            assert self.proc.poll() is None, f"demo exited with {self.proc.returncode}\n{self.log()}"
            time.sleep(0.05)
        raise AssertionError(f"no URL line within {timeout} s\n{self.log()}")

    def log_in(self) -> None:
        """Log in with the printed one-time admin, as a person would; the session cookie is kept."""
        login = next(m for m in map(LOGIN_LINE.match, (line.rstrip("\n") for line in self.out)) if m)
        form = urllib.parse.urlencode({"name": login.group(1), "password": login.group(2), "next": "/"}).encode()
        with self.opener.open(self.base + "/login", data=form, timeout=10) as resp:
            assert resp.status == 200 and resp.url.endswith("/"), resp.url

    def get(self, path: str) -> Any:
        with self.opener.open(self.base + path, timeout=10) as resp:
            return json.load(resp)

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            assert self.proc.poll() is None, f"demo exited with {self.proc.returncode}\n{self.log()}"
            assert time.monotonic() < deadline, f"{what}: not within {timeout} s\n{self.log()}"
            time.sleep(0.5)

    def finish(self, timeout: float = 20) -> int:
        """Wait for the process to exit (kill it after `timeout`); its exit code."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            raise AssertionError(f"demo did not exit within {timeout} s\n{self.log()}") from None

    def kill(self) -> None:
        """Always, in `finally`: SIGTERM (SIGKILL after 10 s) by PID; a failed test leaves no temp folder."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
        if self.workdir is not None and self.workdir.name.startswith("fleetwatch-demo-"):
            shutil.rmtree(self.workdir, ignore_errors=True)


def _servers(demo: Demo) -> dict[str, dict]:
    return {s["id"]: s for s in demo.get("/api/servers")}


def _gpu_sample(demo: Demo) -> dict | None:
    sample = demo.get("/api/servers/demo-gpu-1/latest")["sample"]
    return sample if sample and len(sample["gpus"]) == 4 and sample["services"] else None


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def _ssh_checks(entry: dict) -> None:
    """The simulated host: only the demo key and user get in; exec works both ways; nothing else does."""
    pinned = asyncssh.import_public_key(entry["host_key"])
    common = {"known_hosts": ([pinned], [], []), "config": None, "agent_path": None, "password": None,
              "kbdint_auth": False, "gss_auth": False, "preferred_auth": ["publickey"]}
    key = asyncssh.read_private_key(entry["identity_file"])
    for user, keys in ((entry["user"], [asyncssh.generate_private_key("ssh-ed25519")]), ("someone-else", [key])):
        with pytest.raises(asyncssh.PermissionDenied):
            await asyncssh.connect("127.0.0.1", entry["port"], username=user, client_keys=keys, **common)

    async with asyncssh.connect("127.0.0.1", entry["port"], username=entry["user"], client_keys=[key],
                                **common) as conn:
        result = await conn.run('printf "got %s" "$(cat)"; echo oops >&2; exit 3', input="hello")
        assert (result.stdout, result.stderr, result.exit_status) == ("got hello", "oops\n", 3)
        with pytest.raises(asyncssh.ChannelOpenError):  # no shell
            await conn.create_process()
        with pytest.raises(asyncssh.ChannelOpenError):  # no pty
            await conn.create_process("true", term_type="xterm")
        with pytest.raises((asyncssh.ChannelOpenError, asyncssh.SFTPError)):  # no sftp
            await conn.start_sftp_client()
        with pytest.raises(asyncssh.ChannelOpenError):  # no port forwarding
            await conn.open_connection("127.0.0.1", entry["port"])
        with pytest.raises(asyncssh.ChannelListenError):
            await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", 9)

        # a command still running when its channel closes is killed, with what it started
        process = await conn.create_process("echo $$; sleep 60 & echo $!; wait")
        pids = [int(await process.stdout.readline()) for _ in range(2)]
        assert all(_alive(p) for p in pids)
        process.close()
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not any(_alive(p) for p in pids), f"still running after the channel closed: {pids}"


def test_demo_serves_simulated_hosts_and_stops_cleanly():
    port = free_port()
    demo = Demo("--listen", f"127.0.0.1:{port}", "--flap-up", "8", "--flap-down", "15")
    try:
        url, workdir = demo.wait_url()
        assert url == f"http://127.0.0.1:{port}"
        assert demo.out[0].startswith("fleetwatch demo: 4 simulated hosts on 127.0.0.1 (demo-web-1, ")
        assert stat.S_IMODE(workdir.stat().st_mode) == 0o700
        assert stat.S_IMODE((workdir / "client_ed25519").stat().st_mode) == 0o600
        inventory = {h["id"]: h for h in yaml.safe_load((workdir / "hosts.yaml").read_text())["hosts"]}
        assert set(inventory) == {"demo-web-1", "demo-db-1", "demo-gpu-1", FLAKY}
        assert all(h["host_key"].startswith("ssh-ed25519 AAAA") and h["address"] == "127.0.0.1"
                   for h in inventory.values())

        assert set(_servers(demo)) == set(inventory)
        demo.wait_for("web and db up", lambda: all(
            _servers(demo)[h]["state"] == "up" for h in ("demo-web-1", "demo-db-1")), 20)
        for host in ("demo-web-1", "demo-db-1"):  # the real probe, run on this machine
            sample = demo.wait_for(f"{host} sampled", lambda h=host: demo.get(f"/api/servers/{h}/latest")["sample"],
                                   5)
            assert sample["state"] == "up" and sample["mem_total_bytes"] and sample["disks"], sample

        sample = demo.wait_for("demo-gpu-1 sampled", lambda: _gpu_sample(demo), 20)
        assert [g["name"] for g in sample["gpus"]] == ["NVIDIA H100 80GB HBM3"] * 4
        assert all(isinstance(g["temperature_c"], (int, float)) for g in sample["gpus"])
        units = {s["unit"]: s["active_state"] for s in sample["services"]}
        assert units == {"nginx.service": "active", "backup.service": "failed"}

        asyncio.run(_ssh_checks(inventory["demo-web-1"]))

        # demo-flaky-1: up 8 s, then refused for 15 s, which is 3 failed polls (unreachable) and 3 reconnect
        # tries, whose backoff (<= 4 s) lets the first poll after it comes back reconnect: up again.
        # (A longer down time grows the backoff past the 5 s interval, and the host may miss an 8 s window.)
        seen: list[str] = []

        def flaky_back() -> bool:
            state = _servers(demo)[FLAKY]["state"]
            if not seen or seen[-1] != state:
                seen.append(state)
            return state == "up" and any(s in DOWN for s in seen)

        demo.wait_for("demo-flaky-1 down and up again", flaky_back, 45)
        demo.wait_for("host_down and host_up events", lambda: {"host_down", "host_up"} <= {
            e["type"] for e in demo.get(f"/api/events?server_id={FLAKY}")["rows"]}, 5)  # written once a second

        receiver = next(line for line in demo.out if "webhook receiver at http://127.0.0.1:" in line)
        _alerting_checks(demo, workdir, receiver)

        demo.proc.send_signal(signal.SIGINT)
        assert demo.finish() == 0, demo.log()
        assert not workdir.exists()
        assert all(_refused(h["port"]) for h in inventory.values())
        receiver_port = int(receiver.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])
        assert _refused(receiver_port), "the webhook receiver stops with the demo"
        assert "Traceback" not in "".join(demo.err), demo.log()
    finally:
        demo.kill()


def test_demo_port_taken_fails_clearly():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        demo = Demo("--listen", f"127.0.0.1:{port}")
        try:
            rc = demo.finish(timeout=30)
        finally:
            demo.kill()
    err = "".join(demo.err)
    assert rc == 1, demo.log()
    assert f"cannot listen on 127.0.0.1:{port}" in err and "in use" in err, err
    assert "Traceback" not in err and not demo.out


def test_demo_without_posix_sh_fails_clearly(tmp_path):
    demo = Demo("--listen", f"127.0.0.1:{free_port()}", env=dict(os.environ, PATH=str(tmp_path)))
    try:
        rc = demo.finish(timeout=30)
    finally:
        demo.kill()
    err = "".join(demo.err)
    assert rc == 1 and "POSIX sh" in err and "Traceback" not in err, demo.log()


def _received(workdir: Path) -> list[dict]:
    """What the demo's webhook receiver got: one JSON line a delivery."""
    path = workdir / "webhook-received.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []



def _alerting_checks(demo: Demo, workdir: Path, receiver: str) -> None:
    """Issue 18 item 8: the demo ships a hot-GPU rule and a host-down rule whose notifier posts to a receiver
    the demo runs; alerts fire, the receiver gets them, the Alerts page counts them, and History is not empty
    (the first rollup runs soon after the start)."""
    inventory = yaml.safe_load((workdir / "hosts.yaml").read_text())
    assert {r["name"] for r in inventory["alerts"]} == {"demo-gpu-hot", "demo-host-down"}
    assert inventory["notifiers"]["demo-receiver"]["url"] in receiver

    def raised(rule: str) -> list[dict]:
        return [a for a in demo.get(f"/api/alerts?rule={rule}")["rows"] if a["state"] in ("firing", "resolved")]

    hot = demo.wait_for("the hot GPU's alert firing", lambda: raised("demo-gpu-hot"), 30)
    assert {(a["host_id"], a["item"]) for a in hot} == {("demo-gpu-1", "2")}, hot
    demo.wait_for("the host-down alert", lambda: raised("demo-host-down"), 10)

    def delivered() -> set[str]:
        return {d["body"]["alert"]["rule"] for d in _received(workdir) if isinstance(d["body"], dict)}
    demo.wait_for("both alerts received by the demo's receiver",
                  lambda: {"demo-gpu-hot", "demo-host-down"} <= delivered(), 20)
    stats = demo.wait_for("the Alerts page counting the deliveries", lambda: next(
        (n["stats"] for n in demo.get("/api/alerts/rules")["notifiers"]
         if n["name"] == "demo-receiver" and n["stats"].get("delivered", 0) >= 2), None), 20)
    assert stats.get("failed", 0) == 0, stats

    rows = demo.wait_for("History not empty", lambda: demo.get("/api/history/hourly")["rows"], 30)
    assert {r["host_id"] for r in rows} >= {"demo-web-1", "demo-gpu-1"}, rows


def _received(workdir: Path) -> list[dict]:
    """What the demo's webhook receiver got: one JSON line a delivery."""
    path = workdir / "webhook-received.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
