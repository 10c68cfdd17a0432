"""One probe's output turned into parsed records and per-section errors (pure)."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from collector.parsers import (
    ParseError,
    df,
    diskstats,
    epoch,
    loadavg,
    meminfo,
    netdev,
    nvidia,
    os_info,
    ps,
    rc,
    stat,
    systemd,
    uptime,
)
from collector.parsers.registry import registered
from collector.sections import split_sections

PARSERS: dict[str, Callable[[str], Any]] = {
    "epoch": epoch.parse,
    "uptime": uptime.parse,
    "stat": stat.parse,
    "loadavg": loadavg.parse,
    "meminfo": meminfo.parse,
    "diskstats": diskstats.parse_counted,  # only the devices rates count (parsing the rest cost 14 % of a worker)
    "net": netdev.parse,
    "os": os_info.parse,
    "nvidia": nvidia.parse,
    "systemd": systemd.parse,
    "ps": ps.parse,
    "rc": rc.parse,
    "df": df.parse,
}

# Sections added later register themselves (collector/parsers/registry.py): parsed at every probe, not an
# error when missing.
REGISTERED = registered()
PARSERS.update({s.name: s.parse for s in REGISTERED})
OPTIONAL = tuple(s.name for s in REGISTERED)

# What the previous reading is kept for: rates over the interval, and os / ps, which are asked now and then.
KEPT = frozenset({"uptime", "stat", "diskstats", "net", "os", "ps", "gpu_apps", "gpu_ps",
                  *(s.name for s in REGISTERED if s.keep)})
# asked now and then: kept from poll to poll until asked again
CARRIED = ("os", "ps", "gpu_apps", "gpu_ps")

# Always printed by the probe; the others only when asked for.
ALWAYS = ("epoch", "uptime", "stat", "loadavg", "meminfo", "diskstats", "net", "rc", "df")

EXIT_MEANING = {124: "timed out", 137: "killed after timing out", 127: "command not found", 126: "not executable"}


def _status_text(status: int) -> str:
    return EXIT_MEANING.get(status, f"exit status {status}")


@dataclass(frozen=True)
class Reading:
    """Parsed sections of one probe, and what went wrong with which section."""

    received_at: float  # hub wall-clock seconds, for display; rates use host time
    parsed: Mapping[str, Any]
    errors: Mapping[str, str]
    exit_status: int | None
    raw_bytes: int = 0
    truncated: bool = False
    asked: frozenset[str] = field(default_factory=frozenset)

    def get(self, section: str) -> Any:
        return self.parsed.get(section)

    def kept(self, before: Reading | None = None) -> Reading:
        """What the next poll needs of this reading (rates, and the os and ps sections asked now and then);
        the rest (df, GPUs, services, ...) is left out: at 1,000 hosts a worker keeps 1,000 of these.

        os and ps not asked this time are carried over from `before` (the reading kept last time): os is asked
        once per connection, and the report's CPU count and host clock (under dash) come from it at every poll.
        """
        parsed = {k: v for k, v in self.parsed.items() if k in KEPT}
        if before is not None:
            for name in CARRIED:
                if name not in self.asked and name not in parsed and before.get(name) is not None:
                    parsed[name] = before.get(name)
        return Reading(self.received_at, MappingProxyType(parsed),
                       MappingProxyType({k: v for k, v in self.errors.items() if k in KEPT}), self.exit_status,
                       self.raw_bytes, self.truncated, self.asked)


def _tool_problems(name: str, record: Any, asked_gpu: str) -> str | None:
    """Errors a parsed record carries (absent tools, tool error text)."""
    if name == "nvidia":
        if record.absent:
            return "nvidia-smi not found on the host (gpu: nvidia expects it)" if asked_gpu == "nvidia" else None
        if record.errors:
            return "; ".join(record.errors)[:500]
    if name == "systemd":
        if record.absent:
            return "systemctl not found on the host: services cannot be checked"
        if record.errors:
            return "; ".join(record.errors)[:500]
    if name in ("df", "ps") and record.errors:
        return "; ".join(record.errors)[:500]
    return None


def parse_output(output: bytes, exit_status: int | None, received_at: float, *,
                 asked: frozenset[str] = frozenset(), gpu_mode: str = "auto",
                 truncated: bool = False) -> Reading:
    """Split and parse probe output; a bad section becomes an error, never an exception."""
    text = output.decode("utf-8", errors="replace")
    sections = split_sections(text)
    parsed: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in (*ALWAYS, *OPTIONAL, *sorted(asked)):
        if name in parsed or name in errors:
            continue
        body = sections.get(name)
        if body is None and name in OPTIONAL:
            continue
        if body is None:
            errors[name] = "section missing from probe output" + (" (output truncated)" if truncated else "")
            continue
        try:
            parsed[name] = PARSERS[name](body)
        except ParseError as exc:
            errors[name] = str(exc)
            continue
        problem = _tool_problems(name, parsed[name], gpu_mode)
        if problem:
            errors[name] = problem
    codes = parsed.get("rc")
    if codes is not None:
        for name in ("nvidia", "systemd", "ps"):
            status = codes.get(name)
            if status is not None and status in EXIT_MEANING:
                errors[name] = f"{name} {_status_text(status)}"
    # df runs last and replaces the shell: its status is the probe's exit status
    if exit_status in EXIT_MEANING:
        errors["df"] = f"df {_status_text(exit_status)}"
    return Reading(received_at, MappingProxyType(parsed), MappingProxyType(errors), exit_status,
                   len(output), truncated, asked)
