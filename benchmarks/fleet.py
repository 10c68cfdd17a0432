"""Fleet benchmark: a real `fleetwatch serve` polling N simulated hosts; what it costs and whether it keeps up.

Run from the repository root (as root, or any user: nothing privileged):

    python benchmarks/fleet.py --hosts N --minutes M [--workers K] [--db URL] [--interval 5]
                               [--sim-procs P] [--json] [--keep DIR] [--tree PATH]
                               [--max-missed-pct X] [--max-gap-p99 S] [--history H]

Steps: write N simulated hosts (benchmarks/fleetsim.py: keys, an OpenSSH
known_hosts, hosts.yaml) and serve them from P simulator processes (separate
from the hub's, so the hub's CPU is measured alone); start `python -m
collector.cli serve` on a free loopback port with an admin token in its
database (`--workers K` only if this serve lists the flag); wait until every
host has a sample in the database (warm-up, timed from serve's start; given up
after --warmup-timeout); start the simulators' drop-offs (1 % of hosts, 30-90 s
each) and measure M minutes of steady state; SIGTERM the hub, stop the
simulators, remove the folder unless --keep.

Reported (units everywhere; --json gives one object with the same figures):
- hub CPU (% of one core, ms per probe done) and RSS at the window's start and
  end, for its processes together and each alone (the serve process tree,
  re-scanned every 3 s);
- probes expected / done / missed in the window, leaving out each drop-off
  from 1 interval before it to 65 s after the host is back (the hub's reconnect
  backoff reaches 60 s): per host, the schedule's slots between edges set half
  an interval from the host's arrival phase, the samples there, and the slots
  without one (fleet_measure.analyse); sample gaps p50 / p99 / max and how many
  exceed 7.5 s (from `samples.ts`, the hub's clock when a probe's output
  arrived): a late probe shows there, not as a miss;
- how long after a dropped host came back its next sample was stored;
- database rows written per second (samples, gpu, disk, service samples,
  events) and MB (10^6 bytes) per host-day: SQLite pages in use (WAL included)
  or PostgreSQL's pg_total_relation_size, growth over the window;
- longest rollup and retention runs, when /healthz exposes `last_rollup` /
  `last_retention` ({at, seconds, ...}); else "not exposed";
- the simulators' CPU (% of one core, ms per probe answered), the machine's
  load average and CPU busy share over the window, the hub log's warnings and
  errors, and SIGTERM-to-exit time.

Exit status: 0 when warm-up finished, no probe was missed (or at most
--max-missed-pct percent) and the gap p99 is within --max-gap-p99 (when
given); 1 otherwise; 2 for bad usage.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import fleet_measure as fm
import fleetsim
from fleet_report import render

RECOVER_S = 65.0  # reconnect backoff cap (60 s) + one interval
HOSTS_PER_SIM = 1250  # one process could serve 2,500 (53 % of a core, fleetsim.py); half keeps its latency low


WEB_LOAD_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_token(tree: Path, db_url: str, env: dict[str, str]) -> str:
    """An admin API token, made by the hub's own `fleetwatch token create` (run in the hub's tree, so the
    database gets that tree's schema), as tests/support/hubproc.py makes one. Kept for API calls; /healthz
    needs none."""
    name = f"fleet-bench-{os.getpid()}-{int(time.time())}"
    out = subprocess.run([sys.executable, "-m", "collector.cli", "token", "create", name, "--role", "admin",
                          "--db", db_url], cwd=tree, env=env, capture_output=True, text=True, timeout=120, check=False)
    token = next((w for w in out.stdout.split() if w.startswith("fw_")), None)
    if out.returncode != 0 or token is None:
        raise RuntimeError(f"token create failed ({out.returncode}): {out.stderr.strip()[-500:]}")
    return token


class Run:
    """Everything started for one benchmark, so that any exit stops all of it."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.dir = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="fleetbench-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tree = Path(args.tree).resolve() if args.tree else ROOT
        self.sims: list[subprocess.Popen] = []
        self.hub: subprocess.Popen | None = None
        self.hub_log = self.dir / "hub.log"
        self.port = free_port()
        self.notes: list[str] = []
        self.health_max: dict[str, float] = {}
        self.health_seen: set[str] = set()

    # ------------------------------------------------------------------ processes
    def start_sims(self) -> None:
        a = self.args
        for f in list(self.dir.glob("sim-*.json")) + list(self.dir.glob("drops-*.jsonl")):
            f.unlink()
        per = math.ceil(a.hosts / a.sim_procs)
        for k in range(a.sim_procs):
            first, last = k * per, min(a.hosts, (k + 1) * per)
            if first >= last:
                break
            cmd = [sys.executable, str(HERE / "fleetsim.py"), "--hosts", str(a.hosts), "--first-port",
                   str(a.first_port), "--seed", str(a.seed), "--out", str(self.dir), "--serve", f"{first}:{last}",
                   "--drop-pct", str(a.drop_pct)]
            # own session: a Ctrl-C reaches the harness only, which then stops everything in order
            with open(self.dir / f"sim-{k}.log", "wb") as log:
                self.sims.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, start_new_session=True))
        for sim in self.sims:
            line = sim.stdout.readline().decode()  # "READY ..." once every host listens
            if not line.startswith("READY"):
                raise RuntimeError(f"a simulator did not start: {line!r}; see {self.dir}/sim-*.log")

    def serve_has(self, flag: str) -> bool:
        help_text = subprocess.run([sys.executable, "-m", "collector.cli", "serve", "--help"], cwd=self.tree,
                                   capture_output=True, text=True, env=self.env(), check=False).stdout
        return flag in help_text

    def env(self) -> dict[str, str]:
        return dict(os.environ, PYTHONUNBUFFERED="1", FLEETWATCH_DATA=str(self.dir),
                    PYTHONPATH=str(self.tree) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def start_hub(self, inventory: Path) -> float:
        a = self.args
        cmd = [sys.executable, "-m", "collector.cli", "serve", "--inventory", str(inventory), "--db", a.db,
               "--listen", f"127.0.0.1:{self.port}", "--no-backup"]
        if a.workers is not None:
            if self.serve_has("--workers"):
                cmd += ["--workers", str(a.workers)]
            else:
                self.notes.append(f"--workers {a.workers} ignored: this `serve` has no --workers flag (one process)")
        with open(self.hub_log, "wb") as log:
            started = time.time()
            self.hub = subprocess.Popen(cmd, cwd=self.tree, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        return started

    def health(self) -> dict[str, Any] | None:
        try:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=5) as resp:
                    body = json.loads(resp.read())
            except urllib.error.HTTPError as exc:  # 503 still carries the body
                body = json.loads(exc.read() or b"{}")
        except (OSError, ValueError):
            return None
        upkeep = body.get("housekeeping") or body  # split hub: under "housekeeping"; a single process: top level
        for key in ("last_rollup", "last_retention"):  # {at, seconds, ...} when the hub exposes them
            run = upkeep.get(key) if isinstance(upkeep, dict) else None
            if isinstance(run, dict) and isinstance(run.get("seconds"), (int, float)):
                self.health_seen.add(key)
                self.health_max[key] = max(self.health_max.get(key, 0.0), float(run["seconds"]))
                for part in ("longest_write_s", "longest_batch_s"):  # the longest single transaction in it
                    if isinstance(run.get(part), (int, float)):
                        name = f"{key}.{part}"
                        self.health_max[name] = max(self.health_max.get(name, 0.0), float(run[part]))
        return body

    def start_web_load(self, clients: int):
        """`clients` logged-in viewers fetching the overview, a host page, /events and /alerts as htmx does
        (tests/support/webload.py), for the window's first WEB_LOAD_S."""
        from tests.support.hubproc import make_user
        from tests.support.webload import Load, login

        make_user(self.args.db, "fleet-bench-viewer", "viewer", "fleet bench password 1")
        cookie = login(self.port, "fleet-bench-viewer", "fleet bench password 1")
        load = Load(self.port, cookie, ["/", f"/hosts/{fleetsim.host_id(0)}", "/events", "/alerts"], clients)
        return load.__enter__()

    def stop_web_load(self, load, seconds: float) -> dict[str, Any]:
        load.__exit__(None, None, None)
        lat = sorted(load.latencies)
        return {"clients": len(load.threads), "seconds": round(seconds, 1),
                "answers": {str(k): v for k, v in sorted(load.statuses.items())}, "client_errors": load.errors,
                "latency_p50_s": round(lat[len(lat) // 2], 3) if lat else None,
                "latency_max_s": round(lat[-1], 3) if lat else None}

    def stop_hub(self) -> dict[str, Any]:
        if self.hub is None or self.hub.poll() is not None:
            return {"exit_code": None if self.hub is None else self.hub.returncode, "seconds": None}
        t = time.monotonic()
        self.hub.send_signal(signal.SIGTERM)
        try:
            code = self.hub.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.hub.kill()
            code = self.hub.wait()
            self.notes.append("the hub did not exit within 30 s of SIGTERM: killed")
        return {"exit_code": code, "seconds": round(time.monotonic() - t, 2)}

    def stop_all(self) -> None:
        self.stop_hub()
        for sim in self.sims:
            if sim.poll() is None:
                sim.send_signal(signal.SIGTERM)
        for sim in self.sims:
            try:
                sim.wait(timeout=15)
            except subprocess.TimeoutExpired:
                sim.kill()
                sim.wait()

    def cleanup(self) -> None:
        self.stop_all()
        if not self.args.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def sim_status(self) -> dict[str, Any]:
        total = {"probes": 0, "connections": 0, "down": 0, "t": 0.0}
        for path in self.dir.glob("sim-*.json"):
            try:
                st = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            total["t"] += st["t"] / len(self.sims)  # when the counts were taken (written every 2 s)
            total["probes"] += st["probes"]
            total["connections"] += st["connections"]
            total["down"] += len(st["down"])
        return total

    # ------------------------------------------------------------------ the run
    def run(self) -> dict[str, Any]:
        a = self.args
        fleetsim.raise_fd_limit()  # the hub inherits it: one connection a host
        t_prep = time.perf_counter()
        inventory = fleetsim.prepare(self.dir, a.hosts, a.first_port, a.seed, interval=f"{a.interval}s")
        prep_s = time.perf_counter() - t_prep
        self.start_sims()
        sims = fm.ProcTracker([s.pid for s in self.sims], follow_tree=False)
        if a.db is None:  # a fresh database each run, also in a --keep folder (its keys are reused)
            for old in self.dir.glob("fleet.db*"):
                old.unlink()
            a.db = f"sqlite:///{self.dir / 'fleet.db'}"
        self.token = make_token(self.tree, a.db, self.env())
        history = None
        if a.history:
            import fleet_history

            history = fleet_history.seed(a.db, [fleetsim.host_id(i) for i in range(a.hosts)], a.history)
        db = fm.Db(a.db)
        serve_started = self.start_hub(inventory)
        hub = fm.ProcTracker([self.hub.pid])
        # a PostgreSQL server on this machine works for the hub: its CPU is reported apart
        pg = fm.ProcTracker([], comm="postgres") if db.path is None and fm.pids_named("postgres") else None
        result: dict[str, Any] = {
            "hosts": a.hosts, "interval_s": a.interval, "minutes": a.minutes, "db": _redact(a.db),
            "sim_procs": len(self.sims), "tree": str(self.tree), "prepare_s": round(prep_s, 1),
            "workers_flag": a.workers, "notes": self.notes, "history": history}

        # warm-up: every host has a sample
        warm = None
        progress: list[tuple[float, int]] = []
        rss_peak_warmup = 0.0
        while time.time() - serve_started < a.warmup_timeout:
            time.sleep(1.0)
            if self.hub.poll() is not None:
                break
            n = db.hosts_sampled(serve_started)
            hub.scan()
            rss_peak_warmup = max(rss_peak_warmup, hub.rss("rss_last"))
            progress.append((round(time.time() - serve_started, 1), n))
            if n >= a.hosts:
                warm = time.time() - serve_started
                break
        result["warmup"] = {"seconds": None if warm is None else round(warm, 1),
                            "hosts_sampled": progress[-1][1] if progress else 0,
                            "progress": progress[:: max(1, len(progress) // 20)],
                            "hub_rss_peak_mb": round(rss_peak_warmup, 1)}
        if warm is None:
            why = "the hub exited" if self.hub.poll() is not None else f"not within {a.warmup_timeout:.0f} s"
            self.notes.append(f"warm-up did not finish ({why}): {result['warmup']['hosts_sampled']} of "
                              f"{a.hosts} hosts had a sample")
            result["stop"] = self.stop_hub()
            result["log"] = fm.log_problems(self.hub_log)
            result["ok"] = False
            return result

        for sim in self.sims:
            sim.send_signal(signal.SIGUSR1)  # drop-offs start now
        # the window
        t0 = time.time()
        hub.mark_start()
        sims.mark_start()
        if pg is not None:
            pg.mark_start()
        busy0, total0 = fm.machine_cpu()
        load0 = fm.loadavg()
        size0, file0 = db.size_bytes(), db.file_bytes()
        sim0 = self.sim_status()
        log_lines0 = len(self.hub_log.read_text(errors="replace").splitlines())
        load = self.start_web_load(a.web_clients) if a.web_clients else None
        end = t0 + a.minutes * 60
        hub_died = False
        rss_by_minute: list[float] = []  # the hub's RSS (all processes) at each whole minute of the window
        while time.time() < end:
            time.sleep(min(3.0, max(0.0, end - time.time())))
            for tracker in (hub, sims, pg):
                if tracker is not None:
                    tracker.scan()
            if time.time() - t0 >= 60 * (len(rss_by_minute) + 1):
                rss_by_minute.append(round(hub.rss("rss_last"), 1))
            self.health()
            if self.hub.poll() is not None:
                hub_died = True
                self.notes.append(f"the hub exited during the window (code {self.hub.returncode})")
                break
            if load is not None and time.time() - t0 >= WEB_LOAD_S:
                result["web_load"] = self.stop_web_load(load, time.time() - t0)
                load = None
        if load is not None:
            result["web_load"] = self.stop_web_load(load, time.time() - t0)
        t1 = time.time()
        for tracker in (hub, sims, pg):
            if tracker is not None:
                tracker.scan()
        busy1, total1 = fm.machine_cpu()
        load1 = fm.loadavg()
        hub_pss = hub.pss()
        self.health()
        sim1 = self.sim_status()
        fm.wait_until(lambda: (self.health() or {}).get("pending_rows", 0) == 0, 15)
        size1, file1 = db.size_bytes(), db.file_bytes()
        result["stop"] = self.stop_hub()  # the final flush writes what the window left pending
        self.stop_all()
        window = t1 - t0

        drops = fm.read_drops(self.dir)
        ids = [fleetsim.host_id(i) for i in range(a.hosts)]
        probes = fm.analyse(db.sample_times(t0, t1), ids, t0, t1, a.interval, drops, RECOVER_S)
        rows = {t: db.count(t, t0, t1) for t in fm.SAMPLE_TABLES}
        done = max(1, rows["samples"])  # every probe stored in the window: the per-probe divisor
        result["window_s"] = round(window, 1)
        result["window"] = {"start": t0, "end": t1}  # epoch s: the figures can be recomputed from a --keep folder
        result["probes"] = probes
        result["reconnect_after_drop"] = fm.reconnects(db, drops, t1)
        result["hub"] = {
            "cpu_pct": round(100 * hub.cpu_s() / window, 1), "cpu_ms_per_probe": round(1000 * hub.cpu_s() / done, 2),
            "rss_start_mb": round(hub.rss("rss_start"), 1), "rss_end_mb": round(hub.rss("rss_last"), 1),
            "rss_max_mb": round(hub.rss("rss_max"), 1), "pss_end_mb": round(hub_pss, 1),
            "rss_by_minute_mb": rss_by_minute,
            "rss_growth_after_minute_5_pct": (round(100 * (hub.rss("rss_last") / rss_by_minute[4] - 1), 1)
                                              if len(rss_by_minute) > 5 else None),
            "processes": [{"pid": p.pid, "name": p.name, "cpu_pct": round(100 * (p.cpu_last - p.cpu_start) / window, 1),
                           "cpu_ms_per_probe": round(1000 * (p.cpu_last - p.cpu_start) / done, 2),
                           "rss_start_mb": _r(p.rss_start), "rss_end_mb": _r(p.rss_last), "alive_at_end": p.alive}
                          for p in hub.procs.values()]}
        result["db_rows"] = {"per_s": round(sum(rows.values()) / window, 1),
                             "tables_per_s": {t: round(n / window, 2) for t, n in rows.items()},
                             "mb_per_host_day": round((size1 - size0) / window * 86400 / a.hosts / 1e6, 2),
                             "size_start_mb": round(size0 / 1e6, 1), "size_end_mb": round(size1 / 1e6, 1),
                             "files_start_mb": _r(file0 and file0 / 1e6), "files_end_mb": _r(file1 and file1 / 1e6)}
        result["upkeep"] = {
            "rollup_max_s": self.health_max.get("last_rollup"), "rollup_exposed": "last_rollup" in self.health_seen,
            "rollup_write_max_s": self.health_max.get("last_rollup.longest_write_s"),
            "retention_batch_max_s": self.health_max.get("last_retention.longest_batch_s"),
            "retention_max_s": self.health_max.get("last_retention"),
            "retention_exposed": "last_retention" in self.health_seen,
            "retention_log_lines": fm.retention_lines(self.hub_log)}
        # probes answered in the window: the status files' rate over their own span, times the window
        answered = max(1.0, (sim1["probes"] - sim0["probes"]) / max(1e-3, sim1["t"] - sim0["t"]) * window)
        result["simulator"] = {"cpu_pct": round(100 * sims.cpu_s() / window, 1),
                               "cpu_ms_per_probe": round(1000 * sims.cpu_s() / answered, 3),
                               "probes_answered": round(answered),
                               "rss_end_mb": round(sims.rss("rss_max"), 1)}
        if pg is not None:
            result["postgres_cpu_pct"] = round(100 * pg.cpu_s() / window, 1)
        result["machine"] = {"cpus": os.cpu_count(), "load_start": load0, "load_end": load1,
                             "cpu_busy_pct": round(100 * (busy1 - busy0) / max(1, total1 - total0), 1)}
        result["log"] = fm.log_problems(self.hub_log, log_lines0)
        result["log_whole_run"] = fm.log_problems(self.hub_log)
        db.close()
        failed = []
        if hub_died:
            failed.append("the hub exited during the window")
        if probes["missed"] and (a.max_missed_pct == 0 or (probes["missed_pct"] or 0.0) > a.max_missed_pct):
            failed.append(f"{probes['missed']} probe(s) missed ({probes['missed_pct']} %; allowed: "
                          f"{'none' if a.max_missed_pct == 0 else f'up to {a.max_missed_pct} %'})")
        p99 = probes["gaps"]["p99_s"]
        if a.max_gap_p99 is not None and (p99 is None or p99 > a.max_gap_p99):
            failed.append(f"gap p99 {p99 if p99 is None else round(p99, 3)} s is over --max-gap-p99 {a.max_gap_p99} s")
        self.notes.extend(f"FAILED: {why}" for why in failed)
        result["ok"] = not failed
        return result


def _r(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


def _redact(url: str) -> str:
    from schema.db import redact

    return redact(url)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hosts", type=int, required=True)
    p.add_argument("--minutes", type=float, required=True, help="steady-state minutes measured after warm-up")
    p.add_argument("--workers", type=int, help="passed to serve when it has --workers")
    p.add_argument("--db", help="database URL (default: SQLite in the run's folder)")
    p.add_argument("--interval", type=float, default=5.0, help="probe interval in s (default 5)")
    p.add_argument("--sim-procs", type=int, help=f"simulator processes (default: one per {HOSTS_PER_SIM} hosts)")
    p.add_argument("--first-port", type=int, default=20000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--drop-pct", type=float, default=1.0, help="percent of hosts that drop off now and then")
    p.add_argument("--warmup-timeout", type=float, default=300.0, help="give up warm-up after this many s")
    p.add_argument("--max-missed-pct", type=float, default=0.0, help="exit 1 above this (default 0: any miss)")
    p.add_argument("--max-gap-p99", type=float, help="exit 1 when the gap p99 exceeds this many s")
    p.add_argument("--keep", metavar="DIR", help="use and keep this folder (keys are reused from it)")
    p.add_argument("--tree", metavar="PATH", help="run the hub from this checkout (default: this one)")
    p.add_argument("--web-clients", type=int, default=0, metavar="N",
                   help=f"N logged-in web clients load the pages for the window's first {WEB_LOAD_S:.0f} s")
    p.add_argument("--history", type=float, default=0.0, metavar="H",
                   help="before the hub starts, store H hours of raw samples per host from just before the raw "
                        "retention (48 h ago): the hub's first retention run, a minute after its start, "
                        "checks their rollups and deletes them inside the window (benchmarks/fleet_history.py)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args(argv)
    if a.hosts < 1 or a.minutes <= 0 or a.interval <= 0:
        p.error("--hosts, --minutes and --interval must be positive")
    a.sim_procs = a.sim_procs or max(1, math.ceil(a.hosts / HOSTS_PER_SIM))
    run = Run(a)

    def _stop(_sig: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)  # also when started in the background, where SIGINT comes ignored
    try:
        result = run.run()
    except KeyboardInterrupt:
        print("interrupted: stopping the hub and the simulators", file=sys.stderr)
        run.cleanup()
        return 1
    except BaseException:
        run.cleanup()
        raise
    run.cleanup()
    result["kept"] = str(run.dir) if a.keep else None
    print(json.dumps(result, indent=1) if a.json else render(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
