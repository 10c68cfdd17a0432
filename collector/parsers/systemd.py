"""Parse the ``systemd`` section: ``systemctl show --property=Id,LoadState,ActiveState,SubState``."""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import clean

_PROP = re.compile(r"([A-Za-z]+)=(.*)", re.ASCII)
UNIT_NAME_MAX = 256  # systemd's own limit
STATE_MAX = 32  # "activating", "auto-restart": states are short words


@dataclass(frozen=True, slots=True)
class UnitState:
    """One unit; an unknown unit is load_state "not-found"."""

    name: str
    load_state: str | None
    active_state: str | None
    sub_state: str | None


@dataclass(frozen=True, slots=True)
class SystemdResult:
    """Units in the order asked, or absent (no systemctl), plus systemctl's error lines."""

    absent: bool
    units: tuple[UnitState, ...]
    errors: tuple[str, ...]


def _blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            blocks[-1].append(line.strip())
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _state(value: str | None) -> str | None:
    return clean(value, STATE_MAX) if value else None


def parse(text: str) -> SystemdResult:
    """Parse blank-line separated KEY=VALUE blocks; never raises."""
    if text.strip() == "absent":
        return SystemdResult(True, (), ())
    units: list[UnitState] = []
    errors: list[str] = []
    for block in _blocks(text):
        props: dict[str, str] = {}
        for line in block:
            m = _PROP.fullmatch(line)
            if m:
                props.setdefault(m.group(1), m.group(2))
            else:
                errors.append(clean(line, 300))  # "Failed to connect to bus: Host is down"
        if "Id" in props and props["Id"]:
            units.append(UnitState(
                clean(props["Id"], UNIT_NAME_MAX), _state(props.get("LoadState")),
                _state(props.get("ActiveState")), _state(props.get("SubState")),
            ))
        elif props:
            errors.append(clean("block without Id: " + " ".join(f"{k}={v}" for k, v in props.items()), 300))
    return SystemdResult(False, tuple(units), tuple(errors))
