"""SQLModel tables (SPEC section 4, storage).

Times are epoch seconds (UTC) as floats: one representation for SQLite and
PostgreSQL, cheap to index and to bucket (`ts - ts % 60`). The API turns them
into ISO 8601. Byte counts are 64-bit (`BigInteger`): PostgreSQL's INTEGER is
32-bit and a disk is larger than 2 GiB.

Child rows (GPU, disk, service) carry `host_id` and `ts` instead of a foreign
key to `samples`, so time-range queries and retention need no join and a
batch insert needs no returned ids.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


def _big(**kw):
    return Field(default=None, sa_type=BigInteger, **kw)


# ----------------------------------------------------------------------------- hosts
class HostBase(SQLModel):
    id: str = Field(primary_key=True, max_length=64)
    address: str = Field(default="", max_length=255)
    state: str = Field(default="connecting", max_length=32)
    last_error: str | None = Field(default=None, sa_type=Text)
    last_seen_at: float | None = None
    state_since: float | None = None
    hostname: str | None = Field(default=None, max_length=255)
    os_pretty_name: str | None = Field(default=None, max_length=255)
    kernel: str | None = Field(default=None, max_length=255)
    arch: str | None = Field(default=None, max_length=64)
    cpu_count: int | None = None
    mem_total_bytes: int | None = _big()
    gpu_count: int | None = None
    boot_time: float | None = None  # hub-clock estimate: received_at - uptime
    removed_at: float | None = None  # no longer in the inventory; history is kept


class Host(HostBase, table=True):
    """One row per host ever seen in the inventory, with its current state."""

    __tablename__ = "hosts"
    consecutive_failures: int = 0


# --------------------------------------------------------------------------- samples
class SampleBase(SQLModel):
    host_id: str = Field(max_length=64)
    ts: float  # hub wall clock when the probe output arrived
    state: str = Field(default="up", max_length=32)  # up | degraded
    uptime_s: float | None = None
    cpu_pct: float | None = None
    load1: float | None = None
    load5: float | None = None
    load15: float | None = None
    mem_total_bytes: int | None = _big()
    mem_used_bytes: int | None = _big()
    mem_available_bytes: int | None = _big()
    mem_used_pct: float | None = None
    swap_total_bytes: int | None = _big()
    swap_free_bytes: int | None = _big()
    disk_read_bps: float | None = None
    disk_write_bps: float | None = None
    net_rx_bps: float | None = None
    net_tx_bps: float | None = None
    # GPU summaries, denormalised so rollups and charts need no join
    gpu_count: int | None = None
    gpu_util_pct: float | None = None  # mean over the host's GPUs
    gpu_mem_used_pct: float | None = None  # sum used / sum total
    gpu_temp_max_c: float | None = None
    disk_used_pct_max: float | None = None  # fullest watched filesystem
    errors: str | None = Field(default=None, sa_type=Text)  # JSON {section: message}


class Sample(SampleBase, table=True):
    """One 5 s probe of one host: host-wide metrics."""

    __tablename__ = "samples"
    __table_args__ = (Index("ix_samples_host_ts", "host_id", "ts"), Index("ix_samples_ts", "ts"))
    id: int | None = Field(default=None, primary_key=True)


class GpuSample(SQLModel, table=True):
    """One GPU in one probe."""

    __tablename__ = "gpu_samples"
    __table_args__ = (Index("ix_gpu_samples_host_ts", "host_id", "ts"), Index("ix_gpu_samples_ts", "ts"))
    id: int | None = Field(default=None, primary_key=True)
    host_id: str = Field(max_length=64)
    ts: float
    gpu_index: int
    uuid: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, max_length=255)
    util_pct: float | None = None
    mem_util_pct: float | None = None
    mem_used_mb: float | None = None
    mem_total_mb: float | None = None
    temperature_c: float | None = None
    power_w: float | None = None


class DiskSample(SQLModel, table=True):
    """One watched filesystem in one probe."""

    __tablename__ = "disk_samples"
    __table_args__ = (Index("ix_disk_samples_host_ts", "host_id", "ts"), Index("ix_disk_samples_ts", "ts"))
    id: int | None = Field(default=None, primary_key=True)
    host_id: str = Field(max_length=64)
    ts: float
    mount: str = Field(max_length=1024)
    fstype: str | None = Field(default=None, max_length=64)
    used_bytes: int | None = _big()
    total_bytes: int | None = _big()
    avail_bytes: int | None = _big()
    used_pct: float | None = None


class ServiceSample(SQLModel, table=True):
    """One watched systemd unit in one probe."""

    __tablename__ = "service_samples"
    __table_args__ = (Index("ix_service_samples_host_ts", "host_id", "ts"), Index("ix_service_samples_ts", "ts"))
    id: int | None = Field(default=None, primary_key=True)
    host_id: str = Field(max_length=64)
    ts: float
    unit: str = Field(max_length=256)
    load_state: str | None = Field(default=None, max_length=32)
    active_state: str | None = Field(default=None, max_length=32)
    sub_state: str | None = Field(default=None, max_length=32)


# --------------------------------------------------------------------------- rollups
class SampleHourlyBase(SQLModel):
    host_id: str = Field(max_length=64)
    hour: int = Field(sa_type=BigInteger)  # epoch seconds of the start of the UTC hour (64-bit: 2038)
    sample_count: int = 0
    cpu_pct_avg: float | None = None
    cpu_pct_max: float | None = None
    mem_used_pct_avg: float | None = None
    mem_used_pct_max: float | None = None
    mem_used_bytes_avg: float | None = None
    mem_used_bytes_max: int | None = _big()
    gpu_util_pct_avg: float | None = None
    gpu_util_pct_max: float | None = None
    gpu_mem_used_pct_avg: float | None = None
    gpu_mem_used_pct_max: float | None = None
    disk_read_bps_avg: float | None = None
    disk_read_bps_max: float | None = None
    disk_write_bps_avg: float | None = None
    disk_write_bps_max: float | None = None
    net_rx_bps_avg: float | None = None
    net_rx_bps_max: float | None = None
    net_tx_bps_avg: float | None = None
    net_tx_bps_max: float | None = None
    disk_used_pct_last: float | None = None  # fullest watched filesystem at the hour's last sample
    disks: str | None = Field(default=None, sa_type=Text)  # JSON [{mount, used_bytes, total_bytes, used_pct}]
    gpus: str | None = Field(default=None, sa_type=Text)  # JSON [{index, name, util_avg, util_max, ...}]


class SampleHourly(SampleHourlyBase, table=True):
    """Hourly rollup of one host, upserted from raw samples (unique host_id+hour)."""

    __tablename__ = "samples_hourly"
    __table_args__ = (
        UniqueConstraint("host_id", "hour", name="uq_samples_hourly_host_hour"),
        Index("ix_samples_hourly_hour_host", "hour", "host_id"),
    )
    id: int | None = Field(default=None, primary_key=True)


# ---------------------------------------------------------------------------- events
class EventBase(SQLModel):
    ts: float
    host_id: str = Field(max_length=64)
    type: str = Field(max_length=32)
    subject: str | None = Field(default=None, max_length=256)  # unit name, GPU index, ...
    message: str = Field(default="", sa_type=Text)
    details: str | None = Field(default=None, sa_type=Text)  # JSON


class Event(EventBase, table=True):
    """Something that happened to a host (SPEC section 4, events)."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_ts", "ts"),
        Index("ix_events_host_ts", "host_id", "ts"),
        Index("ix_events_type_ts", "type", "ts"),
    )
    id: int | None = Field(default=None, primary_key=True)


EVENT_TYPES = ("host_down", "host_up", "service_failed", "service_recovered", "host_rebooted",
               "host_key_mismatch", "auth_failed", "gpu_hot", "proxy_down", "proxy_up")

__all__ = [
    "DiskSample", "EVENT_TYPES", "Event", "EventBase", "GpuSample",
    "Host", "HostBase", "Sample", "SampleBase", "SampleHourly", "SampleHourlyBase", "ServiceSample",
]
