"""The one wording of sizes, rates and durations: pages, the terminal snapshot, events and alerts.

``format_bytes``: binary units (``1.5 KiB``, ``3.0 GiB``), as ``free`` and ``df -h`` show memory and
disks. ``format_rate``: bytes per second in MB/s (decimal, as disk and network vendors count), with
two decimals, one unit everywhere so that numbers line up with the charts (also in MB/s).
``format_duration``: ``42 s``, ``3 min 20 s``, ``2 h 5 min``, ``3 d 4 h`` (two units at most, rounded
to the second); webapp/static/fleetwatch.js words the live "ago" times the same way.

An unknown value (None) is shown as ``missing``: the pages' dash by default; the terminal passes
``n/a``. Standard library only, in ``schema`` (whose package imports nothing) so that ``collector``,
``webapp`` and ``inventory`` may all use it.
"""

from __future__ import annotations

__all__ = ["MISSING", "format_bytes", "format_duration", "format_rate"]

MISSING = "–"  # shown where a value is unknown


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
    """Bytes per second as MB/s (decimal): ``2.50 MB/s``."""
    return missing if bps is None else f"{bps / 1e6:.2f} MB/s"


def format_duration(seconds: float | None, missing: str = MISSING) -> str:
    """``45 s``, ``3 min 20 s``, ``2 h 5 min``, ``3 d 4 h``: how events, alerts, pages and the terminal word it."""
    if seconds is None:
        return missing
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min" + (f" {s % 60} s" if s % 60 else "")
    if s < 86400:
        return f"{s // 3600} h" + (f" {s % 3600 // 60} min" if s % 3600 // 60 else "")
    return f"{s // 86400} d" + (f" {s % 86400 // 3600} h" if s % 86400 // 3600 else "")
