"""The metric catalogue: every value the hub reads from a host, in one place.

Adding a metric is one entry here, plus its parser (and its probe section, if the
probe must read something new) and a test; the storage columns, rollups, alert
validation, APIs, CSV, host page, `probe` text and `/metrics` follow from the
entry, and `python3 -m schema.migrations.new "message"` writes the migration
(docs/architecture.md).

How the hub's numbers are defined:
* **CPU busy** (`cpu_pct`) is the share of CPU time that is neither idle nor
  iowait, over the poll interval: it *excludes* iowait (a CPU waiting on a disk
  is free to run other work) and *includes* steal (time the hypervisor gave to
  someone else while this guest wanted to run), as `top`'s "us+sy+ni+hi+si+st".
* **Disk used** (`disk_used_pct`) is used / (used + available) bytes, as df's
  Use% but to one decimal where df rounds up to a whole number; Size
  (`disk_total_bytes`) also holds the blocks reserved for root, so it is more
  than used + available (collector/parsers/df.py `used_pct`).
* Rates (`*_bps`) are over host-side time between two probes; a counter that
  went back gives no value for that interval.
* A value a host does not report is None (null, absent in /metrics), never 0.
"""
from __future__ import annotations

from typing import Any

from collector.metrics.model import Catalogue, Chart, Metric, Tile
from collector.parsers import stat


def _pct(part: Any, whole: Any) -> float | None:
    return round(100.0 * part / whole, 2) if part is not None and whole else None


def _cpu_share(r: Any, field: str) -> float | None:
    prev, cur = r.previous.get("stat"), r.section("stat")
    return None if prev is None or cur is None else stat.share(prev, cur, field)


def _psi(key: str):
    def read(r: Any) -> float | None:
        record = r.section("pressure")
        return None if record is None else getattr(record, key)
    return read


def _inodes_used_pct(r: Any, mount: str) -> float | None:
    record = r.section("inodes")
    return None if record is None else record.used_pct(mount)


def _flag(value: bool | None) -> int | None:
    """A yes/no of nvidia-smi as 1/0 (stored, alertable and exported as a number), None where not reported."""
    return None if value is None else int(value)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _gpu_util_mean(r: Any) -> float | None:
    return _mean([g.util_pct for g in r.gpus if g.util_pct is not None])


def _gpu_unanswered(r: Any) -> int | None:
    return sum(g.util_pct is None for g in r.gpus) if r.gpus else None


def _gpu_mem_used_pct(r: Any) -> float | None:
    used = [g.mem_used_mb for g in r.gpus if g.mem_used_mb is not None]
    total = [g.mem_total_mb for g in r.gpus if g.mem_total_mb is not None]
    return _pct(sum(used), sum(total)) if used and len(used) == len(total) else None


def _gpu_mem_fullest(r: Any) -> float | None:
    pcts = [p for g in r.gpus if (p := _pct(g.mem_used_mb, g.mem_total_mb)) is not None]
    return max(pcts) if pcts else None


def _gpu_temp_max(r: Any) -> float | None:
    temps = [g.temperature_c for g in r.gpus if g.temperature_c is not None]
    return max(temps) if temps else None


def _disk_used_pct_max(r: Any) -> float | None:
    pcts = [d.used_pct for d in r.disks if d.used_pct is not None]
    return max(pcts) if pcts else None


def _swap_used(r: Any) -> int | None:
    total, free = r.swap_total_bytes, r.swap_free_bytes
    return total - free if total is not None and free is not None and free <= total else None


def _swap_used_pct(r: Any) -> float | None:
    total, free = r.swap_total_bytes, r.swap_free_bytes
    return (total - free) / total * 100.0 if total and free is not None else None


def _service_active(r: Any, s: Any) -> str | None:
    return s.active_state


M = Metric
METRICS: tuple[Metric, ...] = (
    # ------------------------------------------------------------------ host: CPU and load
    M("cpu_pct", "host", "%", "rate", "CPU busy: time neither idle nor iowait, steal included", "CPU",
      column="float", rollup=("avg", "max"), history=("avg", "max"), alert=True, prom="cpu_busy_percent"),
    M("cpu_iowait_pct", "host", "%", "rate", "CPU time idle while waiting for I/O (not in CPU busy)", "CPU iowait",
      short="iowait", read=lambda r: _cpu_share(r, "iowait"), column="float", rollup=("avg", "max"), alert=True,
      prom="cpu_iowait_percent"),
    M("cpu_steal_pct", "host", "%", "rate", "CPU time the hypervisor gave to others (in CPU busy)", "CPU steal",
      short="steal", read=lambda r: _cpu_share(r, "steal"), column="float", rollup=("avg", "max"), alert=True,
      prom="cpu_steal_percent"),
    M("cpu_count", "host", "count", "gauge", "Logical CPUs online", "Cores", short="cores", prom="cpus"),
    M("load1", "host", "load", "gauge", "Load average over 1 minute", "Load 1 min", column="float", alert=True,
      prom="load1"),
    M("load5", "host", "load", "gauge", "Load average over 5 minutes", "Load 5 min", short="5 min", column="float", alert=True,
      prom="load5"),
    M("load15", "host", "load", "gauge", "Load average over 15 minutes", "Load 15 min", short="15 min", column="float", alert=True,
      prom="load15"),
    # ------------------------------------------------------------------ host: memory
    M("mem_used_pct", "host", "%", "gauge", "Memory used (total - available), of total", "Memory", short="used",
      read=lambda r: _pct(r.mem_used_bytes, r.mem_total_bytes), column="float", rollup=("avg", "max"),
      history=("avg", "max"), alert=True, prom="memory_used_percent"),
    M("mem_used_bytes", "host", "bytes", "gauge", "Memory used: total - MemAvailable", "Memory used",
      column="bigint", rollup=("avg", "max"), history=(), alert=True, prom="memory_used_bytes"),
    M("mem_total_bytes", "host", "bytes", "gauge", "Memory installed (MemTotal)", "Memory total", short="of",
      column="bigint", prom="memory_total_bytes"),
    M("mem_available_bytes", "host", "bytes", "gauge", "Memory available without swapping (MemAvailable)",
      "Memory available", column="bigint", alert=True, prom="memory_available_bytes"),
    M("swap_used_bytes", "host", "bytes", "gauge", "Swap in use: SwapTotal - SwapFree", "Swap used",
      read=_swap_used, column="bigint", rollup=("avg", "max"), alert=True, prom="swap_used_bytes"),
    M("swap_total_bytes", "host", "bytes", "gauge", "Swap space (SwapTotal)", "Swap total", short="of",
      column="bigint", prom="swap_total_bytes"),
    M("swap_free_bytes", "host", "bytes", "gauge", "Swap space unused (SwapFree)", "Swap free", column="bigint"),
    M("swap_used_pct", "host", "%", "gauge", "Swap used, of swap space", "Swap used %", short="used",
      read=_swap_used_pct, alert=True),
    M("gpu_util_pct", "host", "%", "gauge",
      "GPU utilisation, mean over the host's GPUs that report it (gpu_unanswered: the others)", "GPU",
      read=_gpu_util_mean, column="float", rollup=("avg", "max"), history=("avg", "max")),
    M("gpu_mem_used_pct", "host", "%", "gauge",
      "GPU memory used, of all GPUs' memory together (gpu_mem_fullest_pct: the fullest card)", "GPU memory",
      read=_gpu_mem_used_pct, column="float", rollup=("avg", "max"), history=()),
    # ------------------------------------------------------------------ host: I/O
    M("disk_read_bps", "host", "bytes/s", "rate", "Bytes read from whole disks per second", "Disk read", short="read",
      column="float", rollup=("avg", "max"), alert=True, prom="disk_read_bytes_per_second"),
    M("disk_write_bps", "host", "bytes/s", "rate", "Bytes written to whole disks per second", "Disk write", short="write",
      column="float", rollup=("avg", "max"), alert=True, prom="disk_written_bytes_per_second"),
    M("net_rx_bps", "host", "bytes/s", "rate", "Bytes received per second over counted interfaces", "Net in", short="in",
      column="float", rollup=("avg", "max"), alert=True, prom="network_receive_bytes_per_second"),
    M("net_tx_bps", "host", "bytes/s", "rate", "Bytes sent per second over counted interfaces", "Net out", short="out",
      column="float", rollup=("avg", "max"), alert=True, prom="network_transmit_bytes_per_second"),
    M("uptime_s", "host", "s", "gauge", "Time since the host booted", "Uptime", column="float",
      prom="uptime_seconds"),
    # ------------------------------------------------------------------ host: pressure stall information
    *(M(f"psi_{key}", "host", "%", "gauge", f"{what}: share of the last 10 s (/proc/pressure, kernel 4.20+)",
        label, short=short, read=_psi(key), column="float", rollup=("avg", "max"), alert=True,
        prom=f"pressure_{key}_percent")
      for key, what, label, short in (
          ("cpu_some_avg10", "Some tasks waited for a CPU", "CPU pressure", "CPU some"),
          ("memory_some_avg10", "Some tasks stalled on memory", "Memory pressure", "memory some"),
          ("memory_full_avg10", "All non-idle tasks stalled on memory", "Memory pressure (full)", "memory full"),
          ("io_some_avg10", "Some tasks stalled on I/O", "I/O pressure", "I/O some"),
          ("io_full_avg10", "All non-idle tasks stalled on I/O", "I/O pressure (full)", "I/O full"))),
    # ------------------------------------------------------------------ host: GPU and disk summaries
    M("gpu_count", "host", "count", "gauge", "GPUs nvidia-smi lists, and AMD cards of the amdgpu driver", "GPUs",
      column="int", alert=True, prom="gpus"),
    M("gpu_temp_max_c", "host", "°C", "gauge", "Hottest GPU temperature", "Hottest GPU", short="hottest",
      read=_gpu_temp_max, column="float"),
    M("gpu_mem_fullest_pct", "host", "%", "gauge",
      "GPU memory used on the fullest card, of its memory (of the cards that report memory)", "Fullest GPU memory",
      short="fullest memory", read=_gpu_mem_fullest, column="float", rollup=("avg", "max"), history=("max",),
      alert=True, prom="gpu_memory_used_fullest_percent"),
    M("gpu_unanswered", "host", "count", "gauge",
      "GPUs listed without a utilisation (nvidia-smi's [N/A], [Not Supported]: MIG mode, old cards), not in the mean",
      "GPUs not answering", short="not answering", read=_gpu_unanswered, column="int", rollup=("avg", "max"),
      history=("max",), alert=True, prom="gpus_unanswered"),
    M("disk_used_pct_max", "host", "%", "gauge", "Fullest watched filesystem (hourly: the hour's last value)",
      "Disk used", read=_disk_used_pct_max, column="float", rollup=("last",),
      hourly=(("last", "disk_used_pct_last"),)),
    # ------------------------------------------------------------------ per filesystem (df)
    M("disk_used_bytes", "disk", "bytes", "gauge", "Filesystem space used", "Used", key="used_bytes",
      column="bigint", rollup=("last",), hourly=(("last", "used_bytes"),), prom="filesystem_used_bytes",
      table=True),
    M("disk_total_bytes", "disk", "bytes", "gauge",
      "Filesystem size, with the space reserved for root (more than used + available)", "Size", key="total_bytes",
      column="bigint", rollup=("last",), hourly=(("last", "total_bytes"),), prom="filesystem_size_bytes",
      table=True),
    M("disk_avail_bytes", "disk", "bytes", "gauge", "Filesystem space available to unprivileged users",
      "Available", key="avail_bytes", column="bigint", alert=True, prom="filesystem_avail_bytes", table=True),
    M("disk_used_pct", "disk", "%", "gauge",
      "Filesystem space used, of used + available (df's Use% to one decimal, not rounded up)", "Used %", key="used_pct",
      column="float", rollup=("last",), hourly=(("last", "used_pct"),), alert=True,
      prom="filesystem_used_percent", table=True),
    M("disk_inodes_used_pct", "disk", "%", "gauge", "Inodes used: used / (used + free), to one decimal (None where allocated on demand)",
      "Inodes used %", key="inode_used_pct", read=lambda r, d: _inodes_used_pct(r, d.mount), column="float",
      rollup=("last",), hourly=(("last", "inode_used_pct"),), alert=True, prom="filesystem_inodes_used_percent",
      table=True),
    # ------------------------------------------------------------------ per GPU (nvidia-smi, or amdgpu's sysfs files)
    M("gpu_util_pct", "gpu", "%", "gauge", "GPU utilisation of the card", "Util", key="util_pct",
      column="float", rollup=("avg", "max"), hourly=(("avg", "util_avg"), ("max", "util_max")), alert=True,
      prom="gpu_utilization_percent", table=True),
    M("gpu_mem_util_pct", "gpu", "%", "gauge", "GPU memory controller utilisation", "Memory util",
      key="mem_util_pct", column="float", prom="gpu_memory_utilization_percent"),
    M("gpu_mem_used_mb", "gpu", "MiB", "gauge", "GPU memory used", "Memory", key="mem_used_mb", column="float",
      rollup=("avg", "max"), prom="gpu_memory_used_bytes", prom_scale=2**20, table=True),
    M("gpu_mem_total_mb", "gpu", "MiB", "gauge", "GPU memory on the card", "of", key="mem_total_mb",
      column="float", prom="gpu_memory_total_bytes", prom_scale=2**20, table=True),
    M("gpu_mem_used_pct", "gpu", "%", "gauge", "GPU memory used, of the card's memory", "Memory %",
      key="mem_used_pct", read=lambda r, g: _pct(g.mem_used_mb, g.mem_total_mb), alert=True,
      prom="gpu_memory_used_percent"),
    M("gpu_temperature_c", "gpu", "°C", "gauge", "GPU temperature", "Temperature", key="temperature_c",
      column="float", rollup=("avg", "max"), hourly=(("avg", "temp_avg"), ("max", "temp_max")), alert=True,
      prom="gpu_temperature_celsius", table=True),
    M("gpu_power_w", "gpu", "W", "gauge", "GPU power draw", "Power", key="power_w", column="float",
      rollup=("avg",), hourly=(("avg", "power_avg"),), alert=True, prom="gpu_power_watts", table=True),
    M("gpu_power_limit_w", "gpu", "W", "gauge", "GPU power limit", "Power limit", key="power_limit_w",
      prom="gpu_power_limit_watts"),
    M("gpu_fan_pct", "gpu", "%", "gauge", "GPU fan speed, of its maximum", "Fan", key="fan_pct",
      prom="gpu_fan_percent"),
    M("gpu_sm_clock_mhz", "gpu", "MHz", "gauge", "GPU SM (graphics) clock", "SM clock", key="sm_clock_mhz",
      column="float", rollup=("avg",), prom="gpu_sm_clock_hertz", prom_scale=1e6),
    M("gpu_mem_clock_mhz", "gpu", "MHz", "gauge", "GPU memory clock", "Memory clock", key="mem_clock_mhz",
      column="float", prom="gpu_memory_clock_hertz", prom_scale=1e6),
    M("gpu_pstate", "gpu", "state", "gauge", "GPU performance state as a number: 0 (P0, fastest) to 15 (P15)",
      "P-state", key="pstate", column="int", prom="gpu_performance_state"),
    M("gpu_pcie_link_gen", "gpu", "count", "gauge", "PCIe link generation in use", "PCIe gen", key="pcie_gen",
      prom="gpu_pcie_link_generation"),
    M("gpu_pcie_link_width", "gpu", "count", "gauge", "PCIe link width in use (lanes)", "PCIe width",
      key="pcie_width", prom="gpu_pcie_link_width_lanes"),
    M("gpu_persistence_mode", "gpu", "state", "gauge", "Persistence mode: 1 enabled, 0 disabled", "Persistence",
      key="persistence_enabled", read=lambda r, g: _flag(g.persistence_mode), prom="gpu_persistence_mode_enabled"),
    M("gpu_mig_mode", "gpu", "state", "gauge", "MIG mode: 1 enabled, 0 disabled", "MIG",
      key="mig_enabled", read=lambda r, g: _flag(g.mig_mode), prom="gpu_mig_mode_enabled"),
    M("gpu_throttle_thermal", "gpu", "state", "gauge", "Clocks held back by SW or HW thermal slowdown: 1 yes, 0 no",
      "Thermal slowdown", key="throttle_thermal", read=lambda r, g: _flag(g.reason_thermal), column="int",
      alert=True, prom="gpu_clocks_event_thermal"),
    M("gpu_throttle_power_cap", "gpu", "state", "gauge", "Clocks held back by the SW power cap: 1 yes, 0 no",
      "Power cap", key="throttle_power_cap", read=lambda r, g: _flag(g.reason_power_cap), column="int",
      prom="gpu_clocks_event_power_cap"),
    M("gpu_throttle_hw_slowdown", "gpu", "state", "gauge", "Clocks held back by HW slowdown: 1 yes, 0 no",
      "HW slowdown", key="throttle_hw_slowdown", read=lambda r, g: _flag(g.reason_hw_slowdown), column="int",
      prom="gpu_clocks_event_hw_slowdown"),
    M("gpu_ecc_corrected", "gpu", "count", "counter", "Corrected ECC errors since the driver loaded",
      "ECC corrected", key="ecc_corrected_volatile", column="bigint", prom="gpu_ecc_errors_corrected_volatile"),
    M("gpu_ecc_uncorrected", "gpu", "count", "counter", "Uncorrected ECC errors since the driver loaded",
      "ECC uncorrected", key="ecc_uncorrected_volatile", column="bigint", alert=True,
      prom="gpu_ecc_errors_uncorrected_volatile"),
    M("gpu_ecc_corrected_aggregate", "gpu", "count", "counter", "Corrected ECC errors over the card's life",
      "ECC corrected, lifetime", key="ecc_corrected_aggregate", column="bigint",
      prom="gpu_ecc_errors_corrected_aggregate"),
    M("gpu_ecc_uncorrected_aggregate", "gpu", "count", "counter", "Uncorrected ECC errors over the card's life",
      "ECC uncorrected, lifetime", key="ecc_uncorrected_aggregate", column="bigint",
      prom="gpu_ecc_errors_uncorrected_aggregate"),
    M("gpu_retired_pages_pending", "gpu", "state", "gauge", "Retired memory pages waiting for a reset: 1 yes, 0 no",
      "Page retirement pending", key="retire_pending", read=lambda r, g: _flag(g.retired_pages_pending),
      column="int", prom="gpu_retired_pages_pending"),
    M("gpu_remap_pending", "gpu", "state", "gauge", "Remapped memory rows waiting for a reset: 1 yes, 0 no",
      "Row remap pending", key="remap_pending", read=lambda r, g: _flag(g.remapped_rows_pending), column="int",
      alert=True, prom="gpu_remapped_rows_pending"),
    # ------------------------------------------------------------------ per network interface
    M("net_interface_rx_bps", "interface", "bytes/s", "rate", "Bytes received per second by the interface",
      "receive", key="rx_bps", prom="network_interface_receive_bytes_per_second"),
    M("net_interface_tx_bps", "interface", "bytes/s", "rate", "Bytes sent per second by the interface",
      "transmit", key="tx_bps", prom="network_interface_transmit_bytes_per_second"),
    # ------------------------------------------------------------------ per watched systemd unit
    M("service_active_state", "service", "state", "state", "systemd ActiveState of the unit", "State",
      key="active_state", read=_service_active, column="text", prom="service_state"),
    M("service_load_state", "service", "state", "state", "systemd LoadState of the unit", "Load",
      key="load_state", column="text"),
    M("service_sub_state", "service", "state", "state", "systemd SubState of the unit", "Sub",
      key="sub_state", column="text"),
)

TILES: tuple[Tile, ...] = (
    Tile("cpu", "CPU busy", ("cpu_pct", "cpu_count", "cpu_iowait_pct", "cpu_steal_pct")),
    Tile("mem", "Memory used", ("mem_used_bytes", "mem_total_bytes", "mem_used_pct")),
    Tile("load", "Load 1 / 5 / 15 min", ("load1", "load5", "load15")),
    Tile("disk-io", "Disk read / write", ("disk_read_bps", "disk_write_bps")),
    Tile("net", "Network in / out", ("net_rx_bps", "net_tx_bps")),
    Tile("uptime", "Uptime", ("uptime_s",)),
    Tile("pressure", "Pressure stall, 10 s", ("psi_cpu_some_avg10", "psi_memory_some_avg10",
                                               "psi_memory_full_avg10", "psi_io_some_avg10", "psi_io_full_avg10")),
    Tile("swap", "Swap used", ("swap_used_bytes", "swap_total_bytes", "swap_used_pct")),
    Tile("gpus", "GPUs: mean util", ("gpu_util_pct", "gpu_mem_fullest_pct", "gpu_temp_max_c", "gpu_unanswered"),
         shown_if="gpu_count"),
)

CHARTS: tuple[Chart, ...] = (
    Chart("cpu", "CPU busy, iowait and steal", ("cpu_pct", "cpu_iowait_pct", "cpu_steal_pct"), max=100),
    Chart("mem", "Memory used", ("mem_used_pct",), max=100),
    Chart("disk-io", "Disk I/O", ("disk_read_bps", "disk_write_bps")),
    Chart("net", "Network", ("net_rx_bps", "net_tx_bps")),
    Chart("swap", "Swap used", ("swap_used_bytes",)),
    Chart("pressure", "Pressure stall (some, 10 s)", ("psi_cpu_some_avg10", "psi_memory_some_avg10",
                                                      "psi_io_some_avg10"), max=100),
)

CATALOGUE = Catalogue(METRICS, TILES, CHARTS)
