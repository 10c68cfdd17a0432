"""Is the database at the newest schema? Answered without Alembic, so that a `serve` whose database is
current (every start but the first after an upgrade) never loads it: 13 MB of modules in a process that
lives as long as the hub. schema/migrate.py does the migrating; a test holds HEAD_REVISION to its head.
The head is the highest numbered file in schema/migrations/versions (NNNN_what.py), so a migration made by
`python3 -m schema.migrations.new` needs no edit here."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from schema.db import make_engine

VERSIONS_DIR = Path(__file__).resolve().parent / "migrations" / "versions"
HEAD_REVISION = max(p.name[:4] for p in VERSIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py"))
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
