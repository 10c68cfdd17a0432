"""Tables of the running hub: what its processes know now, for the web and for each other (issue 15).

The collector workers and the web process meet in the database. Workers write
each host's newest report (`host_latest`, one row per host, in the flush batch)
and their own status (`hub_processes`: heartbeat, control-channel address,
pending alerts, notifier and forward status); the web reads only these and the
history tables. `hub_leases` lets exactly one process of all members run each
housekeeping job (rollup, retention, backup). `inventory_docs` and
`inventory_edits` share one inventory between members on several machines
(`collector.inventory_share`).
"""
from __future__ import annotations

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel


class HostLatest(SQLModel, table=True):
    """The newest report of one host as JSON (what the overview and the host page show)."""

    __tablename__ = "host_latest"
    host_id: str = Field(primary_key=True, max_length=64)
    ts: float
    doc: str = Field(sa_type=Text)


class HubProcess(SQLModel, table=True):
    """One running process of a hub member (supervisor, collector worker, web) and what it reports."""

    __tablename__ = "hub_processes"
    __table_args__ = (Index("ix_hub_processes_member", "member"),)
    id: str = Field(primary_key=True, max_length=128)  # "<member>/worker-0", "<member>/web", "<member>/supervisor"
    member: str = Field(max_length=64)
    role: str = Field(max_length=16)
    slot: int | None = None  # a worker's slot among its member's workers
    workers: int | None = None  # a supervisor: how many workers its member runs
    pid: int
    machine: str = Field(default="", max_length=255)
    started_at: float
    heartbeat_at: float
    restarts: int = 0
    control_url: str | None = Field(default=None, max_length=255)
    control_secret: str | None = Field(default=None, max_length=128)
    status: str = Field(default="{}", sa_type=Text)  # JSON


class HubLease(SQLModel, table=True):
    """A job only one process may run at a time (across members): held until `expires_at`."""

    __tablename__ = "hub_leases"
    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=128)
    expires_at: float


class InventoryDoc(SQLModel, table=True):
    """The inventory file as its owner (the housekeeping member) last published it, for the other members."""

    __tablename__ = "inventory_docs"
    name: str = Field(primary_key=True, max_length=64)
    text: str = Field(sa_type=Text)
    digest: str = Field(max_length=64)
    version: int
    updated_at: float
    updated_by: str = Field(max_length=128)


class InventoryEdit(SQLModel, table=True):
    """An edit made through a web process of a member that does not own the file, for the owner to apply."""

    __tablename__ = "inventory_edits"
    __table_args__ = (Index("ix_inventory_edits_state", "state"),)
    id: int | None = Field(default=None, primary_key=True)
    op: str = Field(sa_type=Text)  # JSON: {"op": "add_host", "args": [...]}
    state: str = Field(max_length=16)  # queued, done, failed
    result: str | None = Field(default=None, sa_type=Text)  # JSON: what failed, and how
    created_at: float
    created_by: str = Field(max_length=128)
    done_at: float | None = None
