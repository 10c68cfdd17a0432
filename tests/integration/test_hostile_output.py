"""Issue 5 item 8: a monitored host is not trusted; hostile probe output never breaks the hub.

A simulated host (an asyncssh server on 127.0.0.1, in this process) ignores
the command it is sent and answers with canned output chosen per test: 2 MiB
of it, random bytes, output cut mid-section, missing and repeated sections,
absurd numbers, markup in process, GPU, unit, mount and host names.

- Over the hub's own kind of connection (`HostConnection` + `probe_once` +
  `build_report`, rates against a good previous reading), every case gives a
  report that is `up` or `degraded` with the section's error, or a clear
  `probe_failed` HostError; nothing else escapes, the report is strict JSON
  (no NaN or infinity), every integer fits a 64-bit column, and the same
  connection then probes normally again.
- A real `Hub` (SQLite and PostgreSQL) serving the app probes the simulated
  host through `POST /api/servers/sim/probe` for every case: 200 or a 502
  `probe_failed`, never a 500; every row reaches the database (a value the
  database refuses would block the writer for every host); the pages and
  the API still answer; the hub keeps polling on its schedule.
- The pages escape what the host sends: `/hosts/sim` and `/` parsed with
  BeautifulSoup hold no `<script>` element or `onerror` attribute that came
  from the host, and the payloads appear as text.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh
import httpx
import pytest
import pytest_asyncio
import yaml
from bs4 import BeautifulSoup

from collector.errors import Failure, HostError
from collector.hostkeys import public_key_line
from collector.hub import HubOptions
from collector.prober import MAX_PROBE_OUTPUT, probe_once
from collector.recorder import rows_from_report
from collector.host_report import HostReport
from collector.report import build_report
from collector.ssh_pool import HostConnection
from inventory import load_inventory_text
from tests.support.apphub import served_hub

ASYNC = pytest.mark.asyncio(loop_scope="module")
SIM_USER = "fwsim"
INT64_MAX = 2**63 - 1
MIB = 1024 * 1024

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


# ------------------------------------------------------------------ the simulated host
class _Server(asyncssh.SSHServer):
    def __init__(self, host: CannedHost) -> None:
        self._host = host

    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == SIM_USER and key.public_data == self._host.client_key.public_data


class CannedHost:
    """An SSH server on 127.0.0.1 whose every exec request gets the canned reply, whatever the command."""

    def __init__(self, workdir: Path) -> None:
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key = asyncssh.generate_private_key("ssh-ed25519")
        self.client_key_path = workdir / "sim_client_key"
        self.client_key.write_private_key(str(self.client_key_path))
        self.client_key_path.chmod(0o600)
        self.stdout, self.stderr, self.exit_status = b"", b"", 0
        self.execs = 0
        self.port = 0
        self._acceptor: asyncssh.SSHAcceptor | None = None

    def reply(self, stdout: bytes, *, stderr: bytes = b"", exit_status: int = 0) -> None:
        self.stdout, self.stderr, self.exit_status = stdout, stderr, exit_status

    async def start(self) -> None:
        self._acceptor = await asyncssh.listen(
            "127.0.0.1", 0, server_factory=lambda: _Server(self), server_host_keys=[self.host_key],
            process_factory=self._exec, encoding=None, password_auth=False, kbdint_auth=False,
            gss_auth=False, host_based_auth=False, allow_pty=False, agent_forwarding=False,
            x11_forwarding=False, sftp_factory=None, allow_scp=False)
        self.port = self._acceptor.get_port()

    async def stop(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()

    async def _exec(self, process: asyncssh.SSHServerProcess) -> None:
        self.execs += 1
        stdout, stderr, status = self.stdout, self.stderr, self.exit_status
        try:
            if stderr:
                process.stderr.write(stderr)
            if stdout:
                process.stdout.write(stdout)
            await process.stdout.drain()
            process.exit(status)
        except (OSError, asyncssh.Error):
            pass  # the client went away

    def inventory_yaml(self, host_id: str = "sim", **overrides: Any) -> str:
        host = {"id": host_id, "address": "127.0.0.1", "port": self.port, "user": SIM_USER,
                "identity_file": str(self.client_key_path), "host_key": public_key_line(self.host_key),
                "gpu": "nvidia", "services": ["nginx.service"], "disks": ["/"], "timeout": "5s"}
        host.update(overrides)
        return "# hostile output tests\n" + yaml.safe_dump({"hosts": [host]}, sort_keys=False)


# ------------------------------------------------------------------ canned probe output
PROC_FILES = {"meminfo": "/proc/meminfo", "diskstats": "/proc/diskstats", "net": "/proc/net/dev"}
NET_HEADER = ("Inter-|   Receive                                                |  Transmit\n"
              " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo"
              " colls carrier compressed\n")
OS_SECTION = """1700000000
1000.00 3900.00
==> /etc/os-release <==
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
ID=debian
VERSION_ID="12"

==> /proc/sys/kernel/hostname <==
sim-host

==> /proc/sys/kernel/ostype <==
Linux

==> /proc/sys/kernel/osrelease <==
6.1.0-18-amd64

==> /proc/sys/kernel/arch <==
x86_64

==> /sys/devices/system/cpu/online <==
0-3"""
GPU_ROW = "{i}, GPU-{i:04d}-uuid, {name}, 00000000:{i:02X}:00.0, 35, 10, 2000, 81559, 45, 120.50, 700.00, [N/A]"
DF_HEADER = "Filesystem     Type 1024-blocks     Used Available Capacity Mounted on\n"


def baseline(tick: int = 0) -> dict[str, str | bytes | None]:
    """Every section of a healthy probe (-o -p -g -m / -- nginx.service); counters grow with `tick`."""
    t = tick
    return {
        "epoch": str(1_700_000_000 + 5 * t),
        "uptime": f"{1000 + 5 * t:.2f} {3900 + 19 * t:.2f}",
        "stat": (f"cpu  {1000 + 300 * t} 0 {500 + 100 * t} {10000 + 1500 * t} 10 0 5 0 0 0\n"
                 "cpu0 1 0 1 1 0 0 0 0 0 0\ncpu1 1 0 1 1 0 0 0 0 0 0\ncpu2 1 0 1 1 0 0 0 0 0 0\n"
                 "cpu3 1 0 1 1 0 0 0 0 0 0\nbtime 1699999000"),
        "loadavg": "0.52 0.41 0.30 2/345 12345",
        "meminfo": ("MemTotal:       16384000 kB\nMemFree:         8000000 kB\nMemAvailable:   12000000 kB\n"
                    "Buffers:          100000 kB\nCached:          2000000 kB\nSwapTotal:             0 kB\n"
                    "SwapFree:              0 kB"),
        "diskstats": f"   8       0 sda 1000 0 {8000 + 800 * t} 100 2000 0 {16000 + 1600 * t} 200 0 300 300"
                     " 0 0 0 0 0 0",
        "net": NET_HEADER + f"  eth0: {50000 + 5000 * t} 100 0 0 0 0 0 0 {70000 + 7000 * t} 100 0 0 0 0 0 0",
        "os": OS_SECTION,
        "nvidia": "\n".join(GPU_ROW.format(i=i, name="NVIDIA H100 80GB HBM3") for i in range(2)),
        "systemd": "Id=nginx.service\nLoadState=loaded\nActiveState=active\nSubState=running",
        "ps": "    1  0.5  12000 systemd\n  222 12.3 400000 python3",
        "rc": "nvidia 0\nsystemd 0\nps 0",
        "df": DF_HEADER + "/dev/vda1      ext4   100000000 40000000  60000000      40% /",
    }


def render(sections: dict[str, str | bytes | None]) -> bytes:
    """Probe output as probe.sh prints it; /proc files go under one <<<proc>>> with head's headers."""
    out = bytearray()
    in_proc = False
    for name, body in sections.items():
        if body is None:
            continue
        data = body.encode() if isinstance(body, str) else body
        if name in PROC_FILES:
            if not in_proc:
                out += b"<<<proc>>>\n"
                in_proc = True
            out += f"==> {PROC_FILES[name]} <==\n".encode() + data + b"\n\n"
        else:
            in_proc = False
            out += f"<<<{name}>>>\n".encode() + data + b"\n"
    return bytes(out)


def probe_output(tick: int = 0, **changes: str | bytes | None) -> bytes:
    """The baseline with some sections replaced (None removes one)."""
    return render({**baseline(tick), **changes})


def _random_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _cut(data: bytes, marker: bytes, extra: int) -> bytes:
    return data[: data.index(marker) + extra]


def _markup_sections() -> dict[str, str]:
    names = [SCRIPT, IMG, f"NVIDIA {SCRIPT}"]
    return {
        "ps": "\n".join(f" {100 + i} {50 - i}.0 1000 {n}" for i, n in enumerate([SCRIPT, IMG, f"sh -c {SCRIPT}"])),
        "nvidia": "\n".join(GPU_ROW.format(i=i, name=n) for i, n in enumerate(names)) + f"\n{SCRIPT} driver says {IMG}",
        "systemd": f"Id=nginx.service\nLoadState=loaded\nActiveState=active\nSubState=running\n\n"
                   f"Id={IMG}.service\nLoadState=loaded\nActiveState=failed\nSubState={SCRIPT}",
        "os": OS_SECTION.replace("sim-host", f"sim{SCRIPT}").replace("6.1.0-18-amd64", IMG)
                        .replace("Debian GNU/Linux 12 (bookworm)", IMG.replace('"', "'")),
        "df": DF_HEADER + "/dev/vda1      ext4   100000000 40000000  60000000      40% /\n"
                          f"/dev/vdb1      ext4   100000000 99000000   1000000      99% /{IMG}",
    }


def _long_sections() -> dict[str, str]:
    """Names far longer than any tool prints (and than the database's columns)."""
    long = "N" * 5000
    return {
        "nvidia": GPU_ROW.format(i=0, name=long).replace("GPU-0000-uuid", "U" * 5000) + "\n" + "E" * 5000,
        "systemd": f"Id={long}.service\nLoadState={'l' * 500}\nActiveState={'a' * 500}\nSubState={'s' * 500}",
        "os": OS_SECTION.replace("sim-host", "h" * 5000).replace("6.1.0-18-amd64", "k" * 5000)
                        .replace("x86_64", "x" * 5000).replace("Debian GNU/Linux 12 (bookworm)", "D" * 5000),
        "ps": f"  1 0.5 1000 {long}",
        "df": DF_HEADER + "/dev/vda1 ext4 100 40 60 40% /\n" + f"/dev/{long} {'t' * 500} 100 99 1 99% /{long}",
    }


def _control_sections() -> dict[str, str]:
    """NUL and other control characters in every name a host sends."""
    bad = "a\x00b\x01\x1b[31mc\x7f"
    return {
        "nvidia": GPU_ROW.format(i=0, name=f"H100{bad}").replace("GPU-0000-uuid", f"GPU{bad}") + f"\nerror{bad}",
        "systemd": f"Id=x{bad}.service\nLoadState=loaded{bad}\nActiveState=failed\nSubState=failed{bad}",
        "os": OS_SECTION.replace("sim-host", f"sim{bad}").replace("6.1.0-18-amd64", f"6.1{bad}")
                        .replace("x86_64", f"x86{bad}").replace("Debian GNU/Linux 12 (bookworm)", f"Debian{bad}"),
        "ps": f"  1 0.5 1000 init{bad}",
        "df": DF_HEADER + "/dev/vda1 ext4 100 40 60 40% /\n" + f"/dev/x{bad} ext4{bad} 100 99 1 99% /mnt{bad}",
    }


# ------------------------------------------------------------------ the cases
@dataclass(frozen=True)
class Case:
    id: str
    stdout: Callable[[int], bytes]  # tick -> output
    expect: str  # "up", "degraded" or "failed"
    errors: frozenset[str] = frozenset()  # sections that must be among the report's errors
    exit_status: int = 0
    stderr: bytes = b""
    message: tuple[str, ...] = ()  # words a failure's message must hold
    check: Callable[[dict[str, Any]], None] | None = None


def _check_markup_kept_as_data(report: dict[str, Any]) -> None:
    assert {p["name"] for p in report["top_processes"]} >= {SCRIPT, IMG}
    assert [g["name"] for g in report["gpus"]][:2] == [SCRIPT, IMG]
    assert SCRIPT in report["errors"]["nvidia"]


def _check_first_of_repeated_wins(report: dict[str, Any]) -> None:
    assert report["mem_total_bytes"] == 16384000 * 1024
    assert report["load1"] == 0.52
    assert [g["name"] for g in report["gpus"]] == ["NVIDIA H100 80GB HBM3"] * 2


def _check_absurd_gpu(report: dict[str, Any]) -> None:
    g = report["gpus"][0]
    assert g["temperature_c"] is None and g["power_w"] is None and g["mem_used_mb"] is None
    assert g["util_pct"] is None  # 1e30 % is no utilisation


def _check_cpu_count(report: dict[str, Any]) -> None:
    assert report["cpu_count"] == 4  # from /proc/stat's cpuN lines: the absurd online list is not believed


# The database's column widths (schema/models.py): a longer value is refused by PostgreSQL.
WIDTHS = {"gpus": {"name": 255, "uuid": 128}, "disks": {"mount": 1024, "fstype": 64},
          "services": {"name": 256, "load_state": 32, "active_state": 32, "sub_state": 32},
          "os": {"hostname": 255, "pretty_name": 255, "kernel": 255, "arch": 64}}


def _check_names_fit(report: dict[str, Any]) -> None:
    """Every name the hub stores fits its column and holds no control character (PostgreSQL refuses NUL)."""
    for where, v in _walk(report):
        if isinstance(v, str):
            assert not any(ord(c) < 32 or ord(c) == 127 for c in v), f"{where} = {v[:80]!r}"
    for key, widths in WIDTHS.items():
        rows = report[key] if isinstance(report[key], list) else [report[key]]
        for row in rows:
            for name, width in widths.items():
                assert row[name] is None or len(row[name]) <= width, f"{key}.{name}: {len(row[name])} characters"
    assert len(report["services"]) == 1 and len(report["disks"]) == 2 and len(report["top_processes"]) == 1


HUGE_AFTER_SECTIONS = render({**{k: v for k, v in baseline(1).items() if k not in ("ps", "rc", "df")},
                              "ps": b"x" * 99 + b"\n"})
CASES = [
    Case("huge-2MiB-junk", lambda t: b"A" * (2 * MIB), "failed",
         message=("probe_failed", "cut at", str(MAX_PROBE_OUTPUT))),
    Case("huge-2MiB-lines", lambda t: b"garbage line\n" * (2 * MIB // 13), "failed",
         message=("cut at", str(MAX_PROBE_OUTPUT))),
    Case("huge-2MiB-after-good-sections",
         lambda t: HUGE_AFTER_SECTIONS + b"x" * 99 * (2 * MIB // 100) + b"\n" * (2 * MIB // 100),
         "degraded", frozenset({"ps", "rc", "df"})),
    Case("random-binary", lambda t: _random_bytes(64 * 1024, 1), "failed", message=("probe_failed",)),
    Case("random-binary-with-nul-and-escapes", lambda t: b"\x00\x1b[2J\xff\xfe" * 5000, "failed"),
    Case("binary-inside-sections", lambda t: probe_output(t, meminfo=_random_bytes(4096, 2),
                                                          nvidia=_random_bytes(2048, 3) + b"\x00\n\x1b[31m",
                                                          ps=b"  1 0.0 10 \x00\x01\x02\xff\xfe\x1b]0;pwn\x07"),
         "degraded", frozenset({"meminfo", "nvidia"})),
    Case("cut-mid-section", lambda t: _cut(probe_output(t), b"MemFree:", 5), "degraded",
         frozenset({"meminfo", "diskstats", "net", "rc", "df"})),
    Case("cut-mid-df-row", lambda t: _cut(probe_output(t), b"/dev/vda1", 14), "degraded", frozenset({"df"})),
    Case("cut-mid-header", lambda t: _cut(probe_output(t), b"<<<uptime>>>", 5), "failed", message=("probe_failed",)),
    Case("empty-output", lambda t: b"", "failed", message=("probe_failed", "exit status 0")),
    Case("only-an-error-on-stderr", lambda t: b"", "failed", exit_status=2,
         stderr=b"sh: 1: set: Illegal option -o\n", message=("Illegal option",)),
    Case("core-sections-missing", lambda t: probe_output(t, uptime=None, stat=None, meminfo=None), "failed",
         message=("probe_failed",)),
    Case("some-sections-missing", lambda t: probe_output(t, stat=None, nvidia=None, df=None, rc=None), "degraded",
         frozenset({"stat", "nvidia", "df", "rc"})),
    Case("section-headers-only", lambda t: render({k: "" for k in baseline()}), "failed"),
    Case("sections-repeated", lambda t: probe_output(t) + render({
        "loadavg": "99 99 99", "meminfo": "MemTotal: 1 kB\nMemFree: 1 kB", "stat": "cpu 0 0 0 0",
        "nvidia": GPU_ROW.format(i=0, name=SCRIPT), "df": "junk"}), "up", check=_check_first_of_repeated_wins),
    Case("proc-file-repeated-inside-proc", lambda t: probe_output(
        t, meminfo=baseline()["meminfo"] + "\n\n==> /proc/meminfo <==\nMemTotal: 5 kB\nMemFree: 1 kB"), "up",
         check=_check_first_of_repeated_wins),
    Case("unknown-sections-and-garbage-before", lambda t: b"garbage\n<<<evil>>>\n" + SCRIPT.encode()
         + b"\n<<<>>>\n<<<UPPER>>>\n<<<" + b"x" * 5000 + b">>>\n==> /proc/meminfo <==\nMemTotal: 1 kB\n"
         + probe_output(t), "up", check=_check_first_of_repeated_wins),
    Case("negative-memory", lambda t: probe_output(t, meminfo="MemTotal: -16384000 kB\nMemFree: -5 kB"),
         "degraded", frozenset({"meminfo"})),
    Case("memory-1e30-bytes", lambda t: probe_output(t, meminfo=f"MemTotal: {10**27} kB\nMemFree: 5 kB"),
         "degraded", frozenset({"meminfo"})),
    Case("memory-just-over-64-bits", lambda t: probe_output(
        t, meminfo=f"MemTotal: {INT64_MAX // 1024 + 1} kB\nMemFree: 5 kB"), "degraded", frozenset({"meminfo"})),
    Case("memory-available-over-64-bits", lambda t: probe_output(
        t, meminfo=f"MemTotal: 16384000 kB\nMemFree: 5 kB\nMemAvailable: {10**40} kB"), "degraded",
         frozenset({"meminfo"})),
    Case("nan-and-inf", lambda t: probe_output(t, uptime="nan inf", loadavg="inf NaN -1 1/2 3", epoch="nan"),
         "degraded", frozenset({"uptime", "loadavg", "epoch"})),
    Case("uptime-1e308", lambda t: probe_output(t, uptime="1e308 1e308"), "degraded", frozenset({"uptime"})),
    Case("counters-10e400", lambda t: probe_output(
        t, net=NET_HEADER + "  eth0: 1" + "0" * 400 + " 1 0 0 0 0 0 0 1" + "0" * 400 + " 1 0 0 0 0 0 0",
        diskstats="   8 0 sda 1 0 1" + "0" * 40 + " 1 1 0 1" + "0" * 40 + " 1 0 1 1 0 0 0 0 0 0"),
         "degraded", frozenset({"net", "diskstats"})),
    Case("counters-over-64-bits", lambda t: probe_output(
        t, net=NET_HEADER + f"  eth0: {2**64} 1 0 0 0 0 0 0 {2**70} 1 0 0 0 0 0 0",
        stat=f"cpu {10**25} 0 {10**25} {10**30} 0 0 0 0 0 0"), "degraded", frozenset({"net", "stat"})),
    Case("epoch-and-cpu-count-absurd", lambda t: probe_output(
        t, epoch=str(10**30), os=OS_SECTION.replace("\n0-3", "\n0-" + "9" * 23).replace("1700000000", "9" * 40)),
         "degraded", frozenset({"epoch"}), check=_check_cpu_count),
    Case("df-sizes-absurd", lambda t: probe_output(
        t, df=DF_HEADER + f"/dev/vda1 ext4 {10**30} {10**29} {10**28} 400% /"), "degraded", frozenset({"df"})),
    Case("gpu-numbers-absurd", lambda t: probe_output(
        t, nvidia="0, GPU-x, H100, 00:00.0, 1e30, NaN, -5, 1e400, nan, inf, -inf, 99999999999999999999999"),
         "up", check=_check_absurd_gpu),
    Case("gpu-memory-near-float-max", lambda t: probe_output(
        t, nvidia="\n".join(f"{i}, GPU-{i}, H100, 00:0{i}.0, 50, 50, 1.7e308, 1.7e308, 50, 100, 700, 30"
                            for i in range(2))), "up"),
    # a boot time 9e18 s ago broke the reboot event's date (every later poll of the host raised)
    Case("uptime-9e18", lambda t: probe_output(t, uptime="9000000000000000000.00 1.00"), "degraded",
         frozenset({"uptime"})),
    Case("cpu-count-over-32-bits", lambda t: probe_output(t, os=OS_SECTION.replace("\n0-3", "\n0-4294967296")),
         "up", check=_check_cpu_count),
    Case("gpu-index-over-32-bits", lambda t: probe_output(t, nvidia=GPU_ROW.format(i=4294967296, name="H100")),
         "degraded", frozenset({"nvidia"})),
    Case("long-strings", lambda t: probe_output(t, **_long_sections()), "degraded", frozenset({"nvidia"}),
         check=_check_names_fit),
    Case("nul-and-control-characters", lambda t: probe_output(t, **_control_sections()), "degraded",
         frozenset({"nvidia"}), check=_check_names_fit),
    Case("markup-in-names", lambda t: probe_output(t, **_markup_sections()), "degraded", frozenset({"nvidia"}),
         check=_check_markup_kept_as_data),
    Case("df-timed-out", lambda t: _cut(probe_output(t), b"<<<df>>>", 9), "degraded", frozenset({"df"}),
         exit_status=124),
    Case("tools-timed-out", lambda t: probe_output(t, rc="nvidia 124\nsystemd 137\nps 127"), "degraded",
         frozenset({"nvidia", "systemd", "ps"})),
    Case("rc-garbage", lambda t: probe_output(t, rc=f"{SCRIPT}\nnvidia -1\nx 99999999999999999999999"),
         "degraded", frozenset({"rc"})),
]
CASE_IDS = [c.id for c in CASES]


# ------------------------------------------------------------------ checks shared by both levels
def _walk(value: Any, path: str = "report"):
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


def assert_storable(report: dict[str, Any]) -> None:
    """Strict JSON (no NaN/inf) and every integer fits a signed 64-bit column."""
    json.dumps(report, allow_nan=False)
    for where, v in _walk(report):
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            assert -INT64_MAX - 1 <= v <= INT64_MAX, f"{where} = {v} does not fit 64 bits"
        if isinstance(v, float):
            assert math.isfinite(v), f"{where} = {v}"
        if isinstance(v, (int, float)) and where.split(".")[-1].endswith(("_bytes", "_pct", "_mb", "_c", "_w")):
            assert v >= 0, f"{where} = {v} is negative"


def assert_outcome(case: Case, typed: HostReport | None, failure: HostError | None) -> None:
    report = None if typed is None else typed.to_dict()
    if case.expect == "failed":
        assert failure is not None, f"expected a probe failure, got a report in state {report and report['state']}"
        assert failure.failure is Failure.PROBE_FAILED, failure
        for word in case.message:
            assert word in str(failure), f"{word!r} not in {failure}"
        assert len(str(failure)) < 1000
        return
    assert failure is None, f"expected {case.expect}, got {failure}"
    assert report is not None
    assert report["state"] == case.expect, report["errors"]
    assert case.errors <= set(report["errors"]), report["errors"]
    if case.expect == "up":
        assert report["errors"] == {}
    for section, message in report["errors"].items():
        assert isinstance(message, str) and message and len(message) <= 600, (section, message)
    assert_storable(report)
    assert_storable(dataclasses.asdict(rows_from_report(typed)))  # the rows the hub writes
    if case.check is not None:
        case.check(report)


# ------------------------------------------------------------------ level 1: the connection and the parsers
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def sim(tmp_path_factory):
    host = CannedHost(tmp_path_factory.mktemp("sim"))
    await host.start()
    yield host
    await host.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def conn(sim: CannedHost):
    spec = load_inventory_text(sim.inventory_yaml()).resolved_hosts()[0]
    connection = HostConnection(spec)
    yield connection
    await connection.close()


async def _probe(conn: HostConnection, sim: CannedHost, case: Case, tick: int):
    sim.reply(case.stdout(tick), stderr=case.stderr, exit_status=case.exit_status)
    try:
        return await probe_once(conn, want_os=True, want_ps=True, timeout=10), None
    except HostError as err:
        return None, err


@ASYNC
async def test_the_simulated_host_answers_a_good_probe(conn: HostConnection, sim: CannedHost) -> None:
    sim.reply(probe_output(0))
    reading = await probe_once(conn, want_os=True, want_ps=True)
    sim.reply(probe_output(1))
    later = await probe_once(conn)
    report = build_report("sim", (reading, later)).to_dict()
    assert report["state"] == "up" and report["errors"] == {}, report["errors"]
    assert report["mem_total_bytes"] == 16384000 * 1024 and report["gpu_count"] == 2
    assert report["cpu_pct"] is not None and report["net_rx_bps"] == 1000.0
    assert report["top_processes"][1]["name"] == "python3"


@ASYNC
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_hostile_output_gives_a_degraded_sample_or_a_clear_error(
        conn: HostConnection, sim: CannedHost, case: Case) -> None:
    sim.reply(probe_output(0))
    good = await probe_once(conn, want_os=True, want_ps=True)
    connects = conn.connects
    reading, failure = await _probe(conn, sim, case, 1)
    report = None if reading is None else build_report("sim", (good, reading))
    assert_outcome(case, report, failure)
    if report is not None:
        # and as the previous reading of the next good one (rates from hostile counters)
        sim.reply(probe_output(2))
        after = build_report("sim", (reading, await probe_once(conn, want_os=True, want_ps=True))).to_dict()
        assert after["state"] == "up", after["errors"]  # os and ps asked again: their old errors are gone
        assert_storable(after)
    # the connection stays usable: the next probe is good, on the same connection
    sim.reply(probe_output(3))
    assert (await probe_once(conn)).errors == {}
    assert conn.connects == connects


@ASYNC
async def test_output_beyond_the_cap_is_cut_and_drained(conn: HostConnection, sim: CannedHost) -> None:
    """The hub keeps MAX_PROBE_OUTPUT bytes of a 2 MiB answer and reads (drains) the rest."""
    from remote_scripts import probe_command

    sim.reply(b"B" * (2 * MIB))
    result = await conn.run(probe_command([]), timeout=10, max_output=MAX_PROBE_OUTPUT)
    assert result.truncated and len(result.stdout) == MAX_PROBE_OUTPUT
    assert MAX_PROBE_OUTPUT <= 1 * MIB
    sim.reply(b"small\n")
    result = await conn.run("anything", timeout=10)
    assert result.stdout == b"small\n" and not result.truncated


# ------------------------------------------------------------------ level 2: a real hub serving the app
@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(request, tmp_path_factory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('hostile-db') / 'hub.db'}"
    return request.getfixturevalue("pg_test_url")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def hub_env(db_url: str, tmp_path_factory):
    """A Hub polling its own simulated host every second, served by uvicorn, and an authenticated client."""

    tmp = tmp_path_factory.mktemp("hostile-hub")
    host = CannedHost(tmp)
    await host.start()
    host.reply(probe_output(0))
    inventory = tmp / "hosts.yaml"
    inventory.write_text(host.inventory_yaml(interval="1s"))
    try:
        async with served_hub(inventory, db_url, options=HubOptions(backup_every_s=0, inventory_check_s=0.5)) as served:
            hub = served.hub
            yield {"client": served.client, "hub": hub, "sim": host, "polls_at_start": hub.poller.runtime("sim").polls}
    finally:
        await host.stop()


async def _pages_answer(client: httpx.AsyncClient) -> None:
    for path in ("/api/servers/sim", "/api/servers/sim/latest", "/api/servers", "/api/events?server_id=sim",
                 "/hosts/sim", "/", "/events"):
        r = await client.get(path)
        assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text[:300]}"
    r = await client.get("/hosts/sim", headers={"HX-Request": "true", "HX-Target": "host-live"})
    assert r.status_code == 200


@ASYNC
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
async def test_the_hub_stores_and_shows_every_case_and_keeps_going(hub_env, case: Case) -> None:
    client, hub, host = hub_env["client"], hub_env["hub"], hub_env["sim"]
    host.reply(case.stdout(7), stderr=case.stderr, exit_status=case.exit_status)
    r = await client.post("/api/servers/sim/probe")
    if case.expect == "failed":
        assert r.status_code == 502, r.text[:500]
        detail = r.json()["detail"]
        assert detail.startswith("probe_failed:") and len(detail) < 1000, detail
        for word in case.message:
            assert word in detail
        assert hub.poller.runtime("sim").status.last_error
    else:
        assert r.status_code == 200, r.text[:500]
        report = r.json()
        assert report["state"] == case.expect, report["errors"]
        assert case.errors <= set(report["errors"]), report["errors"]
        if case.check is not None:
            case.check(report)
    await hub.writer.flush()
    assert hub.writer.last_error is None, f"the database refused a row: {hub.writer.last_error}"
    assert hub.writer.pending == 0
    await _pages_answer(client)
    # back to a healthy host: up again, stored
    host.reply(probe_output(8))
    r = await client.post("/api/servers/sim/probe")
    assert r.status_code == 200 and r.json()["state"] == "up", r.text[:500]
    await hub.writer.flush()
    assert hub.writer.last_error is None, f"the database refused a row: {hub.writer.last_error}"
    assert hub.writer.pending == 0


def _assert_nothing_injected(html: str, where: str) -> BeautifulSoup:
    assert SCRIPT not in html and IMG not in html, f"{where}: a payload went out unescaped"
    soup = BeautifulSoup(html, "html.parser")
    for script in soup.find_all("script"):
        assert "alert" not in script.get_text() and script.get("src", "") != "x", f"{where}: {script}"
    assert not soup.find_all(attrs={"onerror": True}), f"{where}: an element with onerror"
    assert not soup.find_all("img", src="x"), f"{where}: an <img> from the host's data"
    return soup


@ASYNC
async def test_pages_escape_markup_from_the_host(hub_env) -> None:
    client, hub, host = hub_env["client"], hub_env["hub"], hub_env["sim"]
    host.reply(probe_output(9, **_markup_sections()))
    r = await client.post("/api/servers/sim/probe")
    assert r.status_code == 200 and r.json()["state"] == "degraded", r.text[:500]
    await hub.writer.flush()

    page = await client.get("/hosts/sim")
    assert page.status_code == 200
    soup = _assert_nothing_injected(page.text, "/hosts/sim")
    processes = soup.find(id="processes").get_text()
    assert SCRIPT in processes and IMG in processes
    gpus = soup.find(id="gpus").get_text()
    assert SCRIPT in gpus and IMG in gpus
    assert IMG in soup.find(id="disks").get_text()
    services = soup.find(id="services")
    assert f"{IMG}.service" in services.get_text()
    assert any(tr.get("data-unit") == f"{IMG}.service" for tr in services.find_all("tr"))  # an attribute, intact
    assert SCRIPT in soup.find(attrs={"data-fact": "hostname"}).get_text()
    text = soup.get_text()
    assert f"{SCRIPT} driver says {IMG}" in text  # the nvidia error line, as text

    live = await client.get("/hosts/sim", headers={"HX-Request": "true", "HX-Target": "host-live"})
    _assert_nothing_injected(live.text, "/hosts/sim (htmx refresh)")

    overview = await client.get("/")
    assert overview.status_code == 200
    soup = _assert_nothing_injected(overview.text, "/")
    card = soup.find(attrs={"data-host": "sim"})
    assert card is not None and card.get("data-state") == "degraded"
    titles = [el.get("title", "") for el in card.find_all(attrs={"title": True})]
    assert any(t == f"/{IMG}" for t in titles), titles  # the fullest disk's mount, escaped in an attribute
    assert SCRIPT in card.get_text()  # the last error, as text

    events = await client.get("/events")
    _assert_nothing_injected(events.text, "/events")
    host.reply(probe_output(10))
    assert (await client.post("/api/servers/sim/probe")).status_code == 200


@ASYNC
async def test_the_hub_kept_polling_on_its_schedule(hub_env) -> None:
    hub = hub_env["hub"]
    rt = hub.poller.runtime("sim")
    polls = rt.polls
    await asyncio.sleep(2.5)
    assert rt.polls >= polls + 2, "the scheduled polls stopped"
    assert rt.polls > hub_env["polls_at_start"]
    assert "sim" in hub.polls
    health = hub.health()
    assert health["scheduler_running"] and health["db_last_error"] is None
    await hub.writer.flush()
    assert hub.writer.last_error is None
