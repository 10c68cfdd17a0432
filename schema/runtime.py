"""Writes of the running hub's own rows: process heartbeats and housekeeping leases (issue 15).

Reads are in `schema.fleet`; the tables in `schema.runtime_models`.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlmodel import Session

from schema.runtime_models import HubLease, HubProcess
from schema.upsert import upsert


def beat(session: Session, row: dict[str, Any]) -> None:
    """Insert or refresh one process's row (`row` has every HubProcess column)."""
    upsert(session, HubProcess.__table__, [row], ("id",))


def forget_process(session: Session, process_id: str) -> None:
    """A process that stopped cleanly removes its row (a crashed one is found by its old heartbeat)."""
    session.execute(delete(HubProcess).where(HubProcess.id == process_id))


def take_lease(session: Session, name: str, holder: str, now: float, ttl_s: float) -> bool:
    """Hold `name` until now + ttl_s if it is free, expired or already ours; True when we hold it.

    One conditional UPDATE (or the first INSERT) in the caller's transaction: two processes asking at
    once cannot both win, on SQLite (one writer at a time) or PostgreSQL (the row lock).
    """
    table = HubLease.__table__
    taken = session.execute(
        update(table).where(table.c.name == name, (table.c.holder == holder) | (table.c.expires_at < now))
        .values(holder=holder, expires_at=now + ttl_s)).rowcount
    if taken:
        return True
    if session.execute(select(table.c.name).where(table.c.name == name)).first() is not None:
        return False  # someone else holds it
    try:
        with session.begin_nested():
            session.execute(table.insert().values(name=name, holder=holder, expires_at=now + ttl_s))
    except Exception:  # noqa: BLE001 - another process inserted it first: theirs
        return False
    return True
