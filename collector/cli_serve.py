"""`fleetwatch serve` (the hub) and `fleetwatch probe HOST --via URL` (ask a running hub)."""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys
from pathlib import Path

from collector.cli_common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_report
from collector.cli_common import err as _err

DEFAULT_LISTEN = "127.0.0.1:8080"


def _duration(text: str) -> float:
    from inventory import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("must be longer than 0")
    return seconds


def _listen(text: str) -> tuple[str, int]:
    from inventory import parse_host_port

    try:
        return parse_host_port(text, "listen address")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


async def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from collector.hub import Hub, HubOptions
    from inventory import InventoryError, default_inventory_path
    from schema.db import make_engine, redact

    inventory_path = Path(args.inventory) if args.inventory else default_inventory_path()
    options = HubOptions(raw_keep_s=args.raw_retention, hourly_keep_s=args.hourly_retention,
                         backup_every_s=0 if args.no_backup else 24 * 3600, db_url=args.db)
    hub = Hub(inventory_path, make_engine(args.db), options)
    try:
        await hub.start()
    except InventoryError as exc:
        for problem in exc.problems:
            _err(str(problem))
        _err(f"{inventory_path}: fix the inventory (check it with `fleetwatch inventory check`) and start again")
        await hub.stop()
        return EXIT_USAGE
    host, port = args.listen
    print(f"fleetwatch hub: {len(hub.specs)} host(s) from {inventory_path}, database {redact(args.db)}",
          file=sys.stderr)
    print(f"fleetwatch hub: API on http://{host if ':' not in host else f'[{host}]'}:{port}/ "
          f"(OpenAPI at /docs); Ctrl-C stops", file=sys.stderr)
    _first_user_hint(hub)
    from webapp.app import create_app

    # the app's shutdown stops the hub: uvicorn re-raises SIGTERM when its serve() ends, so code
    # after serve() would not run under a service manager's stop
    config = uvicorn.Config(create_app(hub, manage_hub=False, stop_hub=True), host=host, port=port,
                            log_level=args.log_level.lower(), access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    try:
        await server.serve()
    finally:
        await hub.stop()
    return EXIT_OK if server.started else EXIT_FAILED


def _terminated(_signum: int, _frame: object) -> None:
    raise SystemExit(EXIT_OK)


def not_cancelled(record: logging.LogRecord) -> bool:
    """Drop the tracebacks of what a stop cancels on its way: a job in flight (Hub.stop shuts the
    scheduler down), uvicorn's lifespan task when Ctrl-C comes while uvicorn starts."""
    return not (record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError))


def setup_logging(level: str) -> None:
    """The hub's log format and the library loggers it quiets (serve and demo)."""
    logging.basicConfig(level=getattr(logging, level.upper()),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.ERROR)  # "skipped: max instances" is our design
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    for name in ("apscheduler.executors.default", "uvicorn.error"):
        logging.getLogger(name).addFilter(not_cancelled)


def _first_user_hint(hub) -> None:
    """A fresh install has no user and no default password: say how to create the first admin."""
    from sqlmodel import Session

    from schema.auth import count_users

    with Session(hub.engine) as session:
        if count_users(session) == 0:
            _err("no user yet: the web UI and API refuse everyone until you create the first admin with "
                 "`fleetwatch user add NAME --role admin` (same --db)")


def cmd_serve(args: argparse.Namespace) -> int:
    from schema.db import DatabaseError, default_db_url, normalize_url
    from schema.migrate import upgrade

    setup_logging(args.log_level)
    from inventory.permissions import file_warnings  # the inventory or a key readable by other users
    for warning in file_warnings(args.inventory):
        _err(f"warning: {warning}")
    args.db = normalize_url(args.db or default_db_url())
    if not _is_loopback(args.listen[0]):
        _err(f"warning: listening on {args.listen[0]}, reachable from other machines: logins and tokens travel "
             "in clear text over plain HTTP; put the hub behind an HTTPS reverse proxy")
    try:
        upgrade(args.db, log=lambda m: print(f"fleetwatch db: {m}", file=sys.stderr))
    except DatabaseError as exc:
        _err(str(exc))
        return EXIT_USAGE
    # A service manager stops the hub with SIGTERM; uvicorn handles it, stops the app (and so the
    # hub), then raises it again. Ending with exit code 0 then is what `systemctl stop` expects.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        return asyncio.run(_serve(args))
    except OSError as exc:  # the port is taken, most often
        _err(f"cannot listen on {args.listen[0]}:{args.listen[1]}: {exc.strerror or exc}")
        return EXIT_FAILED


def probe_via(hub_url: str, host_id: str, as_json: bool, timeout: float = 60.0) -> int:
    """`probe HOST --via URL`: POST /api/servers/HOST/probe on a running hub and print the snapshot."""
    from collector import hub_client

    try:
        base = hub_client.hub_base(hub_url, "--via")
        if not as_json:
            print(f"asking the hub at {base} to probe {host_id} ...", file=sys.stderr)
        report = hub_client.call(base, "POST", hub_client.server_path(host_id, "probe"), timeout=timeout)
    except hub_client.HubCallError as exc:
        _err(f"{host_id}: {exc.lines[0]}")
        for line in exc.lines[1:]:
            _err(line)
        return exc.exit_code
    return print_report(host_id, report, as_json)


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the hub: poll every host, store, serve the API")
    serve.add_argument("--inventory", metavar="PATH",
                       help="inventory file (default: $FLEETWATCH_INVENTORY or inventory/hosts.yaml)")
    serve.add_argument("--db", metavar="URL", help="database URL: sqlite:///PATH or postgresql://USER@HOST/DB "
                                                   "(default: $FLEETWATCH_DB or fleetwatch.db in the data folder)")
    serve.add_argument("--listen", metavar="HOST:PORT", type=_listen, default=_listen(DEFAULT_LISTEN),
                       help=f"where the web UI and API listen (default {DEFAULT_LISTEN}, loopback only)")
    serve.add_argument("--raw-retention", metavar="DURATION", type=_duration, default=48 * 3600.0,
                       help="keep 5 s samples this long (default 48h)")
    serve.add_argument("--hourly-retention", metavar="DURATION", type=_duration, default=730 * 86400.0,
                       help="keep hourly rollups this long (default 730d)")
    serve.add_argument("--no-backup", action="store_true", help="no daily database backup")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=cmd_serve)
