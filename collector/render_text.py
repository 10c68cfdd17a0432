"""A readable terminal snapshot of a host report (units on every number)."""
from __future__ import annotations

from typing import Any

from schema.units_format import format_bytes, format_duration, format_rate

NA = "n/a"


def _pct(v: float | None) -> str:
    return NA if v is None else f"{v:.1f} %"


def _num(v: float | None, unit: str, fmt: str = ".0f") -> str:
    return NA if v is None else f"{v:{fmt}} {unit}"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return ["  " + fmt.format(*headers).rstrip()] + ["  " + fmt.format(*r).rstrip() for r in rows]


def render(report: dict[str, Any]) -> str:
    """The whole snapshot as lines of text."""
    os_ = report.get("os") or {}
    out = [f"{report['host']}  [{report['state']}]  {os_.get('hostname') or NA} · {os_.get('pretty_name') or NA}"
           f" · {os_.get('kernel') or NA} {os_.get('arch') or ''} · up {format_duration(report.get('uptime_s'), NA)}"]
    load = " ".join("n/a" if report.get(k) is None else f"{report[k]:.2f}" for k in ("load1", "load5", "load15"))
    out.append(f"CPU       {_pct(report.get('cpu_pct'))} of {report.get('cpu_count') or NA} cores · load {load}")
    total, used = report.get("mem_total_bytes"), report.get("mem_used_bytes")
    mem_pct = None if not total or used is None else 100 * used / total
    out.append(f"Memory    {format_bytes(used, NA)} used of {format_bytes(total, NA)} ({_pct(mem_pct)}),"
               f" {format_bytes(report.get('mem_available_bytes'), NA)} available")
    out.append(f"Disk I/O  read {format_rate(report.get('disk_read_bps'), NA)}"
               f" · write {format_rate(report.get('disk_write_bps'), NA)}")
    out.append(f"Network   rx {format_rate(report.get('net_rx_bps'), NA)} · tx {format_rate(report.get('net_tx_bps'), NA)}")
    if report.get("disks"):
        out.append("Disks")
        out += _table(["MOUNT", "TYPE", "USED", "SIZE", "USE"],
                      [[d["mount"], d["fstype"], format_bytes(d["used_bytes"], NA),
                        format_bytes(d["total_bytes"], NA),
                        _num(d["used_pct"], "%")] for d in report["disks"]])
    gpus = report.get("gpus") or []
    out.append(f"GPUs      {len(gpus) or 'none'}")
    if gpus:
        out += _table(["#", "NAME", "UTIL", "MEMORY", "TEMP", "POWER"],
                      [[str(g["index"]), g["name"] or NA, _num(g["util_pct"], "%"),
                        f"{_num(g['mem_used_mb'], 'MiB')} / {_num(g['mem_total_mb'], 'MiB')}",
                        _num(g["temperature_c"], "°C"), _num(g["power_w"], "W", ".1f")] for g in gpus])
    if report.get("services"):
        out.append("Services")
        out += _table(["UNIT", "STATE", "SUB"],
                      [[s["name"], s["active_state"] or NA, s["sub_state"] or NA] for s in report["services"]])
    procs = report.get("top_processes") or []
    if procs:
        out.append("Top processes (CPU % over each process's lifetime, as ps shows it)")
        out += _table(["PID", "CPU", "RSS", "NAME"],
                      [[str(p["pid"]), _num(p["cpu_pct"], "%", ".1f"), format_bytes(p["rss_bytes"], NA), p["name"]]
                       for p in procs[:10]])
    if report.get("errors"):
        out.append("Problems")
        out += [f"  {k}: {v}" for k, v in report["errors"].items()]
    return "\n".join(out)
