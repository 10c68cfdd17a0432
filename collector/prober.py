"""Run the bundled probe over a host's persistent connection and parse it."""
from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, field

from collector.errors import Failure, HostError
from collector.parsers import ParseError, clean, rc, units
from collector.parsers.units import CatalogEntry, Unit, UnitFile, UnitFileList, UnitList
from collector.reading import EXIT_MEANING, Reading, parse_output
from collector.sections import split_sections
from collector.ssh_pool import HostConnection
from inventory import DISK_MODES, HostSpec
from inventory.patterns import validate_mount, validate_unit
from remote_scripts import probe_command

MAX_PROBE_OUTPUT = 256 * 1024  # an ordinary probe is ~3 KiB; more is a host misbehaving
MAX_CATALOG_OUTPUT = 1024 * 1024  # ~100 bytes per unit; a busy host lists a few hundred


def probe_args(spec: HostSpec, *, want_os: bool = False, want_ps: bool = False,
               want_gpu_apps: bool = False) -> list[str]:
    """Command-line arguments for probe.sh; every unit and mount re-validated here.

    Validation happens at inventory load too; checking again right before the
    values reach a remote shell means no other path (API, tests) can skip it.
    """
    args: list[str] = []
    if want_os:
        args.append("-o")
    if want_ps:
        args.append("-p")
    if spec.gpu != "off":
        args.append("-g")
        if want_gpu_apps:
            args.append("-c")
    if spec.disks in DISK_MODES:  # "all", "all+tmpfs": one df over every local filesystem, filtered on the hub
        args.append("-a")
    else:
        args += ["-m", "\n".join(validate_mount(m) for m in spec.disks)]
    units = [validate_unit(u) for u in spec.services]
    if units:
        args += ["--", *units]
    return args


@functools.lru_cache(maxsize=4096)
def _command(args: tuple[str, ...]) -> str:
    """The exec request for these arguments: a fleet has few distinct ones, and the 3 KB string is then
    made once and shared instead of once per host per poll."""
    return probe_command(list(args))


async def probe_once(conn: HostConnection, *, want_os: bool = False, want_ps: bool = False,
                     want_gpu_apps: bool = False, timeout: float | None = None) -> Reading:
    """One probe on a new channel; raises HostError when nothing usable came back."""
    spec = conn.spec
    gpu = spec.gpu != "off"
    apps = gpu and want_gpu_apps
    asked = frozenset(s for s, on in (("os", want_os), ("ps", want_ps), ("nvidia", gpu), ("gpu_apps", apps),
                                      ("gpu_ps", apps), ("systemd", bool(spec.services))) if on)
    command = _command(tuple(probe_args(spec, want_os=want_os, want_ps=want_ps, want_gpu_apps=apps)))
    result = await conn.run(command, timeout=timeout, max_output=MAX_PROBE_OUTPUT)
    reading = parse_output(result.stdout, result.exit_status, time.time(), asked=asked,
                           gpu_mode=spec.gpu, truncated=result.truncated)
    core = ("uptime", "stat", "meminfo")
    if all(name in reading.errors for name in core):
        if len(result.stdout) >= MAX_PROBE_OUTPUT:  # not a shell problem: a host sending far more than a probe
            raise HostError(Failure.PROBE_FAILED,
                            f"probe on {spec.id} produced no usable output: it was cut at {MAX_PROBE_OUTPUT} "
                            "bytes (an ordinary probe prints about 3 KiB); the host is misbehaving")
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        why = (clean(detail[-1], 300) if detail
               else f"exit status {result.exit_status}, {len(result.stdout)} bytes of output")
        raise HostError(Failure.PROBE_FAILED,
                        f"probe on {spec.id} produced no usable output ({why}); "
                        "is the login shell of the monitoring user a POSIX sh?")
    return reading


async def probe_twice(conn: HostConnection, gap_s: float = 1.0) -> tuple[Reading, Reading]:
    """"Probe now": two readings about `gap_s` apart on one connection, so rates are filled."""
    first = await probe_once(conn, want_os=True, want_ps=True, want_gpu_apps=True)
    await asyncio.sleep(gap_s)
    second = await probe_once(conn)
    return first, second


@dataclass(frozen=True)
class CatalogResult:
    """The host's services for "discover services"; available is False when systemd cannot be asked."""

    available: bool
    units: list[CatalogEntry] = field(default_factory=list)
    error: str | None = None


def _catalog_problems(what: str, code: int | None, errors: tuple[str, ...]) -> str | None:
    if code is not None and code in EXIT_MEANING:
        return f"systemctl {what} {EXIT_MEANING[code]}"
    if errors:
        return f"systemctl {what}: " + "; ".join(errors)[:500]
    if code:
        return f"systemctl {what} exit status {code}"
    return None


def _valid_service(name: str) -> bool:
    if not name.endswith(".service") or name.endswith("@.service"):
        return False  # other unit types; templates cannot be monitored, only their instances
    try:
        validate_unit(name)
    except ValueError:
        return False
    return True


def catalog(listed: UnitList, files: UnitFileList) -> list[CatalogEntry]:
    """Services from both lists merged by name, sorted; invalid names and templates left out.

    Invalid: what the inventory would refuse (inventory.patterns.validate_unit), so that every
    service offered can be added; the parsers themselves know nothing of the inventory.
    """
    loaded: dict[str, Unit] = {}
    for u in listed.units:
        loaded.setdefault(u.name, u)
    on_disk: dict[str, UnitFile] = {}
    for f in files.files:
        on_disk.setdefault(f.name, f)
    out = []
    for name in sorted((set(loaded) | set(on_disk))):
        if not _valid_service(name):
            continue
        u, f = loaded.get(name), on_disk.get(name)
        out.append(CatalogEntry(
            name,
            u.load_state if u else None,
            u.active_state if u else None,
            u.sub_state if u else None,
            f.state if f else None,
            (u.description or None) if u else None,
        ))
    return out


def catalog_from_output(host_id: str, output: bytes, *, truncated: bool = False) -> CatalogResult:
    """Interpret `probe.sh -U` output (pure); HostError when it is not the probe's output at all."""
    sections = split_sections(output.decode("utf-8", errors="replace"))
    if "units" not in sections:
        raise HostError(Failure.PROBE_FAILED,
                        f"service catalog on {host_id} produced no usable output ({len(output)} bytes); "
                        "is the login shell of the monitoring user a POSIX sh?")
    listed = units.parse(sections["units"])
    on_disk = units.parse_files(sections.get("unit_files", ""))
    if listed.absent:
        return CatalogResult(False, [], "systemctl not found on the host: services cannot be listed")
    try:
        codes = rc.parse(sections.get("rc", ""))
    except ParseError:
        codes = rc.ExitCodes(())
    problems = [p for p in (
        _catalog_problems("list-units", codes.get("units"), listed.errors),
        _catalog_problems("list-unit-files", codes.get("unit_files"), on_disk.errors),
    ) if p]
    if truncated:
        problems.append(f"output cut at {len(output)} bytes: the list is incomplete")
    entries = catalog(listed, on_disk)
    # list-units failing (no bus, timed out) leaves nothing to choose from but unit files
    available = bool(listed.units) or codes.get("units") == 0
    return CatalogResult(available, entries, "; ".join(problems) or None)


async def service_catalog(conn: HostConnection, timeout: float | None = None) -> CatalogResult:
    """Every service unit on the host (`probe.sh -U`) on a new channel of its connection."""
    result = await conn.run(probe_command(["-U"]), timeout=timeout, max_output=MAX_CATALOG_OUTPUT)
    return catalog_from_output(conn.spec.id, result.stdout, truncated=result.truncated)
