"""A readable terminal snapshot of a host report (units on every number)."""
from __future__ import annotations

from typing import Any

from collector.metrics.catalogue import CATALOGUE
from collector.metrics.model import Tile
from collector.net_counting import RULES as NET_RULES
from schema.units_format import format_bytes, format_value

NA = "n/a"


def format_metric(value: Any, unit: str) -> str:
    return format_value(value, unit, NA)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return ["  " + fmt.format(*headers).rstrip()] + ["  " + fmt.format(*r).rstrip() for r in rows]


def tile_text(report: dict[str, Any], tile: Tile) -> tuple[str, str]:
    """A tile's main value and the line under it: "1.2 GiB", "of 16.0 GiB · used 7.5 %"."""
    first, *rest = CATALOGUE.members(tile)
    return (format_metric(report.get(first.key), first.unit),
            " · ".join(f"{m.short} {format_metric(report.get(m.key), m.unit)}" for m in rest))


def _items(report: dict[str, Any], scope: str, key: str, lead: list[tuple[str, str]]) -> list[str]:
    columns = CATALOGUE.table(scope)
    headers = [h for h, _ in lead] + [m.label.upper() for m in columns]
    rows = [[str(item.get(k) if item.get(k) is not None else NA) for _, k in lead]
            + [format_metric(item.get(m.key), m.unit) for m in columns] for item in report.get(key) or ()]
    return _table(headers, rows)


def render(report: dict[str, Any]) -> str:
    """The whole snapshot (the JSON shape of a report) as lines of text: the catalogue's tiles and tables."""
    os_ = report.get("os") or {}
    out = [f"{report['host']}  [{report['state']}]  {os_.get('hostname') or NA} · {os_.get('pretty_name') or NA}"
           f" · {os_.get('kernel') or NA} {os_.get('arch') or ''}"]
    width = max(len(t.title) for t in CATALOGUE.tiles) + 2
    for tile in filter(lambda t: t.shown(report), CATALOGUE.tiles):
        value, more = tile_text(report, tile)
        out.append(f"{tile.title:<{width}}{value}" + (f" · {more}" if more else ""))
    if report.get("disks"):
        out.append("Disks")
        out += _items(report, "disk", "disks", [("MOUNT", "mount"), ("TYPE", "fstype")])
    if report.get("net_interfaces"):
        out.append(f"Interfaces (Net in / out count {NET_RULES.get(report.get('net_counting') or '', NA)})")
        out += _table(["INTERFACE", "RECEIVE", "TRANSMIT", "COUNTED"],
                      [[i["name"], format_metric(i["rx_bps"], "bytes/s"), format_metric(i["tx_bps"], "bytes/s"),
                        "yes" if i.get("counted") else "no"] for i in report["net_interfaces"]])
    gpus = report.get("gpus") or []
    out.append(f"GPUs      {len(gpus) or 'none'}")
    if gpus:
        out += _items(report, "gpu", "gpus", [("#", "index"), ("NAME", "name")])
    if report.get("services"):
        out.append("Services")
        out += _table(["UNIT", "STATE", "SUB"],
                      [[s["name"], s["active_state"] or NA, s["sub_state"] or NA] for s in report["services"]])
    procs = report.get("top_processes") or []
    if procs:
        out.append("Top processes (CPU % over each process's lifetime, as ps shows it)")
        out += _table(["PID", "CPU", "RSS", "NAME"],
                      [[str(p["pid"]), format_metric(p["cpu_pct"], "%"), format_bytes(p["rss_bytes"], NA), p["name"]]
                       for p in procs[:10]])
    if report.get("errors"):
        out.append("Problems")
        out += [f"  {k}: {v}" for k, v in report["errors"].items()]
    return "\n".join(out)
