"""The readable report of benchmarks/fleet.py: one line a figure, a unit on every number."""
from __future__ import annotations

from typing import Any

NOT_EXPOSED = "not exposed by the hub"


def _s(v: float | None, nd: int = 3) -> str:
    return "-" if v is None else f"{v:.{nd}f} s"


def _mb(v: float | None) -> str:
    return "-" if v is None else f"{v:,.1f} MB"


def _row(label: str, text: str) -> str:
    return f"{label:<28} {text}"


def render(r: dict[str, Any]) -> str:
    out = [f"fleet benchmark: {r['hosts']:,} simulated hosts, probe interval {r['interval_s']:g} s, "
           f"{r['minutes']:g} min measured after warm-up",
           _row("hub", f"`serve` from {r['tree']}; database {r['db']}"),
           _row("simulator", f"{r['sim_procs']} process(es); inventory and keys ready in {r['prepare_s']} s")]
    if r.get("history"):
        h = r["history"]
        out.append(_row("history (--history)", f"{h['rows']:,} old raw rows stored in {h['seconds']} s before the "
                                               "hub started, for its retention (the database growth below is net of their deletion)"))
    w = r["warmup"]
    if w["seconds"] is None:
        out.append(_row("warm-up", f"NOT FINISHED: {w['hosts_sampled']:,} of {r['hosts']:,} hosts sampled; "
                                   f"hub RSS peak {_mb(w['hub_rss_peak_mb'])}"))
        out.append(_row("progress (s after start, hosts)", ", ".join(f"{t:g} s: {n:,}" for t, n in w["progress"])))
    else:
        out.append(_row("warm-up (all hosts sampled)", f"{w['seconds']:.1f} s after serve started; "
                                                       f"hub RSS peak {_mb(w['hub_rss_peak_mb'])} meanwhile"))
    if "probes" in r:
        p, g = r["probes"], r["probes"]["gaps"]
        out += [
            _row("window", f"{r['window_s']:.1f} s of steady state"),
            _row("probes", f"expected {p['expected']:,}, done {p['done']:,}, missed {p['missed']:,} "
                           f"({p['missed_pct']:.3f} %) on {p['hosts_missing_probes']:,} host(s); "
                           f"{p['excluded_host_s']:,.0f} host-s of drop-offs left out"),
            _row("sample gaps", f"p50 {_s(g['p50_s'])}, p99 {_s(g['p99_s'])}, max {_s(g['max_s'])}; "
                                f"{g['over_7_5_s']:,} of {g['count']:,} gaps over 7.5 s"),
        ]
        if p["worst_hosts"]:
            out.append(_row("most missed", ", ".join(f"{h}: {n}" for h, n in p["worst_hosts"])))
        rc = r["reconnect_after_drop"]
        out.append(_row("drop-offs", f"{rc['drops']} drop(s), {rc['back']} back within the window; next sample "
                                     f"{_s(rc['delay_p50_s'], 1)} (median), {_s(rc['delay_max_s'], 1)} (max) after "
                                     f"the host was back ({rc['resampled']} resampled)"))
        h = r["hub"]
        out.append(_row("hub, all processes", f"CPU {h['cpu_pct']:.1f} % of one core, {h['cpu_ms_per_probe']:.2f} ms "
                                              f"per probe; RSS {_mb(h['rss_start_mb'])} at start, "
                                              f"{_mb(h['rss_end_mb'])} at end (PSS {_mb(h.get('pss_end_mb'))}: "
                                              "shared pages counted once)"))
        if h.get("rss_growth_after_minute_5_pct") is not None:
            out.append(_row("hub RSS after minute 5", f"{h['rss_growth_after_minute_5_pct']:+.1f} % from minute 5 to "
                                                     f"the end ({_mb(h['rss_by_minute_mb'][4])} -> "
                                                     f"{_mb(h['rss_end_mb'])})"))
        for proc in h["processes"]:
            gone = "" if proc["alive_at_end"] else " (gone by the end)"
            out.append(_row(f"  {proc['name']} (pid {proc['pid']})",
                            f"CPU {proc['cpu_pct']:.1f} % of one core, {proc['cpu_ms_per_probe']:.2f} ms per probe; "
                            f"RSS {_mb(proc['rss_start_mb'])} -> {_mb(proc['rss_end_mb'])}{gone}"))
        d = r["db_rows"]
        tables = ", ".join(f"{t} {v:,.1f}/s" for t, v in d["tables_per_s"].items())
        out += [
            _row("database writes", f"{d['per_s']:,.1f} rows/s ({tables})"),
            _row("database growth", f"{d['mb_per_host_day']:.2f} MB per host-day (data {_mb(d['size_start_mb'])} "
                                    f"-> {_mb(d['size_end_mb'])}; files {_mb(d['files_start_mb'])} -> "
                                    f"{_mb(d['files_end_mb'])})"),
        ]
        u = r["upkeep"]
        out.append(_row("longest rollup", (_s(u["rollup_max_s"]) + (f" (longest write {_s(u['rollup_write_max_s'])})"
                                                                     if u.get("rollup_write_max_s") is not None else ""))
                        if u["rollup_exposed"]
                        else f"{NOT_EXPOSED} (/healthz has no last_rollup)"))
        out.append(_row("longest retention", (_s(u["retention_max_s"]) + (
                            f" (longest delete batch {_s(u['retention_batch_max_s'])})"
                            if u.get("retention_batch_max_s") is not None else "")) if u["retention_exposed"]
                        else f"{NOT_EXPOSED} (/healthz has no last_retention; {u['retention_log_lines']} "
                             "'retention: deleted' log line(s), without a duration)"))
        s = r["simulator"]
        out.append(_row("simulator CPU", f"{s['cpu_pct']:.1f} % of one core, {s['cpu_ms_per_probe']:.3f} ms per probe "
                                         f"answered ({s['probes_answered']:,} answered); RSS {_mb(s['rss_end_mb'])}"))
        if r.get("postgres_cpu_pct") is not None:
            out.append(_row("PostgreSQL server CPU", f"{r['postgres_cpu_pct']:.1f} % of one core (every `postgres` "
                                                     "process on this machine)"))
        m = r["machine"]
        out.append(_row("machine", f"{m['cpus']} CPUs, CPU busy {m['cpu_busy_pct']:.1f} % over the window; "
                                   f"load {' '.join(f'{x:.2f}' for x in m['load_start'])} at start, "
                                   f"{' '.join(f'{x:.2f}' for x in m['load_end'])} at end"))
    lg = r["log"]
    out.append(_row("hub log (window)", f"{lg['errors']} error(s), {lg['warnings']} warning(s), "
                                        f"{lg['tracebacks']} traceback(s)"))
    for shape, n in lg["top"]:
        out.append(_row("", f"{n} x {shape}"))
    if "log_whole_run" in r and r["log_whole_run"]["top"] != lg["top"]:
        whole = r["log_whole_run"]
        out.append(_row("hub log (whole run)", f"{whole['errors']} error(s), {whole['warnings']} warning(s), "
                                               f"{whole['tracebacks']} traceback(s)"))
        for shape, n in whole["top"]:
            out.append(_row("", f"{n} x {shape}"))
    st = r.get("stop") or {}
    out.append(_row("stop", f"SIGTERM to exit {_s(st.get('seconds'), 1)}, exit code {st.get('exit_code')}"))
    for note in r["notes"]:
        out.append(_row("note", note))
    if r.get("kept"):
        out.append(_row("kept", r["kept"]))
    out.append(_row("result", "OK" if r["ok"] else "FAILED (see above)"))
    return "\n".join(out)
