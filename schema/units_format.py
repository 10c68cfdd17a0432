"""The one wording of sizes, rates and durations: pages, the terminal snapshot, events and alerts.

``format_bytes``: binary units (``1.5 KiB``, ``3.0 GiB``), as ``free`` and ``df -h`` show memory and
disks. ``format_rate``: bytes per second in the decimal unit that keeps the number readable (``512 B/s``,
``1.2 MB/s``, as disk and network vendors count): "0.00 MB/s" said nothing about a quiet link.
``format_value``: any catalogue metric by its unit (collector/metrics/catalogue.py).
``format_duration``: ``42 s``, ``3 min 20 s``, ``2 h 5 min``, ``3 d 4 h`` (two units at most, rounded
to the second); webapp/static/fleetwatch.js words the live "ago" times the same way. With
``lang="zh"`` (the pages' Simplified Chinese, webapp/i18n.py) durations say ``42 秒``, ``3 分 20 秒``,
``2 小时 5 分``, ``3 天 4 小时``; the units of sizes, rates, %, °C, W and MHz are international and stay.

An unknown value (None) is shown as ``missing``: the pages' dash by default; the terminal passes
``n/a``. Standard library only, in ``schema`` (whose package imports nothing) so that ``collector``,
``webapp`` and ``inventory`` may all use it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MISSING", "format_bytes", "format_duration", "format_rate", "format_value"]

MISSING = "–"  # shown where a value is unknown

# a duration's unit words per language: second, minute, hour, day (English is the default and the fallback)
DURATION_UNITS = {"en": ("s", "min", "h", "d"), "zh": ("秒", "分", "小时", "天")}


def format_bytes(n: float | None, missing: str = MISSING) -> str:
    """Bytes in the largest binary unit that keeps the number readable: ``512 B``, ``1.5 KiB``, ``5.0 TiB``."""
    if n is None:
        return missing
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def format_rate(bps: float | None, missing: str = MISSING) -> str:
    """Bytes per second in decimal units: ``0 B/s``, ``512 B/s``, ``12.5 kB/s``, ``2.5 MB/s``, ``1.2 GB/s``."""
    if bps is None:
        return missing
    for unit in ("B/s", "kB/s", "MB/s"):
        if abs(bps) < 1000:
            return f"{bps:.0f} {unit}" if unit == "B/s" else f"{bps:.1f} {unit}"
        bps /= 1000
    return f"{bps:.1f} GB/s"


def format_duration(seconds: float | None, missing: str = MISSING, lang: str = "en") -> str:
    """``45 s``, ``3 min 20 s``, ``2 h 5 min``, ``3 d 4 h``: how events, alerts, pages and the terminal word it;
    ``lang="zh"``: ``45 秒``, ``3 分 20 秒``, ``2 小时 5 分``, ``3 天 4 小时``."""
    if seconds is None:
        return missing
    sec, mins, hours, days = DURATION_UNITS.get(lang, DURATION_UNITS["en"])
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} {sec}"
    if s < 3600:
        return f"{s // 60} {mins}" + (f" {s % 60} {sec}" if s % 60 else "")
    if s < 86400:
        return f"{s // 3600} {hours}" + (f" {s % 3600 // 60} {mins}" if s % 3600 // 60 else "")
    return f"{s // 86400} {days}" + (f" {s % 86400 // 3600} {hours}" if s % 86400 // 3600 else "")


def format_value(value: Any, unit: str, missing: str = MISSING, lang: str = "en") -> str:
    """A metric's value with its unit (the catalogue's units): ``12.5 %``, ``1.5 GiB``, ``3.2 MB/s``, ``85 °C``,
    ``112 W``, ``1410 MHz``, ``2 h 5 min``, ``0.42`` (load), ``8`` (count), ``active`` (state); `lang`: the
    duration's words (``format_duration``), the rest is the same in every language."""
    if value is None:
        return missing
    if isinstance(value, str) or unit == "state":
        return str(value)
    if unit == "bytes":
        return format_bytes(value, missing)
    if unit == "bytes/s":
        return format_rate(value, missing)
    if unit == "s":
        return format_duration(value, missing, lang)
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "MiB":
        return format_bytes(value * 2**20, missing)
    if unit in ("°C", "W", "MHz"):
        return f"{value:.0f} {unit}"
    return f"{value:.2f}" if isinstance(value, float) else str(value)
