"""The runtime's knobs, apart from the runtime: the supervisor and the CLI read them without importing the
hub (asyncssh, the poller, the notifiers: 18 MB of modules the supervisor process never uses)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from schema.timeutil import HOUR


@dataclass(frozen=True)
class HubOptions:
    """Knobs of the runtime; the defaults are SPEC §4's."""

    raw_keep_s: float = 48 * HOUR
    hourly_keep_s: float = 2 * 365 * 24 * HOUR
    flush_every_s: float = 1.0
    rollup_every_s: float = 60.0  # the hour in progress stays fresh; a run reads only a minute of samples
    first_rollup_s: float | None = None  # one complete rollup this long after start (the demo: History not empty)
    retention_every_s: float = HOUR
    backup_every_s: float = 24 * HOUR  # 0 turns the daily backup off
    backup_dir: Path | None = None
    db_url: str | None = None  # for the backup job
    inventory_check_s: float = 1.0
    # where `serve` listens (the builtin proxy never forwards a host to the hub's own web port)
    listen: tuple[str, int] | None = None
    # folders besides ~/.ssh and the data folder where the API and UI may point identity_file / known_hosts
    key_dirs: tuple[Path, ...] = ()
    # rollups, retention, backups and the hosts table (one process of all that share the database does them)
    housekeeping: bool = True
