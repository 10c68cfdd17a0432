"""Is the database at the newest schema? Answered without Alembic, so that a `serve` whose database is
current (every start but the first after an upgrade) never loads it: 13 MB of modules in a process that
lives as long as the hub. schema/migrate.py does the migrating; a test holds HEAD_REVISION to its head."""
from __future__ import annotations

from sqlalchemy import text

from schema.db import make_engine

HEAD_REVISION = "0005"
VERSION_TABLE = "alembic_version"


def at_head(url: str) -> bool:
    """True when `url`'s database says it is at HEAD_REVISION; False when it is not, or cannot say (no
    table, no file, no server): then schema.migrate.upgrade runs and explains whatever is wrong."""
    try:
        engine = make_engine(url)
    except Exception:  # noqa: BLE001 - upgrade() gives the one-line message
        return False
    try:
        with engine.connect() as conn:
            versions = [row[0] for row in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))]
    except Exception:  # noqa: BLE001 - as above
        return False
    finally:
        engine.dispose()
    return versions == [HEAD_REVISION]
