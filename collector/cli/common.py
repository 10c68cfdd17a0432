"""What every `fleetwatch` subcommand shares: exit codes, the error line, printing a snapshot."""
from __future__ import annotations

import json
import sys
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_DEGRADED = 0, 1, 2, 3


def err(msg: str) -> None:
    """One line on stderr, never a traceback."""
    print(f"fleetwatch: {msg}", file=sys.stderr)


def print_report(host_id: str, report: dict[str, Any], as_json: bool) -> int:
    """Print a probe snapshot (readable or JSON); exit 3 with the failed sections when degraded."""
    from collector.render_text import render

    print(json.dumps(report, indent=2) if as_json else render(report))
    if not report.get("ok", False):
        err(f"{host_id}: degraded: " + "; ".join(f"{k}: {v}" for k, v in (report.get("errors") or {}).items()))
        return EXIT_DEGRADED
    return EXIT_OK
