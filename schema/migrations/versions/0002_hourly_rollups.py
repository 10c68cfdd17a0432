"""Hourly rollups: samples_hourly, one row per host and UTC hour (upserted).

Revision ID: 0002
Revises: 0001

`hour` is the epoch second that starts the hour. The unique constraint on
(host_id, hour) is what the rollup job upserts against; the index on
(hour, host_id) serves fleet-wide time-range reads.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _float(name: str) -> sa.Column:
    return sa.Column(name, sa.Float(), nullable=True)


def upgrade() -> None:
    op.create_table(
        "samples_hourly",
        sa.Column("host_id", sa.String(length=64), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        _float("cpu_pct_avg"),
        _float("cpu_pct_max"),
        _float("mem_used_pct_avg"),
        _float("mem_used_pct_max"),
        _float("mem_used_bytes_avg"),
        sa.Column("mem_used_bytes_max", sa.BigInteger(), nullable=True),
        _float("gpu_util_pct_avg"),
        _float("gpu_util_pct_max"),
        _float("gpu_mem_used_pct_avg"),
        _float("gpu_mem_used_pct_max"),
        _float("disk_read_bps_avg"),
        _float("disk_read_bps_max"),
        _float("disk_write_bps_avg"),
        _float("disk_write_bps_max"),
        _float("net_rx_bps_avg"),
        _float("net_rx_bps_max"),
        _float("net_tx_bps_avg"),
        _float("net_tx_bps_max"),
        _float("disk_used_pct_last"),
        sa.Column("disks", sa.Text(), nullable=True),  # JSON list, one entry per filesystem
        sa.Column("gpus", sa.Text(), nullable=True),  # JSON list, one entry per GPU
        sa.Column("id", sa.Integer(), primary_key=True, nullable=False),
        sa.UniqueConstraint("host_id", "hour", name="uq_samples_hourly_host_hour"),
    )
    op.create_index("ix_samples_hourly_hour_host", "samples_hourly", ["hour", "host_id"])


def downgrade() -> None:
    op.drop_index("ix_samples_hourly_hour_host", table_name="samples_hourly")
    op.drop_table("samples_hourly")
