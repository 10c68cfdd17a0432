"""Host-side CPU and bytes per probe, measured against the real test sshd.

Run as root from the repository root:  python benchmarks/probe_cost.py [--probes 300]

How CPU is measured: the shell that runs each probe (and everything it starts)
is a child of sshd's per-connection process `sshd: fwtest@notty`, which reaps
it, so the kernel adds the probe's CPU to that process's cutime+cstime
(/proc/PID/stat). The difference over N probes on one connection, divided by
N, is the probe's own host CPU. sshd's own work (crypto, channel set-up) is
that process's utime+stime plus its privileged monitor's, reported apart.
Clock ticks are 10 ms, so N is large enough for 0.05 ms resolution.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from collector.prober import probe_args  # noqa: E402
from collector.ssh_pool import HostConnection  # noqa: E402
from inventory import load_inventory_text  # noqa: E402
from remote_scripts import probe_command  # noqa: E402
from tests.support.sshd import start_sshd  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def proc_times(pid: int) -> tuple[int, int]:
    """(own utime+stime, reaped children's cutime+cstime) in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                out.append(int(entry.name))
    return out


def comm(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()


def session_processes(listener: int) -> tuple[int, int]:
    """(privileged monitor, user-side session process) of the single open connection."""
    (monitor,) = children(listener)
    (session,) = [p for p in children(monitor) if "@notty" in comm(p)]
    return monitor, session


async def measure(spec, label: str, n: int, listener: int, **flags: bool) -> dict:
    conn = HostConnection(spec)
    command = probe_command(probe_args(spec, **flags))
    for _ in range(5):  # warm: connect, first-request delay, page cache
        await conn.run(command)
    monitor, session = session_processes(listener)
    s_own0, s_kids0 = proc_times(session)
    m_own0, _ = proc_times(monitor)
    hub0 = resource.getrusage(resource.RUSAGE_SELF)
    total_bytes = 0
    for _ in range(n):
        result = await conn.run(command)
        total_bytes += len(result.stdout)
    s_own1, s_kids1 = proc_times(session)
    m_own1, _ = proc_times(monitor)
    hub1 = resource.getrusage(resource.RUSAGE_SELF)
    await conn.close()
    ms = 1000 / TICK / n
    return {
        "label": label,
        "probe_ms": (s_kids1 - s_kids0) * ms,
        "sshd_ms": ((s_own1 - s_own0) + (m_own1 - m_own0)) * ms,
        "bytes": total_bytes / n,
        "hub_ms": ((hub1.ru_utime + hub1.ru_stime) - (hub0.ru_utime + hub0.ru_stime)) * 1000 / n,
        "command_bytes": len(command.encode()),
    }


def local_shell_cost(shell: list[str], command: str, n: int) -> float:
    """CPU of the probe run directly by a given shell (no sshd), ms per run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(n):
        subprocess.run([*shell, command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)) * 1000 / n


async def eight_gpus(sshd, spec_gpu, n: int) -> list[dict]:
    """8 fake cards, then the same with a compute process on each (the -c probe, every 30 s by default): 8 real
    `sleep` processes, so that ps has owners to name."""
    (sshd.fakebin / "gpu_count").write_text("8\n")
    jobs = [subprocess.Popen(["sleep", "600"]) for _ in range(8)]
    try:
        rows = [await measure(spec_gpu, "  + gpu, 8 cards", n, sshd.proc.pid)]
        (sshd.fakebin / "apps").write_text("".join(f"{i} {j.pid} {1000 * (i + 1)} python3\n"
                                                   for i, j in enumerate(jobs)))
        rows.append(await measure(spec_gpu, "  + gpu, 8 cards, + their 8 compute processes and owners (-c)",
                                  max(n // 3, 30), sshd.proc.pid, want_gpu_apps=True))
        return rows
    finally:
        for j in jobs:
            j.kill()
            j.wait()
        for name in ("gpu_count", "apps"):
            (sshd.fakebin / name).unlink(missing_ok=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=int, default=300, help="probes per variant (default 300)")
    args = parser.parse_args()
    sshd = start_sshd()
    try:
        spec_plain = load_inventory_text(sshd.inventory_yaml("bench", gpu="off")).host("bench")
        spec_svc = load_inventory_text(
            sshd.inventory_yaml("bench", gpu="off", services=["nginx.service", "broken.service"])).host("bench")
        spec_gpu = load_inventory_text(sshd.inventory_yaml("bench", gpu="auto")).host("bench")
        n = args.probes
        rows = [
            await measure(spec_plain, "5 s probe, default inventory (disks [/], no services, gpu off)", n,
                          sshd.proc.pid),
            await measure(spec_svc, "  + 2 services (fake systemctl, a sh script)", n, sshd.proc.pid),
            await measure(spec_gpu, "  + gpu (fake nvidia-smi, a sh script, 2 cards)", n, sshd.proc.pid),
            *await eight_gpus(sshd, spec_gpu, n),
            await measure(spec_plain, "  + os section (once per connection)", max(n // 3, 30), sshd.proc.pid,
                          want_os=True),
            await measure(spec_plain, "  + ps section (top processes; every 60 s)", max(n // 3, 30),
                          sshd.proc.pid, want_ps=True),
        ]
    finally:
        sshd.stop()
    print(f"fleetwatch probe cost on this machine ({os.cpu_count()} cores), {args.probes} probes per row,")
    print("one persistent connection, login shell /bin/sh (dash):\n")
    print("| variant | probe CPU on host | sshd CPU on host | output per probe | hub CPU per probe |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['label']} | {r['probe_ms']:.2f} ms | {r['sshd_ms']:.2f} ms | {r['bytes'] / 1024:.2f} KiB "
              f"| {r['hub_ms']:.2f} ms |")
    print(f"\nexec request sent per probe: {rows[0]['command_bytes']} bytes (minified probe.sh + arguments)")
    print("\nSame probe run directly by each shell (no sshd), CPU per run:")
    m = max(n // 2, 50)
    command = probe_command(probe_args(spec_plain))
    for name, shell in (("dash", ["/bin/dash", "-c"]), ("bash", ["/bin/bash", "-c"]),
                        ("busybox ash", ["/bin/busybox", "sh", "-c"])):
        if Path(shell[0]).exists():
            print(f"  {name:12} {local_shell_cost(shell, command, m):.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
