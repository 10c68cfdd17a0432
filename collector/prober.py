"""Run the bundled probe over a host's persistent connection and parse it."""
from __future__ import annotations

import asyncio
import time

from collector.errors import Failure, HostError
from collector.reading import Reading, parse_output
from collector.ssh_pool import HostConnection
from inventory import HostSpec
from inventory.patterns import validate_mount, validate_unit
from remote_scripts import probe_command

MAX_PROBE_OUTPUT = 256 * 1024  # an ordinary probe is ~3 KiB; more is a host misbehaving


def probe_args(spec: HostSpec, *, want_os: bool = False, want_ps: bool = False) -> list[str]:
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
    if spec.disks == "all":
        args.append("-a")
    else:
        args += ["-m", "\n".join(validate_mount(m) for m in spec.disks)]
    units = [validate_unit(u) for u in spec.services]
    if units:
        args += ["--", *units]
    return args


async def probe_once(conn: HostConnection, *, want_os: bool = False, want_ps: bool = False,
                     timeout: float | None = None) -> Reading:
    """One probe on a new channel; raises HostError when nothing usable came back."""
    spec = conn.spec
    asked = frozenset(s for s, on in (("os", want_os), ("ps", want_ps), ("nvidia", spec.gpu != "off"),
                                      ("systemd", bool(spec.services))) if on)
    command = probe_command(probe_args(spec, want_os=want_os, want_ps=want_ps))
    result = await conn.run(command, timeout=timeout, max_output=MAX_PROBE_OUTPUT)
    reading = parse_output(result.stdout, result.exit_status, time.time(), asked=asked,
                           gpu_mode=spec.gpu, truncated=result.truncated)
    core = ("uptime", "stat", "meminfo")
    if all(name in reading.errors for name in core):
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        why = detail[-1][:300] if detail else f"exit status {result.exit_status}, {len(result.stdout)} bytes of output"
        raise HostError(Failure.PROBE_FAILED,
                        f"probe on {spec.id} produced no usable output ({why}); "
                        "is the login shell of the monitoring user a POSIX sh?")
    return reading


async def probe_twice(conn: HostConnection, gap_s: float = 1.0) -> tuple[Reading, Reading]:
    """"Probe now": two readings about `gap_s` apart on one connection, so rates are filled."""
    first = await probe_once(conn, want_os=True, want_ps=True)
    await asyncio.sleep(gap_s)
    second = await probe_once(conn)
    return first, second
