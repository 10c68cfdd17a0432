"""The running hub's tables: each host's newest report, the hub's processes, housekeeping leases, the
inventory shared between members (issue 15).

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "host_latest",
        sa.Column("host_id", sa.String(length=64), primary_key=True),
        sa.Column("ts", sa.Float(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
    )
    op.create_table(
        "hub_processes",
        sa.Column("id", sa.String(length=128), primary_key=True),
        sa.Column("member", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=True),
        sa.Column("workers", sa.Integer(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("machine", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("heartbeat_at", sa.Float(), nullable=False),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.Column("control_url", sa.String(length=255), nullable=True),
        sa.Column("control_secret", sa.String(length=128), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
    )
    op.create_index("ix_hub_processes_member", "hub_processes", ["member"])
    op.create_table(
        "hub_leases",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "inventory_docs",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
    )
    op.create_table(
        "inventory_edits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("op", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("done_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_inventory_edits_state", "inventory_edits", ["state"])


def downgrade() -> None:
    op.drop_table("inventory_edits")
    op.drop_table("inventory_docs")
    op.drop_table("hub_leases")
    op.drop_table("hub_processes")
    op.drop_table("host_latest")
