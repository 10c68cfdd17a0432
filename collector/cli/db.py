"""`fleetwatch db upgrade` and `fleetwatch db backup`.

Exit codes: 0 done; 2 a database problem, reported as one line
`fleetwatch: ...` on stderr (never a traceback).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from collector.cli.common import EXIT_OK
from collector.cli.common import EXIT_USAGE as EXIT_ERROR
from collector.cli.common import err as _err
DB_HELP = "database URL or SQLite file (default: $FLEETWATCH_DB, else fleetwatch.db in the data folder)"


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from schema.db import DatabaseError
    from schema.migrate import upgrade

    try:
        result = upgrade(args.db, backup_dir=Path(args.backup_dir) if args.backup_dir else None,
                         revision=args.revision, log=lambda line: print(line, flush=True))
    except DatabaseError as exc:
        _err(str(exc))
        return EXIT_ERROR
    if result.backup_path is not None:
        print(f"the database before the upgrade is saved in {result.backup_path}")
    return EXIT_OK


def cmd_db_backup(args: argparse.Namespace) -> int:
    from schema.backup import backup_database
    from schema.db import DatabaseError, default_db_url, redact

    url = args.db or default_db_url()
    try:
        path = backup_database(url, Path(args.to) if args.to else None, keep=args.keep)
    except DatabaseError as exc:
        _err(str(exc))
        return EXIT_ERROR
    print(f"backup of {redact(url)} written to {path}")
    return EXIT_OK


def _keep(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(subparsers) -> None:
    """Add the `db` command group to the top-level subparsers."""
    db = subparsers.add_parser("db", help="database commands (migrations, backups)")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="SUBCOMMAND")

    up = db_sub.add_parser("upgrade", help="migrate the database to the newest schema (backs it up first)")
    up.add_argument("--db", metavar="URL", help=DB_HELP)
    up.add_argument("--backup-dir", metavar="DIR", help="where the backup goes (default: backups/ beside a "
                                                        "SQLite file, else backups/ in the data folder)")
    up.add_argument("--revision", default="head", help=argparse.SUPPRESS)
    up.set_defaults(func=cmd_db_upgrade)

    backup = db_sub.add_parser("backup", help="back the database up now")
    backup.add_argument("--db", metavar="URL", help=DB_HELP)
    backup.add_argument("--to", metavar="DIR", help="backup folder (default: as for upgrade)")
    backup.add_argument("--keep", type=_keep, default=7, metavar="N", help="keep the newest N backups (default 7)")
    backup.set_defaults(func=cmd_db_backup)
