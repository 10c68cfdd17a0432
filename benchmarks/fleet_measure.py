"""Measurements for benchmarks/fleet.py: processes from /proc, the hub's database, sample analysis.

Kept apart from the harness so that each part stays readable: nothing here
starts or stops anything.
"""
from __future__ import annotations

import json
import math
import os
import re
import sqlite3
from itertools import pairwise
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
SAMPLE_TABLES = ("samples", "gpu_samples", "disk_samples", "service_samples", "events")


# ----------------------------------------------------------------------------- processes
def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds user+system) from /proc/PID/stat; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float | None:
    """Resident memory in MB (10^6 bytes) from /proc/PID/status VmRSS."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        return None
    return None


def pss_mb(pid: int) -> float | None:
    """Proportional set size in MB: shared pages split among their users, so a sum over processes
    (a supervisor and its workers) counts the interpreter and libraries once, unlike RSS."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        return None
    return None


def short_name(pid: int, root: int) -> str:
    """A name for the report: `serve` for the root, else what the command line says it is."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(a.decode(errors="replace") for a in argv if a)
    if pid == root:
        return "serve"
    if "multiprocessing" in text:
        return "worker (multiprocessing)"
    m = re.search(r"-m (\S+)|([^/ ]+\.py)", text)
    return (m.group(1) or m.group(2)) if m else text[:40]


def descendants(root: int) -> set[int]:
    """The root and every process below it (one pass over /proc)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                parent[int(entry)] = st[0]
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, ppid in parent.items():
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return tree if root in parent else set()


@dataclass
class Proc:
    """One process seen in a tree: CPU at the window's start (or birth) and at the last scan, RSS likewise."""

    pid: int
    name: str
    cpu_start: float = 0.0
    cpu_last: float = 0.0
    rss_start: float | None = None
    rss_last: float | None = None
    rss_max: float = 0.0
    alive: bool = True


def pids_named(comm: str) -> set[int]:
    """Every process whose /proc/PID/comm is `comm` (a local PostgreSQL server's processes)."""
    found = set()
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/comm").read_text().strip() == comm:
                found.add(int(entry))
        except OSError:
            continue
    return found


@dataclass
class ProcTracker:
    """The processes of a tree (or a fixed list, or all named `comm`), re-scanned every few seconds:
    workers may come and go."""

    roots: list[int]
    follow_tree: bool = True
    comm: str | None = None
    procs: dict[int, Proc] = field(default_factory=dict)
    started: bool = False

    def scan(self) -> None:
        pids: set[int] = pids_named(self.comm) if self.comm else set()
        for root in self.roots:
            pids |= descendants(root) if self.follow_tree else {root}
        for pid in pids:
            st = _stat(pid)
            if st is None:
                continue
            p = self.procs.get(pid)
            if p is None:  # born during the window: all its CPU counts; before it: from the start mark
                name = self.comm or short_name(pid, self.roots[0])
                p = self.procs[pid] = Proc(pid, name, cpu_start=0.0 if self.started else st[1])
            p.cpu_last = st[1]
            rss = rss_mb(pid)
            if rss is not None:
                p.rss_last = rss
                p.rss_max = max(p.rss_max, rss)
                if p.rss_start is None and self.started:
                    p.rss_start = rss
        for pid, p in self.procs.items():
            p.alive = pid in pids

    def mark_start(self) -> None:
        """The window starts now: CPU and RSS are counted from here."""
        self.scan()
        for p in self.procs.values():
            p.cpu_start = p.cpu_last
            p.rss_start = p.rss_last
            p.rss_max = p.rss_last or 0.0
        self.started = True

    def pss(self) -> float:
        """PSS of the live processes now, summed (MB)."""
        return sum(pss_mb(p.pid) or 0.0 for p in self.procs.values() if p.alive)

    def cpu_s(self) -> float:
        return sum(p.cpu_last - p.cpu_start for p in self.procs.values())

    def rss(self, which: str) -> float:
        return sum(getattr(p, which) or 0.0 for p in self.procs.values() if which != "rss_last" or p.alive)


def machine_cpu() -> tuple[int, int]:
    """(busy, total) ticks of the whole machine from /proc/stat's first line."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(f[:8])
    return total - f[3] - f[4], total


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# ----------------------------------------------------------------------------- database
class Db:
    """Read-only questions to the hub's database (SQLite through sqlite3, PostgreSQL through SQLAlchemy)."""

    def __init__(self, url: str) -> None:
        from schema.db import normalize_url, sqlite_path

        self.url = normalize_url(url)
        self.path = sqlite_path(self.url)
        self._engine = None

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.path is not None:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            try:
                return conn.execute(sql, params).fetchall()
            finally:
                conn.close()
        from sqlalchemy import create_engine, text

        if self._engine is None:
            self._engine = create_engine(self.url, pool_size=1)
        names = {f"p{i}": v for i, v in enumerate(params)}
        for i in range(len(params)):
            sql = sql.replace("?", f":p{i}", 1)
        with self._engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), names)]

    def hosts_sampled(self, since: float) -> int:
        try:
            return self._rows("SELECT COUNT(DISTINCT host_id) FROM samples WHERE ts >= ?", (since,))[0][0]
        except Exception:  # the schema is not there yet (the hub migrates it at start)
            return 0

    def size_bytes(self) -> int:
        """Bytes the data takes: SQLite pages in use (WAL included, as a reader sees it); PostgreSQL:
        pg_total_relation_size of the sample and event tables."""
        if self.path is not None:
            (pages,), (free,), (size,) = (self._rows(f"PRAGMA {p}")[0] for p in
                                          ("page_count", "freelist_count", "page_size"))
            return (pages - free) * size
        return sum(self._rows(f"SELECT pg_total_relation_size('{t}')")[0][0] for t in SAMPLE_TABLES)

    def file_bytes(self) -> int | None:
        if self.path is None:
            return None
        return sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())

    def count(self, table: str, t0: float, t1: float) -> int:
        return self._rows(f"SELECT COUNT(*) FROM {table} WHERE ts >= ? AND ts < ?", (t0, t1))[0][0]

    def sample_times(self, t0: float, t1: float) -> dict[str, list[float]]:
        out: dict[str, list[float]] = {}
        for host, ts in self._rows("SELECT host_id, ts FROM samples WHERE ts >= ? AND ts < ? ORDER BY host_id, ts",
                                   (t0, t1)):
            out.setdefault(host, []).append(ts)
        return out

    def first_samples_after(self, pairs: list[tuple[str, float]]) -> list[float | None]:
        return [(self._rows("SELECT MIN(ts) FROM samples WHERE host_id = ? AND ts >= ?", (h, t))[0][0])
                for h, t in pairs]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


# ----------------------------------------------------------------------------- analysis
def read_drops(folder: Path) -> dict[str, list[tuple[float, float | None]]]:
    """{host: [(down, up or None)]} from the simulators' drops-*.jsonl."""
    drops: dict[str, list[tuple[float, float | None]]] = {}
    for path in sorted(folder.glob("drops-*.jsonl")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            spans = drops.setdefault(rec["host"], [])
            if "down" in rec:
                spans.append((rec["down"], None))
            elif spans and spans[-1][1] is None:
                spans[-1] = (spans[-1][0], rec["up"])
    return drops


def _percentile(ordered: list[float], q: float) -> float | None:
    """Nearest rank."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def _segments(t0: float, t1: float, cuts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """[t0, t1) minus the cut spans."""
    segs, start = [], t0
    for a, b in sorted(cuts):
        if b <= start or a >= t1:
            continue
        if a > start:
            segs.append((start, a))
        start = max(start, b)
    if start < t1:
        segs.append((start, t1))
    return segs


def _arrival_phase(ts: list[float], interval: float) -> float | None:
    """A time at which this host's samples typically arrive (circular median of ts mod interval)."""
    if not ts:
        return None
    ref = ts[len(ts) // 2]
    offsets = sorted((t - ref + interval / 2) % interval - interval / 2 for t in ts)
    return ref + offsets[len(offsets) // 2]


def analyse(times: dict[str, list[float]], hosts: list[str], t0: float, t1: float, interval: float,
            drops: dict[str, list[tuple[float, float | None]]], recover_s: float) -> dict[str, Any]:
    """Expected, done and missed probes and the sample gaps, leaving out each drop-off's span.

    A drop's span is [down - interval, up + recover_s]: the hub could not probe the host meanwhile,
    and its reconnect backoff (1 s doubling to 60 s, SPEC 4) may hold it off up to recover_s after.

    Each host is probed on a fixed-rate schedule, so its samples arrive at one phase of the
    interval. Every counted segment is trimmed, per host, to edges half an interval away from
    that phase: then "expected" is a whole number of slots per host and a sample up to half an
    interval late or early still lands in its own slot's span. Missed = expected - done, per host
    and segment (never below 0). A late probe is not a missed one: lateness shows in the gaps.
    Counting plain time / interval against samples in [t0, t1) instead swung by up to 132
    probes at 2,000 hosts with the window moved by 0.5 s (docs/benchmarks.md, Fleet).
    """
    expected = done = missed = 0
    gaps: list[float] = []
    per_host_missed: Counter = Counter()
    excluded_s = 0.0
    half = interval / 2
    for host in hosts:
        cuts = [(a - interval, (b if b is not None else t1) + recover_s) for a, b in drops.get(host, [])]
        segs = _segments(t0, t1, cuts)
        excluded_s += (t1 - t0) - sum(b - a for a, b in segs)
        ts = times.get(host, [])
        phase = _arrival_phase(ts, interval)
        for a, b in segs:
            if phase is None:  # not one sample in the window
                slots, inside = int((b - a) / interval), []
            else:
                edge = phase + half  # midway between two arrivals
                a_h = edge + interval * math.ceil((a - edge) / interval)
                b_h = edge + interval * math.floor((b - edge) / interval)
                if b_h <= a_h:
                    continue
                slots = round((b_h - a_h) / interval)
                inside = [t for t in ts if a_h <= t < b_h]
            expected += slots
            done += len(inside)
            m = max(0, slots - len(inside))
            missed += m
            per_host_missed[host] += m
            seg = [t for t in ts if a <= t < b]
            gaps += [y - x for x, y in pairwise(seg)]
    gaps.sort()
    over = sum(1 for g in gaps if g > 7.5)
    return {
        "expected": expected, "done": done, "missed": missed,
        "missed_pct": round(100.0 * missed / expected, 3) if expected else None,
        "hosts_missing_probes": sum(1 for v in per_host_missed.values() if v),
        "worst_hosts": [(h, n) for h, n in per_host_missed.most_common(5) if n],
        "excluded_host_s": round(excluded_s, 1),
        "gaps": {"count": len(gaps), "p50_s": _percentile(gaps, 0.5), "p99_s": _percentile(gaps, 0.99),
                 "max_s": gaps[-1] if gaps else None, "over_7_5_s": over},
    }


def reconnects(db: Db, drops: dict[str, list[tuple[float, float | None]]], t1: float) -> dict[str, Any]:
    """Seconds from a dropped host being back to the hub's next sample of it."""
    pairs = [(h, up) for h, spans in drops.items() for _, up in spans if up is not None and up < t1]
    firsts = db.first_samples_after(pairs) if pairs else []
    delays = sorted(f - up for (_, up), f in zip(pairs, firsts) if f is not None)
    return {"drops": sum(len(s) for s in drops.values()), "back": len(pairs),
            "resampled": len(delays), "delay_p50_s": _percentile(delays, 0.5),
            "delay_max_s": delays[-1] if delays else None}


_LOG_LINE = re.compile(r"^\S+ \S+ (ERROR|WARNING|CRITICAL) (\S+): (.*)$")


def log_problems(path: Path, since_line: int = 0) -> dict[str, Any]:
    """WARNING/ERROR lines and tracebacks of the hub's log, grouped by message shape (digits blanked)."""
    if not path.exists():
        return {"errors": 0, "warnings": 0, "tracebacks": 0, "top": []}
    lines = path.read_text(errors="replace").splitlines()[since_line:]
    kinds: Counter = Counter()
    shapes: Counter = Counter()
    for line in lines:
        m = _LOG_LINE.match(line)
        if m:
            kinds[m.group(1)] += 1
            shapes[f"{m.group(1)} {m.group(2)}: {re.sub(r'[0-9]+', 'N', m.group(3))[:160]}"] += 1
        elif line.startswith("Traceback"):
            kinds["traceback"] += 1
    return {"errors": kinds["ERROR"] + kinds["CRITICAL"], "warnings": kinds["WARNING"],
            "tracebacks": kinds["traceback"], "top": shapes.most_common(6)}


def retention_lines(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(1 for line in path.read_text(errors="replace").splitlines() if "retention: deleted" in line)


def wait_until(pred, timeout: float, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()
