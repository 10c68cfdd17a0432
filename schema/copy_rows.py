"""Rows into a PostgreSQL table through COPY, in the session's transaction.

Sample rows are insert-only and many (5,000 hosts: some 25,000 rows a
second over four tables). psycopg's COPY (binary, its C implementation) takes
them without SQLAlchemy compiling and binding an INSERT per group of rows:
measured in docs/benchmarks.md. A row's missing column gets the column's
Python-side default (what Core's INSERT would have sent), else NULL.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import exc as sa_exc
from sqlmodel import Session


def copy_rows(session: Session, table, rows: list[dict[str, Any]]) -> bool:
    """COPY `rows` into `table` when the session is on PostgreSQL through psycopg; False (nothing done)
    anywhere else. A refused value or a lost connection is raised as SQLAlchemy's own exception (DataError,
    IntegrityError, OperationalError), as an INSERT's would be, so the batch writer tells them apart."""
    if session.get_bind().dialect.driver != "psycopg":
        return False
    import psycopg

    names = set()
    for row in rows:
        names.update(row)
    columns = [c for c in table.columns if c.name in names or _scalar_default(c) is not None]
    defaults = [_scalar_default(c) for c in columns]
    keys = [c.name for c in columns]
    statement = f'COPY {table.name} ({", ".join(keys)}) FROM STDIN'
    driver = session.connection().connection.driver_connection
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row.get(k, d) for k, d in zip(keys, defaults)])
    except psycopg.Error as error:
        raise sa_exc.DBAPIError.instance(statement, None, error, psycopg.Error) from None
    except (OverflowError, ValueError) as error:  # refused by the client before the server saw it
        raise sa_exc.DataError(statement, None, error) from None
    return True


def _scalar_default(column) -> Any:
    default = column.default
    return default.arg if default is not None and default.is_scalar else None
