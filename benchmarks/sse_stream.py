"""What the overview's live stream costs against today's polling (issue 18 item 3), and whether streams slow polling.

    python3 benchmarks/sse_stream.py [--hosts 1000] [--streams 20] [--seconds 60] [--churn 0.2]
                                     [--view cards|table|both] [--json]
    python3 benchmarks/sse_stream.py --lag [--streams 100] [--seconds 60]     (as root: real sshd hosts)

Bytes and CPU: the server of benchmarks/overview_render.py (a real hub object with N hosts of 8 GPUs in
SQLite, behind uvicorn in its own process) while this process plays the collectors: every 5 s it rewrites
every host's state row (last seen now) and newest report (a new timestamp), and for a fraction CHURN of
the hosts changes what the card shows (CPU, memory, GPU utilisation). Then, for SECONDS each:
  polling   STREAMS clients fetch the `#fleet` section every 5 s, as the page did before
  streaming STREAMS clients hold `/stream/overview` open (each first loads the page, as a browser does,
            and connects with its `since`), gzip accepted as browsers do
Reported per client and 5 s: bytes on the wire (and before compression), and the server's CPU seconds; for the
overview's cards (`/`, the default), its table (`/?view=table`: the section polled, and the stream of the table
page, whose changed rows it sends), or both one after the other (one server).

--lag: a real `fleetwatch serve` polls two real sshd hosts every 5 s (as benchmarks/web_load.py) while
STREAMS clients hold overview streams open; reported: the widest gap between stored samples of each host,
with and without the streams.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

TICK_S = 5.0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Collectors(threading.Thread):
    """Writes what the collectors would, every 5 s (see the module docstring)."""

    def __init__(self, db_path: Path, hosts: int, churn: float) -> None:
        super().__init__(daemon=True)
        self.db_path, self.hosts, self.churn = db_path, hosts, churn
        self.stop = threading.Event()
        self.rng = random.Random(18)

    def run(self) -> None:
        import sqlite3

        from overview_render import fleet_report
        from schema.fleet import latest_doc

        reports = {f"gpu-{i:04d}": fleet_report(i, time.time()) for i in range(self.hosts)}
        db = sqlite3.connect(self.db_path, timeout=30)
        while not self.stop.wait(TICK_S):
            now = time.time()
            for host, report in reports.items():
                report["ts"] = now
                if self.rng.random() < self.churn:
                    report["cpu_pct"] = float(self.rng.randrange(100))
                    report["mem_used_bytes"] = self.rng.randrange(400) * 2**30
                    for g in report["gpus"]:
                        g["util_pct"] = float(self.rng.randrange(100))
            down = {f"gpu-{i:04d}" for i in range(self.hosts) if i % 20 == 7}
            db.executemany("UPDATE hosts SET last_seen_at = ? WHERE id = ?",
                           [(now, h) for h in reports if h not in down])
            db.executemany("UPDATE host_latest SET ts = ?, doc = ? WHERE host_id = ?",
                           [(now, latest_doc(r, [], None, {}).decode(), h) for h, r in reports.items()])
            db.commit()
        db.close()


def _page(view: str) -> str:
    return "/" if view == "cards" else f"/?view={view}"


def _stream_url(client: httpx.Client, view: str = "cards") -> str:
    page = client.get(_page(view)).text
    return re.search(r'sse-connect="([^"]+)"', page).group(1).replace("&amp;", "&")


async def _streams(base: str, cookie: str, urls: list[str], seconds: float) -> tuple[list[int], list[int], int]:
    """Hold the streams open for `seconds`: wire bytes and decoded bytes per stream, and events seen."""
    wire = [0] * len(urls)
    decoded = [0] * len(urls)
    events = [0]

    async def one(i: int, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", urls[i], headers={"Accept": "text/event-stream"}) as resp:
            assert resp.status_code == 200, resp.status_code
            import zlib
            inflate = zlib.decompressobj(31) if resp.headers.get("content-encoding") == "gzip" else None
            async for chunk in resp.aiter_raw():
                wire[i] += len(chunk)
                text = inflate.decompress(chunk) if inflate else chunk
                decoded[i] += len(text)
                events[0] += text.count(b"\nid: ")

    limits = httpx.Limits(max_connections=len(urls) + 5)
    async with httpx.AsyncClient(base_url=base, cookies={"fleetwatch_session": cookie}, limits=limits,
                                 timeout=httpx.Timeout(30, read=60)) as client:
        tasks = [asyncio.create_task(one(i, client)) for i in range(len(urls))]
        await asyncio.sleep(seconds)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return wire, decoded, events[0]


def _poll(base: str, cookie: str, clients: int, seconds: float, view: str = "cards") -> list[int]:
    """`clients` pages polling the #fleet section every 5 s, as before: bytes per client."""
    got = [0] * clients
    stop = time.monotonic() + seconds

    def one(i: int) -> None:
        with httpx.Client(base_url=base, cookies={"fleetwatch_session": cookie}, timeout=60) as c:
            time.sleep(i * TICK_S / clients)
            while time.monotonic() < stop:
                started = time.monotonic()
                try:
                    resp = c.get(_page(view), headers={"HX-Request": "true", "HX-Target": "fleet"})
                    got[i] += len(resp.content)
                except httpx.HTTPError:
                    pass  # a reset under load: counted as nothing received
                time.sleep(max(0.0, TICK_S - (time.monotonic() - started)))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got


def bytes_and_cpu(hosts: int, streams: int, seconds: float, churn: float, views: tuple[str, ...] = ("cards",)) -> dict:
    """Polling against streaming for each of `views` ("cards", "table"), one server (see the module docstring)."""
    from overview_render import login_cookie, serve, wait_ready
    from tests.support.sshd import free_port

    port, tmp = free_port(), tempfile.mkdtemp(prefix="fw-sse-bench-")
    proc = multiprocessing.Process(target=serve, args=(hosts, port, tmp), daemon=True)
    proc.start()
    base = f"http://127.0.0.1:{port}"
    collectors = None
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            wait_ready(client, proc)
            cookie = login_cookie(tmp)
            client.cookies.set("fleetwatch_session", cookie)
            collectors = Collectors(Path(tmp) / "bench.db", hosts, churn)
            collectors.start()
            time.sleep(TICK_S + 1)
            ticks = seconds / TICK_S
            per = lambda values: round(sum(values) / len(values) / ticks / 1024, 1)  # noqa: E731
            out = {"hosts": hosts, "clients": streams, "seconds": seconds, "churn": churn, "views": {}}
            for view in views:
                cpu0 = _cpu_s(proc.pid)
                polled = _poll(base, cookie, streams, seconds, view)
                poll_cpu = _cpu_s(proc.pid) - cpu0
                # one stream first, as on a hub where someone has the overview open: the feed knows the fleet
                asyncio.run(_streams(base, cookie, [_stream_url(client, view)], TICK_S + 2))
                urls = [_stream_url(client, view) for _ in range(streams)]
                cpu0 = _cpu_s(proc.pid)
                wire, decoded, events = asyncio.run(_streams(base, cookie, urls, seconds))
                stream_cpu = _cpu_s(proc.pid) - cpu0
                out["views"][view] = {
                    "polling": {"kib_per_client_per_5s": per(polled), "server_cpu_s": round(poll_cpu, 2)},
                    "streaming": {"kib_per_client_per_5s": per(wire), "decoded_kib_per_client_per_5s": per(decoded),
                                  "ids_seen": events, "server_cpu_s": round(stream_cpu, 2)}}
        return out
    finally:
        if collectors is not None:
            collectors.stop.set()
            collectors.join(10)
        proc.terminate()
        proc.join(10)
        shutil.rmtree(tmp, ignore_errors=True)


def polling_lag(streams: int, seconds: float) -> dict:
    """Widest sample gaps of two polled sshd hosts without and with `streams` open overview streams."""
    from tests.support.hubproc import HubProcess, host_entry, make_user, write_inventory
    from tests.support.sshd import start_sshd
    from tests.support.webload import login
    from web_load import HOSTS, _samples

    tmp = Path(tempfile.mkdtemp(prefix="fw-sse-lag-"))
    sshds = [start_sshd(), start_sshd()]
    try:
        inventory = write_inventory(tmp / "hosts.yaml", [host_entry(s, h) for s, h in zip(sshds, HOSTS)])
        hub = HubProcess(inventory, tmp / "lag.db")
        make_user(hub.db_url, "loader", "viewer", "correct horse battery")
        hub.start()
        out = {}
        try:
            deadline = time.monotonic() + 60
            while any(hub.get(f"/api/servers/{h}/latest")["sample"] is None for h in HOSTS):
                assert time.monotonic() < deadline, hub.log()[-3000:]
                time.sleep(0.2)
            cookie = login(hub.port, "loader", "correct horse battery").split("=", 1)[1]
            base = f"http://127.0.0.1:{hub.port}"
            for label, n in (("no streams", 0), (f"{streams} streams", streams)):
                if n:  # the page loads and connects first: measured once every stream is open
                    with httpx.Client(base_url=base, cookies={"fleetwatch_session": cookie}, timeout=30) as c:
                        urls = [_stream_url(c) for _ in range(n)]
                    holder = threading.Thread(target=lambda: asyncio.run(_streams(base, cookie, urls, seconds + 10)))
                    holder.start()
                    time.sleep(10)
                since = time.time()
                time.sleep(seconds)
                if n:
                    holder.join()
                until = time.time()
                time.sleep(1.5)
                gaps = {}
                for host in HOSTS:
                    edges = [since, *_samples(tmp / "lag.db", host, since, until), until]
                    gaps[host] = round(max(b - a for a, b in zip(edges, edges[1:])), 2)
                out[label] = gaps
        finally:
            hub.stop()
        return out
    finally:
        for s in sshds:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hosts", type=int, default=1000)
    p.add_argument("--streams", type=int, default=None, help="clients (default 20; 100 with --lag)")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--churn", type=float, default=0.2, help="share of hosts whose card changes each 5 s")
    p.add_argument("--view", choices=("cards", "table", "both"), default="cards",
                   help="the overview's view the pages show (both: cards, then table)")
    p.add_argument("--lag", action="store_true", help="polling lag of a real hub with open streams")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    if args.lag:
        result = polling_lag(args.streams or 100, args.seconds)
        print(json.dumps(result, indent=2) if args.json else
              "\n".join(f"{label}: widest sample gap {gaps}" for label, gaps in result.items()))
        return 0
    views = ("cards", "table") if args.view == "both" else (args.view,)
    r = bytes_and_cpu(args.hosts, args.streams or 20, args.seconds, args.churn, views)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"{r['hosts']} hosts, {r['clients']} clients, {r['seconds']:.0f} s, {r['churn']:.0%} of cards change "
          f"every 5 s")
    for view, got in r["views"].items():
        pol, st = got["polling"], got["streaming"]
        print(f"  {view}")
        print(f"    polling   {pol['kib_per_client_per_5s']:8.1f} KiB per client per 5 s; server CPU "
              f"{pol['server_cpu_s']} s")
        print(f"    streaming {st['kib_per_client_per_5s']:8.1f} KiB per client per 5 s on the wire "
              f"({st['decoded_kib_per_client_per_5s']} KiB before gzip); server CPU {st['server_cpu_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
