"""What the host page shows: the live report from the hub's memory, or the newest stored sample.

Both sources are brought to one shape, so the templates need not know which it was:
the in-memory report after the first poll, the database right after a hub restart
or for a host that has been removed from the inventory.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from collector.metrics.catalogue import CATALOGUE
from collector.net_counting import RULES as NET_RULES
from webapp.fleet_view import GPU_HOT_C
from webapp.i18n import N_, current, gettext

RANGES = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
DEFAULT_RANGE = "1h"
# the newest values the page shows: every host metric of the catalogue (a stored sample has the stored ones)
LIVE_KEYS = ("ts", *(m.key for m in CATALOGUE.scope("host")))
DISK_COLUMNS = CATALOGUE.table("disk")  # the disk table's columns after mount and type


def _gpu(g: dict[str, Any]) -> dict[str, Any]:
    temp = g.get("temperature_c")
    used, total = g.get("mem_used_mb"), g.get("mem_total_mb")
    return {"index": g.get("index", g.get("gpu_index")), "name": g.get("name"), "util_pct": g.get("util_pct"),
            "vendor": g.get("vendor") or "nvidia",  # a row stored before the vendor column: nvidia-smi's
            "mem_used_mb": used, "mem_total_mb": total,
            "mem_pct": used / total * 100 if used is not None and total else None,
            "temperature_c": temp, "power_w": g.get("power_w"), "power_limit_w": g.get("power_limit_w"),
            "fan_pct": g.get("fan_pct"), "pcie_gen": g.get("pcie_gen"), "pcie_width": g.get("pcie_width"),
            "ecc_corrected": g.get("ecc_corrected_volatile"), "ecc_uncorrected": g.get("ecc_uncorrected_volatile"),
            "sm_clock_mhz": g.get("sm_clock_mhz"), "pstate": g.get("pstate"), "reason_thermal": g.get("reason_thermal"),
            "reason_hw_slowdown": g.get("reason_hw_slowdown"), "lost": g.get("lost") or False,
            "hot": temp is not None and temp >= GPU_HOT_C}


def gpu_processes(src: dict[str, Any]) -> list[dict[str, Any]]:
    """The processes on the cards, card by card, the biggest GPU memory first (None: a card not listed)."""
    procs = list(src.get("gpu_processes") or ())
    return sorted(procs, key=lambda p: (p.get("gpu_index") is None, p.get("gpu_index") or 0,
                                        -(p.get("used_mem_mb") or 0.0), p.get("pid") or 0))


def live_view(report: dict[str, Any] | None, sample: dict[str, Any] | None) -> dict[str, Any] | None:
    """The newest values of a host in one shape, from the live report or else the stored sample."""
    src = report if report and report.get("ok") is not None and "cpu_pct" in report else sample
    if not src:
        return None
    out = {k: src.get(k) for k in LIVE_KEYS}
    used, total = out["mem_used_bytes"], out["mem_total_bytes"]
    out["mem_pct"] = used / total * 100 if used is not None and total else None
    out["source"] = "live" if src is report else "stored"
    out["gpus"] = [_gpu(g) for g in src.get("gpus") or ()]
    out["gpu_processes"] = gpu_processes(src)  # live only: a stored sample has none
    out["disks"] = list(src.get("disks") or ())
    out["interfaces"] = list(src.get("net_interfaces") or ())  # live only: a stored sample has none
    out["net_counting"] = src.get("net_counting")
    out["net_rule"] = NET_RULES.get(out["net_counting"] or "")
    out["tiles"] = tiles(out)
    out["services"] = [{"name": s.get("name", s.get("unit")), "active_state": s.get("active_state"),
                        "sub_state": s.get("sub_state"), "load_state": s.get("load_state")}
                       for s in src.get("services") or ()]
    out["errors"] = src.get("errors") or {}
    return out


def tiles(live: dict[str, Any]) -> list[dict[str, Any]]:
    """The host page's tiles (the catalogue's): id, title, the first metric's value and the others' under it."""
    out = []
    for tile in filter(lambda t: t.shown(live), CATALOGUE.tiles):
        first, *rest = CATALOGUE.members(tile)
        out.append({"id": tile.id, "title": gettext(tile.title), "value": live.get(first.key), "unit": first.unit,
                    "more": [(gettext(m.short), live.get(m.key), m.unit) for m in rest]})
    return out


# per-card charts of a GPU host: (id, title, metric of /gpus/timeseries, unit, max)
GPU_CHARTS = (
    ("gpu-util", N_("GPU utilisation per card"), "util_pct", "%", 100),
    ("gpu-mem", N_("GPU memory used per card"), "mem_used_pct", "%", 100),
    ("gpu-temp", N_("GPU temperature per card"), "temperature_c", "°C", None),
    ("gpu-power", N_("GPU power per card"), "power_w", "W", None),
)


def chart_marks(host_id: str) -> dict[str, str]:
    """Where a host chart's markers come from: the host's events (charts.js adds the range) and alerts. The events
    come from the API in English, from `/events/marks` (webapp/pages/events.py) in another language: their type
    and message in its words (webapp/host_words.py)."""
    host = quote(host_id, safe="")
    events = "/api/events" if current() == "en" else "/events/marks"
    return {"events": f"{events}?server_id={host}", "alerts": f"/api/alerts?server_id={host}&state=firing,resolved"}


def chart_specs(host_id: str, gpu_count: int, power_limit_w: float | None = None) -> list[dict[str, Any]]:
    """The host page's charts (the catalogue's, then one per GPU metric with a line per card): title, the API's
    unit (charts.js picks kB/s or MB/s, MiB or GiB from the values), the API series each one draws and where
    its event markers come from. The power chart's scale ends at the cards' power limit."""
    base = f"/api/servers/{quote(host_id, safe='')}"
    marks = chart_marks(host_id)
    charts = []
    for chart in CATALOGUE.charts:
        members = CATALOGUE.members(chart)
        spec = {"id": chart.id, "title": gettext(chart.title), "unit": members[0].unit, "marks": marks,
                "sources": [{"kind": "series", "label": gettext(m.label), "url": f"{base}/timeseries?metric={m.name}"}
                            for m in members]}
        if chart.max is not None:
            spec["max"] = chart.max
        charts.append(spec)
    if not gpu_count:
        return charts
    for chart_id, title, metric, unit, top in GPU_CHARTS:
        spec = {"id": chart_id, "title": gettext(title), "unit": unit, "marks": marks,
                "sources": [{"kind": "gpus", "label": "GPU", "url": f"{base}/gpus/timeseries?metric={metric}"}]}
        if metric == "power_w" and power_limit_w:
            spec["title"] = gettext("%(title)s, limit %(watts)s W") % {"title": gettext(title),
                                                                         "watts": f"{power_limit_w:.0f}"}
            top = power_limit_w
        if top is not None:
            spec["max"] = top
        charts.append(spec)
    return charts


def power_limit(live: dict[str, Any] | None) -> float | None:
    """The highest power limit of the host's cards (the power chart's top), None when none says."""
    limits = [g["power_limit_w"] for g in (live or {}).get("gpus") or () if g.get("power_limit_w")]
    return max(limits) if limits else None
