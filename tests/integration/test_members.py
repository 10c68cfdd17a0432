"""Several `serve` members share one fleet on one PostgreSQL and stand in for each other (issue 15, item 3).

Three members of two workers each, started at the same moment, poll 300
simulated hosts (benchmarks/fleetsim.py: asyncssh servers on loopback trusted
through an ordinary known_hosts). Only the first has the inventory file; the
others start without one and get it from the database. Checked:
- every host is polled by exactly one worker (no overlapping host lists, no
  two samples of a host closer than 80 % of the interval);
- SIGKILL of a whole member (supervisor and workers, as a machine dying):
  every one of its hosts has a sample from another member within 30 s;
- the member restarted: the hosts spread out again, and no host is polled
  twice for more than one interval meanwhile (at most one extra sample);
- an edit through a web process of a member that does not own the file lands
  in the owner's file and in every copy;
- `--no-web` and `--web-only`: a fourth member serving only the web shows the
  whole fleet and polls nothing; exactly one process does the housekeeping.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg

from tests.support.hubproc import ROOT, make_token
from tests.support.pg import start_postgres
from tests.support.sshd import free_port

HOSTS = 300
INTERVAL_S = 5.0
MEMBERS = ("m1", "m2", "m3")
TAKEOVER_WITHIN_S = 30.0


def _free_port_range(n: int) -> int:
    for base in range(31000, 60000 - n, 997):
        ok = True
        for port in (base, base + n // 2, base + n - 1):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free port range")


class Member:
    def __init__(self, name: str, inventory: Path, db_url: str, log_dir: Path, *flags: str) -> None:
        self.name, self.inventory, self.db_url, self.flags = name, inventory, db_url, list(flags)
        self.port = free_port()
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "collector.cli", "serve", "--member", self.name, "--inventory",
               str(self.inventory), "--db", self.db_url, "--listen", f"127.0.0.1:{self.port}", "--no-backup",
               *(self.flags or ["--workers", "2"])]
        with open(self.log_path, "ab") as log:  # its own session: a SIGKILL of the group is a machine dying
            self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""


def _owners(db_url: str) -> dict[str, list[str]]:
    """worker id -> the hosts its row says it polls (live rows only)."""
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        rows = conn.execute("SELECT id, status, heartbeat_at FROM hub_processes WHERE role = 'worker'").fetchall()
    now = time.time()
    return {pid: json.loads(status).get("hosts") or [] for pid, status, beat in rows if now - beat < 15}


def _samples(db_url: str, since: float) -> dict[str, list[float]]:
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        rows = conn.execute("SELECT host_id, ts FROM samples WHERE ts >= %s ORDER BY host_id, ts", (since,)).fetchall()
    out: dict[str, list[float]] = {}
    for host, ts in rows:
        out.setdefault(host, []).append(ts)
    return out


def _wait(what: str, check, timeout: float, members) -> object:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s\n" + "\n".join(f"--- {m.name}\n{m.log()}"
                                                                                for m in members))
        time.sleep(0.5)


def _spread(db_url: str, live: int) -> dict[str, list[str]] | None:
    owners = _owners(db_url)
    every = [h for hosts in owners.values() for h in hosts]
    if len(owners) == live and len(every) == HOSTS and len(set(every)) == HOSTS and all(owners.values()):
        return owners
    return None


def _extra_samples(times: list[float]) -> int:
    """Samples that came sooner than 80 % of the interval after the one before: a second poller."""
    return sum(1 for a, b in zip(times, times[1:]) if b - a < 0.8 * INTERVAL_S)


def test_three_members_share_300_hosts_and_take_over_a_killed_one(tmp_path):
    pg = start_postgres(max_connections=400)
    sim = None
    members: list[Member] = []
    web_only: Member | None = None
    try:
        db_url = pg.url.replace("postgresql://", "postgresql+psycopg://")
        token = make_token(db_url)
        base = _free_port_range(HOSTS)
        sim_dir = tmp_path / "sim"
        sim = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "fleetsim.py"), "--hosts", str(HOSTS),
                                "--first-port", str(base), "--seed", "3", "--out", str(sim_dir), "--drop-pct", "0"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert b"inventory" in sim.stdout.readline(), "the simulator did not start"
        copies = []
        for name in MEMBERS:
            copy = tmp_path / name / "hosts.yaml"
            copy.parent.mkdir()
            if name == "m1":
                shutil.copy(sim_dir / "hosts.yaml", copy)
            else:  # the others have none yet and get it from the database
                assert not copy.exists()
            copies.append(copy)
            # m3 polls but serves no web (--no-web); "web" serves the web only (--web-only): no hosts for it
            flags = ["--workers", "2", "--no-web"] if name == "m3" else []
            members.append(Member(name, copy, db_url, tmp_path, *flags))
        (tmp_path / "web").mkdir()
        web_only = Member("web", tmp_path / "web" / "hosts.yaml", db_url, tmp_path, "--web-only")
        for m in [*members, web_only]:  # at the same moment: no UniqueViolation, no double migration
            m.start()

        owners = _wait("300 hosts spread over 6 workers", lambda: _spread(db_url, 6), 90, members)
        assert all(c.read_text() == copies[0].read_text() for c in copies), "every member has the same inventory"
        # the web-only member shows the whole fleet, polled by the others; one process does the housekeeping
        def whole_fleet():
            req = urllib.request.Request(f"http://127.0.0.1:{web_only.port}/api/servers",
                                         headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(req, timeout=30) as resp:
                servers = json.loads(resp.read())
            return len(servers) == HOSTS and all(s["state"] == "up" for s in servers)
        _wait("the web-only member's API showing 300 hosts up", whole_fleet, 30, [*members, web_only])
        with urllib.request.urlopen(f"http://127.0.0.1:{web_only.port}/healthz", timeout=30) as resp:
            procs = json.loads(resp.read())["processes"]
        keepers = [p["id"] for p in procs if p["role"] == "supervisor" and p["alive"] and p.get("housekeeping")]
        assert len(keepers) == 1, f"housekeeping by exactly one process: {keepers}"
        assert not any(p["id"].startswith("web/worker") or p["id"].startswith("m3/web") for p in procs)
        window = time.time()
        time.sleep(3 * INTERVAL_S)  # three polls of every host: enough to see one polled twice
        samples = _samples(db_url, window)
        assert len(samples) == HOSTS, f"{HOSTS - len(samples)} hosts without samples"
        doubled = {h: _extra_samples(t) for h, t in samples.items() if _extra_samples(t)}
        assert not doubled, f"hosts polled by two workers: {dict(list(doubled.items())[:5])}"

        # a whole member dies
        victim = members[1]
        victim_hosts = {h for worker, hosts in owners.items() if worker.startswith("m2/") for h in hosts}
        assert victim_hosts
        victim.kill()
        killed_at = time.time()

        def taken_over() -> bool:
            recent = _samples(db_url, killed_at + 1.0)
            return all(h in recent for h in victim_hosts)
        _wait(f"the {len(victim_hosts)} hosts of the killed member sampled by the others", taken_over,
              TAKEOVER_WITHIN_S, members)
        took = time.time() - killed_at
        assert took <= TAKEOVER_WITHIN_S, took

        # it comes back
        victim.start()
        restarted = time.time()
        _wait("the hosts spread over 6 workers again", lambda: _spread(db_url, 6), 60, members)
        time.sleep(2 * INTERVAL_S)
        after = _samples(db_url, restarted)
        extra = {h: _extra_samples(t) for h, t in after.items() if _extra_samples(t) > 1}
        once = sum(1 for t in after.values() if _extra_samples(t) == 1)
        print(f"\nmembers: {len(victim_hosts)} hosts of the killed member taken over in {took:.1f} s; after its "
              f"restart {once} host(s) had one extra sample, {len(extra)} more than one")
        assert not extra, f"hosts polled twice for more than one interval: {dict(list(extra.items())[:5])}"

        # an edit through the web of a member that does not own the file
        with psycopg.connect(pg.url) as conn:
            holder = conn.execute("SELECT holder FROM hub_leases WHERE name = 'housekeeping'").fetchone()[0]
        owner = next((m for m in [*members, web_only] if holder.startswith(f"{m.name}/")), None)
        other = next(m for m in [members[0], members[1], web_only] if m is not owner)
        body = json.dumps({"id": "added-by-web", "address": "127.0.0.1", "port": base}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{other.port}/api/servers", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 201 and json.loads(resp.read())["id"] == "added-by-web"
        _wait("the edit in every copy of the inventory",
              lambda: all("added-by-web" in c.read_text() for c in copies), 20, members)
    finally:
        codes = [m.stop() for m in [*members, *([web_only] if web_only else [])]]
        if sim is not None:
            sim.terminate()
            sim.wait(timeout=20)
        pg.stop()
    assert codes == [0, 0, 0, 0], codes
