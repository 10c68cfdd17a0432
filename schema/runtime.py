"""Writes of the running hub's own rows: process heartbeats and housekeeping leases (issue 15).

Reads are in `schema.fleet`; the tables in `schema.runtime_models`.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlmodel import Session

from schema.runtime_models import HubLease, HubProcess, InventoryDoc, InventoryEdit
from schema.upsert import insert_new, upsert


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


# --------------------------------------------------------------------------- one inventory for every member
INVENTORY = "inventory"


def lease_holder(session: Session, name: str, now: float) -> str | None:
    """Who holds the lease now (None: nobody, or it ran out)."""
    row = session.execute(select(HubLease.holder, HubLease.expires_at).where(HubLease.name == name)).first()
    return row[0] if row is not None and row[1] >= now else None


def inventory_version(session: Session) -> tuple[int, str] | None:
    """(version, digest) of the published inventory; None before the first publication."""
    row = session.execute(select(InventoryDoc.version, InventoryDoc.digest)
                          .where(InventoryDoc.name == INVENTORY)).first()
    return (row[0], row[1]) if row is not None else None


def inventory_text(session: Session) -> tuple[int, str, str] | None:
    """(version, digest, text) of the published inventory."""
    row = session.execute(select(InventoryDoc.version, InventoryDoc.digest, InventoryDoc.text)
                          .where(InventoryDoc.name == INVENTORY)).first()
    return (row[0], row[1], row[2]) if row is not None else None


def publish_inventory(session: Session, text: str, digest: str, by: str, now: float, *,
                      first: bool = False) -> int | None:
    """Make `text` the inventory every member mirrors; its new version. With `first`, only when nothing is
    published yet (members starting together: the first one's file wins; None for the others)."""
    current = inventory_version(session)
    version = (current[0] if current else 0) + 1
    row = {"name": INVENTORY, "text": text, "digest": digest, "version": version, "updated_at": now, "updated_by": by}
    if first:
        if current is not None:
            return None
        insert_new(session, InventoryDoc.__table__, [row], ("name",))
        mine = inventory_version(session)
        return version if mine is not None and mine[1] == digest else None
    upsert(session, InventoryDoc.__table__, [row], ("name",))
    return version


def queue_inventory_edit(session: Session, op: str, by: str, now: float) -> int:
    table = InventoryEdit.__table__
    return int(session.execute(table.insert().values(op=op, state="queued", created_at=now, created_by=by)
                               .returning(table.c.id)).scalar_one())


def queued_inventory_edits(session: Session, limit: int = 50) -> list[tuple[int, str]]:
    rows = session.execute(select(InventoryEdit.id, InventoryEdit.op).where(InventoryEdit.state == "queued")
                           .order_by(InventoryEdit.id).limit(limit)).all()
    return [(r[0], r[1]) for r in rows]


def finish_inventory_edit(session: Session, edit_id: int, ok: bool, result: str, now: float) -> None:
    session.execute(update(InventoryEdit.__table__).where(InventoryEdit.id == edit_id)
                    .values(state="done" if ok else "failed", result=result, done_at=now))


def inventory_edit_outcome(session: Session, edit_id: int) -> tuple[str, str | None]:
    row = session.execute(select(InventoryEdit.state, InventoryEdit.result).where(InventoryEdit.id == edit_id)).first()
    return (row[0], row[1]) if row is not None else ("missing", None)
