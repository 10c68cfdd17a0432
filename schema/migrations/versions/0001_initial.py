"""Initial schema: hosts, raw samples (host, GPU, disk, service) and events.

Revision ID: 0001
Revises: (none)

Times are epoch seconds as floats; byte counts are BIGINT (PostgreSQL's
INTEGER is 32-bit). Child sample rows carry host_id and ts, no foreign key.
Column order follows schema/models.py, so a migrated database has the same
layout as one made by `SQLModel.metadata.create_all`.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), primary_key=True, nullable=False)


def _str(name: str, length: int, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _float(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Float(), nullable=nullable)


def _big(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=True)


def _int(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def _text(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.Text(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "hosts",
        sa.Column("id", sa.String(length=64), primary_key=True, nullable=False),
        _str("address", 255, nullable=False),
        _str("state", 32, nullable=False),
        _text("last_error"),
        _float("last_seen_at"),
        _float("state_since"),
        _str("hostname", 255),
        _str("os_pretty_name", 255),
        _str("kernel", 255),
        _str("arch", 64),
        _int("cpu_count"),
        _big("mem_total_bytes"),
        _int("gpu_count"),
        _float("boot_time"),
        _float("removed_at"),
        _int("consecutive_failures", nullable=False),
    )

    op.create_table(
        "samples",
        _str("host_id", 64, nullable=False),
        _float("ts", nullable=False),
        _str("state", 32, nullable=False),
        _float("uptime_s"),
        _float("cpu_pct"),
        _float("load1"),
        _float("load5"),
        _float("load15"),
        _big("mem_total_bytes"),
        _big("mem_used_bytes"),
        _big("mem_available_bytes"),
        _float("mem_used_pct"),
        _big("swap_total_bytes"),
        _big("swap_free_bytes"),
        _float("disk_read_bps"),
        _float("disk_write_bps"),
        _float("net_rx_bps"),
        _float("net_tx_bps"),
        _int("gpu_count"),
        _float("gpu_util_pct"),
        _float("gpu_mem_used_pct"),
        _float("gpu_temp_max_c"),
        _float("disk_used_pct_max"),
        _text("errors"),
        _id(),
    )
    op.create_index("ix_samples_host_ts", "samples", ["host_id", "ts"])
    op.create_index("ix_samples_ts", "samples", ["ts"])

    op.create_table(
        "gpu_samples",
        _id(),
        _str("host_id", 64, nullable=False),
        _float("ts", nullable=False),
        _int("gpu_index", nullable=False),
        _str("uuid", 128),
        _str("name", 255),
        _float("util_pct"),
        _float("mem_util_pct"),
        _float("mem_used_mb"),
        _float("mem_total_mb"),
        _float("temperature_c"),
        _float("power_w"),
    )
    op.create_index("ix_gpu_samples_host_ts", "gpu_samples", ["host_id", "ts"])
    op.create_index("ix_gpu_samples_ts", "gpu_samples", ["ts"])

    op.create_table(
        "disk_samples",
        _id(),
        _str("host_id", 64, nullable=False),
        _float("ts", nullable=False),
        _str("mount", 1024, nullable=False),
        _str("fstype", 64),
        _big("used_bytes"),
        _big("total_bytes"),
        _big("avail_bytes"),
        _float("used_pct"),
    )
    op.create_index("ix_disk_samples_host_ts", "disk_samples", ["host_id", "ts"])
    op.create_index("ix_disk_samples_ts", "disk_samples", ["ts"])

    op.create_table(
        "service_samples",
        _id(),
        _str("host_id", 64, nullable=False),
        _float("ts", nullable=False),
        _str("unit", 256, nullable=False),
        _str("load_state", 32),
        _str("active_state", 32),
        _str("sub_state", 32),
    )
    op.create_index("ix_service_samples_host_ts", "service_samples", ["host_id", "ts"])
    op.create_index("ix_service_samples_ts", "service_samples", ["ts"])

    op.create_table(
        "events",
        _float("ts", nullable=False),
        _str("host_id", 64, nullable=False),
        _str("type", 32, nullable=False),
        _str("subject", 256),
        _text("message", nullable=False),
        _text("details"),
        _id(),
    )
    op.create_index("ix_events_ts", "events", ["ts"])
    op.create_index("ix_events_host_ts", "events", ["host_id", "ts"])
    op.create_index("ix_events_type_ts", "events", ["type", "ts"])


def downgrade() -> None:
    for table, indexes in (
        ("events", ("ix_events_type_ts", "ix_events_host_ts", "ix_events_ts")),
        ("service_samples", ("ix_service_samples_ts", "ix_service_samples_host_ts")),
        ("disk_samples", ("ix_disk_samples_ts", "ix_disk_samples_host_ts")),
        ("gpu_samples", ("ix_gpu_samples_ts", "ix_gpu_samples_host_ts")),
        ("samples", ("ix_samples_ts", "ix_samples_host_ts")),
        ("hosts", ()),
    ):
        for index in indexes:
            op.drop_index(index, table_name=table)
        op.drop_table(table)
