"""SQLModel tables (SPEC section 4, storage).

Times are epoch seconds (UTC) as floats: one representation for SQLite and
PostgreSQL, cheap to index and to bucket (`ts - ts % 60`). The API turns them
into ISO 8601. Byte counts are 64-bit (`BigInteger`): PostgreSQL's INTEGER is
32-bit and a disk is larger than 2 GiB.

The metric columns of the raw tables and of `samples_hourly` come from the
metric catalogue (collector/metrics/catalogue.py): a stored metric is a
column under its key, a rolled-up one `<key>_avg` / `_max` / `_last` (and `<key>_n`, the samples
an average is over).

Child rows (GPU, disk, service) carry `host_id` and `ts` instead of a foreign
key to `samples`, so time-range queries and retention need no join and a
batch insert needs no returned ids.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from collector.metrics.catalogue import CATALOGUE


def _big(**kw):
    return Field(default=None, sa_type=BigInteger, **kw)


# ------------------------------------------------------------ columns from the metric catalogue
_TEXT_MAX = 32  # a state word (systemd's ActiveState and friends)


def _field(column: str) -> tuple[Any, Any]:
    if column == "bigint":
        return int | None, Field(default=None, sa_type=BigInteger)
    if column == "int":
        return int | None, Field(default=None)
    if column == "text":
        return str | None, Field(default=None, max_length=_TEXT_MAX)
    return float | None, Field(default=None)


def _columns(name: str, fields: list[tuple[str, str]]) -> type[SQLModel]:
    """A SQLModel base class with one nullable column per (name, column type)."""
    ns: dict[str, Any] = {"__annotations__": {}, "__module__": __name__}
    for key, column in fields:
        ns["__annotations__"][key], ns[key] = _field(column)
    return type(name, (SQLModel,), ns)


def _metric_columns(name: str, scope: str) -> type[SQLModel]:
    """The stored metrics of a scope (collector/metrics/catalogue.py): one column each, under its key."""
    return _columns(name, [(m.key, m.column) for m in CATALOGUE.stored(scope)])


def _hourly_columns() -> type[SQLModel]:
    """samples_hourly's metric columns: <key>_avg as a float, <key>_max and <key>_last of the metric's type, and
    beside an average <key>_n, the number of samples it is the mean of (NULL in rows rolled up before it existed)."""
    fields = []
    for m in CATALOGUE.rolled_up("host"):
        for aggregate in m.rollup:
            fields.append((m.hourly_name(aggregate), "float" if aggregate == "avg" else m.column))
        if m.hourly_count:
            fields.append((m.hourly_count, "int"))
    return _columns("SampleHourlyMetrics", fields)



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
class SampleBase(_metric_columns("SampleMetrics", "host")):
    host_id: str = Field(max_length=64)
    ts: float  # hub wall clock when the probe output arrived
    state: str = Field(default="up", max_length=32)  # up | degraded
    errors: str | None = Field(default=None, sa_type=Text)  # JSON {section: message}


class Sample(SampleBase, table=True):
    """One 5 s probe of one host: host-wide metrics."""

    __tablename__ = "samples"
    __table_args__ = (Index("ix_samples_host_ts", "host_id", "ts"), Index("ix_samples_ts", "ts"))
    id: int | None = Field(default=None, primary_key=True)


class GpuSample(_metric_columns("GpuSampleMetrics", "gpu"), table=True):
    """One GPU in one probe."""

    __tablename__ = "gpu_samples"
    __table_args__ = (Index("ix_gpu_samples_host_ts", "host_id", "ts"), Index("ix_gpu_samples_ts", "ts"))
    id: int | None = Field(default=None, primary_key=True)
    host_id: str = Field(max_length=64)
    ts: float
    gpu_index: int
    uuid: str | None = Field(default=None, max_length=128)
    name: str | None = Field(default=None, max_length=255)
    vendor: str | None = Field(default=None, max_length=16)  # "nvidia" or "amd"; rows before 0014 are nvidia


class DiskSample(_metric_columns("DiskSampleMetrics", "disk"), table=True):
    """One watched filesystem in one probe."""

    __tablename__ = "disk_samples"
    __table_args__ = (Index("ix_disk_samples_host_ts", "host_id", "ts"), Index("ix_disk_samples_ts", "ts"))
    id: int | None = Field(default=None, primary_key=True)
    host_id: str = Field(max_length=64)
    ts: float
    mount: str = Field(max_length=1024)
    fstype: str | None = Field(default=None, max_length=64)


class ServiceSample(_metric_columns("ServiceSampleMetrics", "service"), table=True):
    """One watched systemd unit in one probe."""

    __tablename__ = "service_samples"
    __table_args__ = (Index("ix_service_samples_host_ts", "host_id", "ts"), Index("ix_service_samples_ts", "ts"))
    id: int | None = Field(default=None, primary_key=True)
    host_id: str = Field(max_length=64)
    ts: float
    unit: str = Field(max_length=256)


# --------------------------------------------------------------------------- rollups
class SampleHourlyBase(_hourly_columns()):
    host_id: str = Field(max_length=64)
    hour: int = Field(sa_type=BigInteger)  # epoch seconds of the start of the UTC hour (64-bit: 2038)
    sample_count: int = 0
    disks: str | None = Field(default=None, sa_type=Text)  # JSON [{mount, used_bytes, total_bytes, used_pct, ...}]
    gpus: str | None = Field(default=None, sa_type=Text)  # JSON [{index, name, util_avg, util_max, ...}]


class SampleHourly(SampleHourlyBase, table=True):
    """Hourly rollup of one host, upserted from raw samples (unique host_id+hour)."""

    __tablename__ = "samples_hourly"
    __table_args__ = (
        UniqueConstraint("host_id", "hour", name="uq_samples_hourly_host_hour"),
        Index("ix_samples_hourly_hour_host", "hour", "host_id"),
    )
    id: int | None = Field(default=None, primary_key=True)


class GpuUserHourly(SQLModel, table=True):
    """GPU use of one user on one host in one hour (collector/gpu_usage.py): added to at each read of the GPU
    processes (every 30 s by default), so the hour in progress is always current."""

    __tablename__ = "gpu_user_hourly"
    __table_args__ = (
        UniqueConstraint("host_id", "hour", "username", name="uq_gpu_user_hourly_host_hour_user"),
        Index("ix_gpu_user_hourly_hour", "hour"),
    )
    id: int | None = Field(default=None, primary_key=True)
    host_id: str = Field(max_length=64)
    hour: int = Field(sa_type=BigInteger)  # epoch seconds of the start of the UTC hour
    username: str = Field(max_length=64)  # "?" where ps did not name the owner
    gpu_seconds: float = 0.0  # cards held x seconds
    gpu_mem_mib_seconds: float = 0.0  # GPU memory held (MiB) x seconds
    reads: int = 0  # reads of the processes that saw this user
    max_processes: int = 0  # most processes of this user in one read


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
               "host_key_mismatch", "auth_failed", "gpu_hot", "gpu_lost", "gpu_ecc_error", "gpu_throttled",
               "proxy_down", "proxy_up")

__all__ = [
    "DiskSample", "EVENT_TYPES", "Event", "EventBase", "GpuSample", "GpuUserHourly",
    "Host", "HostBase", "Sample", "SampleBase", "SampleHourly", "SampleHourlyBase", "ServiceSample",
]
