"""A host snapshot (`HostReport`) from readings (pure)."""
from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any

from collector import rates
from collector.net_counting import counted_interfaces
from collector.errors import HostError
from collector.host_report import Disk, DiskIo, Gpu, GpuProcess, HostReport, Interface, OsInfo, Process, Service
from collector.parsers.df import local_disks
from collector.reading import Reading

# AMD cards are numbered from here on a host where nvidia-smi is installed (a mixed host), from 0 elsewhere:
# a fixed base, not "after the last NVIDIA card", so that an AMD card keeps its index (and its history, its
# alerts) when nvidia-smi lists fewer cards or fails for a poll.
AMD_INDEX_BASE = 100

# A failure class maps onto the host state the hub shows (SPEC §4).
FAILURE_STATE = {
    "auth_failed": "auth_failed",
    "host_key_mismatch": "host_key_mismatch",
    "unreachable": "unreachable",
    "timeout": "down",
    "probe_failed": "down",
}


def _round(v: float | None, nd: int = 2) -> float | None:
    return None if v is None else round(v, nd)


def _first(readings: tuple[Reading, ...], section: str) -> Any:
    for r in readings:
        if r.get(section) is not None:
            return r.get(section)
    return None


def host_epoch(cur: Reading, os_rec: Any) -> int | None:
    """Host wall clock: the shell's own, else the os section's `date` plus uptime since."""
    ep = cur.get("epoch")
    if ep is not None and ep.seconds is not None:
        return ep.seconds
    up = cur.get("uptime")
    if os_rec is not None and os_rec.epoch is not None and os_rec.uptime_s is not None and up is not None:
        return int(round(os_rec.epoch + (up.seconds - os_rec.uptime_s)))
    return None


def _rates(prev: Reading | None, cur: Reading, interfaces: tuple[str, ...] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if prev is None:
        return out
    pu, cu = prev.get("uptime"), cur.get("uptime")
    seconds = rates.elapsed(pu, cu) if pu is not None and cu is not None else None
    out["interval_s"] = _round(seconds, 3)
    if prev.get("stat") is not None and cur.get("stat") is not None:
        out["cpu_pct"] = _round(rates.cpu_pct(prev.get("stat"), cur.get("stat")))
    if not seconds:
        return out  # reboot or no host time: no rates for this interval
    if prev.get("diskstats") is not None and cur.get("diskstats") is not None:
        d = rates.disk_rates(prev.get("diskstats"), cur.get("diskstats"), seconds)
        out["disk_read_bps"], out["disk_write_bps"] = _round(d.read_bps, 1), _round(d.write_bps, 1)
        out["disk_io"] = tuple(DiskIo(n, _round(r, 1), _round(w, 1)) for n, r, w in d.per_disk)
    if prev.get("net") is not None and cur.get("net") is not None:
        net = cur.get("net")
        counting = counted_interfaces((i.name for i in net.interfaces), cur.get("netclass"), interfaces)
        n = rates.net_rates(prev.get("net"), net, seconds, counting.counted)
        out["net_rx_bps"], out["net_tx_bps"] = _round(n.rx_bps, 1), _round(n.tx_bps, 1)
        out["net_interfaces"] = tuple(Interface(i, _round(r, 1), _round(t, 1), c) for i, r, t, c in n.per_interface)
        out["net_counting"] = counting.rule
    return out


def _gpus(nv: Any, amd: Any) -> tuple[Gpu, ...]:
    """NVIDIA cards as nvidia-smi numbers them, then the AMD ones (collector/parsers/amdgpu.py)."""
    gpus = () if nv is None else nv.gpus
    if amd is None or not amd.gpus:
        return gpus
    if nv is None or nv.absent:
        return gpus + amd.gpus
    return gpus + tuple(replace(g, index=g.index + AMD_INDEX_BASE) for g in amd.gpus)


def _disks(rec: Any, disks: str | tuple[str, ...]) -> tuple[Disk, ...]:
    if rec is None:
        return ()
    rows = rec.filesystems if not isinstance(disks, str) else local_disks(rec, tmpfs=disks == "all+tmpfs")
    return tuple(Disk(f.mount, f.fstype, f.source, f.used_bytes, f.total_bytes, f.avail_bytes, f.used_pct)
                 for f in rows)


def _gpu_processes(readings: tuple[Reading, ...], gpus: tuple[Any, ...]) -> tuple[GpuProcess, ...]:
    """nvidia-smi's compute apps joined with ps on the pid, and with the cards on the uuid (newest reading that has
    them: they are asked every 30 s and carried between)."""
    apps, owners = _first(readings[::-1], "gpu_apps"), _first(readings[::-1], "gpu_ps")
    if apps is None:
        return ()
    index = {g.uuid: g.index for g in gpus if g.uuid}
    by_pid = owners.by_pid if owners is not None else {}
    out = []
    for a in apps.apps:
        o = by_pid.get(a.pid)
        out.append(GpuProcess(index.get(a.gpu_uuid), a.gpu_uuid, a.pid, a.name, a.used_mem_mb,
                              o.user if o else None, o.elapsed_s if o else None, o.command if o else None))
    return tuple(out)


def build_report(host_id: str, readings: tuple[Reading, ...], *, disks: str | tuple[str, ...] = ("/",),
                 interfaces: tuple[str, ...] | None = None) -> HostReport:
    """Snapshot of a host from one or more readings, newest last; rates from the last two.

    `disks` is the host's inventory setting: "all" / "all+tmpfs" keep df's local filesystems
    (`df.local_disks`), a list of mount points every row df printed for them. `interfaces` (the
    inventory's names or globs, None: unset) are the ones the network totals count (collector/net_counting.py)."""
    cur = readings[-1]
    prev = readings[-2] if len(readings) > 1 else None
    os_rec = _first(readings[::-1], "os")
    st, mem, load, up = cur.get("stat"), cur.get("meminfo"), cur.get("loadavg"), cur.get("uptime")
    nv, sd, pl = cur.get("nvidia"), cur.get("systemd"), _first(readings[::-1], "ps")
    # os and ps are asked now and then: an earlier reading's error about them stands until they are asked again
    errors = {k: v for r in readings[:-1] for k, v in r.errors.items() if k in ("os", "ps") and k not in cur.asked}
    errors.update(cur.errors)
    return HostReport(
        host=host_id,
        state="up" if not errors else "degraded",
        ts=cur.received_at,
        errors=MappingProxyType(errors),
        host_epoch=host_epoch(cur, os_rec),
        cpu_count=(os_rec.cpu_count if os_rec else None) or (st.cpu_count if st else None),
        load1=load.load1 if load else None,
        load5=load.load5 if load else None,
        load15=load.load15 if load else None,
        mem_total_bytes=mem.total_bytes if mem else None,
        mem_used_bytes=mem.used_bytes if mem else None,
        mem_available_bytes=mem.available_bytes if mem else None,
        swap_total_bytes=mem.swap_total_bytes if mem else None,
        swap_free_bytes=mem.swap_free_bytes if mem else None,
        uptime_s=up.seconds if up else None,
        disks=_disks(cur.get("df"), disks),
        gpus=_gpus(nv, cur.get("amdgpu")),
        services=() if sd is None else tuple(
            Service(u.name, u.load_state, u.active_state, u.sub_state) for u in sd.units),
        os=OsInfo() if os_rec is None else OsInfo(os_rec.hostname, os_rec.pretty_name, os_rec.kernel, os_rec.arch),
        top_processes=() if pl is None else tuple(
            Process(p.pid, p.name, p.cpu_pct, p.rss_bytes) for p in pl.processes),
        gpu_processes=_gpu_processes(readings, () if nv is None else nv.gpus),
        probe_bytes=cur.raw_bytes,
        sections=cur.parsed,
        previous=prev.parsed if prev is not None else MappingProxyType({}),
        **_rates(prev, cur, interfaces),
    )


def failure_report(host_id: str, err: HostError, ts: float) -> dict[str, Any]:
    """What `probe --json` prints when the host could not be probed."""
    return {"host": host_id, "ok": False, "state": FAILURE_STATE[err.failure.value],
            "failure": err.failure.value, "ts": ts, "errors": {"connection": err.message}}
