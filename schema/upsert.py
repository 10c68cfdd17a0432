"""INSERT ... ON CONFLICT DO UPDATE for SQLite and PostgreSQL, one statement for many rows."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session


def upsert(session: Session, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str],
           columns: Sequence[str] | None = None) -> None:
    """Insert `rows` (executemany); a row whose `keys` exist updates `columns` (default: all the others)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        insert = sqlite.insert
    elif dialect == "postgresql":
        insert = postgresql.insert
    else:  # pragma: no cover - the hub supports SQLite and PostgreSQL only
        raise NotImplementedError(f"upsert: unsupported database {dialect!r}")
    names = list(columns) if columns is not None else [c for c in rows[0] if c not in keys]
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(index_elements=[table.c[k] for k in keys],
                                      set_={name: stmt.excluded[name] for name in names})
    every = [*keys, *names]
    session.execute(stmt, [{name: row.get(name) for name in every} for row in rows])


def insert_new(session: Session, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert the rows whose `keys` are not there yet (ON CONFLICT DO NOTHING): processes that add the same row at
    the same moment (two members starting together) do not fail."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    session.execute(insert(table).on_conflict_do_nothing(index_elements=[table.c[k] for k in keys]), list(rows))
