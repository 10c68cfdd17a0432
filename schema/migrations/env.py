"""Alembic environment, configured in code (no alembic.ini).

`schema.migrate` builds the `alembic.config.Config` and passes an open
connection in `config.attributes["connection"]`; without one, the URL comes
from the config's `sqlalchemy.url` (or $FLEETWATCH_DB / the default SQLite
file). SQLite gets `render_as_batch=True`: its ALTER TABLE is limited, so
column changes are done by copying the table.
"""
from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import schema.alert_models  # noqa: F401  (registers the tables on SQLModel.metadata)
import schema.auth_models  # noqa: F401
import schema.runtime_models  # noqa: F401
import schema.models  # noqa: F401
from schema.db import default_db_url, make_engine, normalize_url

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    return normalize_url(config.get_main_option("sqlalchemy.url") or default_db_url())


def _configure(**kw) -> None:
    context.configure(target_metadata=target_metadata, compare_type=True, **kw)


def run_offline() -> None:
    """`alembic upgrade --sql`: print the SQL instead of running it."""
    url = _url()
    _configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"},
               render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def _run(connection) -> None:
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
