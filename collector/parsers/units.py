"""Parse the catalog sections ``units`` (systemctl list-units) and ``unit_files`` (list-unit-files)."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

# A unit name as systemctl prints it (escapes stay as \xNN text); checked strictly in collector.prober.catalog().
_NAME = re.compile(r"[^\s/]+\.[A-Za-z]+", re.ASCII)
_WORD = re.compile(r"[a-z][a-z-]*", re.ASCII)  # load/active/sub/file states: "not-found", "auto-restart"
_BULLETS = ("●", "*")  # list-units without --plain marks failed/not-found units (UTF-8 / C locale)
_MAX_ERRORS = 20  # systemctl's own lines worth showing; the rest is noise
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Unit:
    """One row of list-units: a unit systemd has loaded (or was asked about)."""

    name: str
    load_state: str
    active_state: str
    sub_state: str
    description: str


@dataclass(frozen=True, slots=True)
class UnitList:
    """list-units rows in output order, or absent (no systemctl), plus lines that are no row."""

    absent: bool
    units: tuple[Unit, ...]
    errors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnitFile:
    """One row of list-unit-files; preset is None where systemctl prints "-" or (before v245) nothing."""

    name: str
    state: str
    preset: str | None


@dataclass(frozen=True, slots=True)
class UnitFileList:
    """list-unit-files rows in output order, or absent, plus lines that are no row."""

    absent: bool
    files: tuple[UnitFile, ...]
    errors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """A service as the catalog shows it; None where systemd did not say."""

    name: str
    load_state: str | None
    active_state: str | None
    sub_state: str | None
    file_state: str | None
    description: str | None


def _lines(text: str, kind: str, row: Callable[[list[str]], T | None]) -> tuple[bool, list[T], list[str]]:
    """(absent, records, error lines) in output order; `row` turns split fields into a record or None."""
    if text.strip() == "absent":
        return True, [], []
    records: list[T] = []
    errors: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        fields = stripped.split(None, 4)
        if fields[0] in _BULLETS:
            fields = stripped.split(None, 5)[1:]
        if not fields or not _NAME.fullmatch(fields[0]):
            problem = stripped  # systemctl's own words: "Failed to connect to bus: Host is down"
        else:
            record = row(fields)
            if record is not None:
                records.append(record)
                continue
            problem = f"not a {kind} row: " + " ".join(fields)
        if len(errors) < _MAX_ERRORS:
            errors.append(problem[:300])
    return False, records, errors


def _unit(f: list[str]) -> Unit | None:
    if len(f) < 4 or not all(_WORD.fullmatch(s) for s in f[1:4]):
        return None
    return Unit(f[0], f[1], f[2], f[3], f[4].strip() if len(f) > 4 else "")


def _unit_file(f: list[str]) -> UnitFile | None:
    if len(f) not in (2, 3) or not _WORD.fullmatch(f[1]):
        return None
    if len(f) == 3 and f[2] != "-" and not _WORD.fullmatch(f[2]):
        return None
    return UnitFile(f[0], f[1], f[2] if len(f) == 3 and f[2] != "-" else None)


def parse(text: str) -> UnitList:
    """Parse ``list-units --no-legend --plain`` lines: UNIT LOAD ACTIVE SUB DESCRIPTION; never raises."""
    absent, rows, errors = _lines(text, "list-units", _unit)
    return UnitList(absent, tuple(rows), tuple(errors))


def parse_files(text: str) -> UnitFileList:
    """Parse ``list-unit-files --no-legend`` lines: UNIT STATE [PRESET]; never raises."""
    absent, rows, errors = _lines(text, "list-unit-files", _unit_file)
    return UnitFileList(absent, tuple(rows), tuple(errors))
