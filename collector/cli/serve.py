"""`fleetwatch serve` (the hub) and `fleetwatch probe HOST --via URL` (ask a running hub)."""
from __future__ import annotations

import argparse
import asyncio
import errno
import ipaddress
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from collector.cli.common import EXIT_FAILED, EXIT_USAGE, print_report
from collector.cli.common import err as _err

DEFAULT_LISTEN = "127.0.0.1:8080"
STOP_GRACE_S = 5.0


def _duration(text: str) -> float:
    from inventory import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("must be longer than 0")
    return seconds


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of worker processes") from None
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError("must be from 1 to 256 (use --web-only for none)")
    return value


def _listen(text: str) -> tuple[str, int]:
    from inventory import parse_host_port

    try:
        return parse_host_port(text, "listen address")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind_problem(host: str, port: int) -> str | None:
    """Why the web server could not listen on host:port (None: it can), asked before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn binds
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if sys.platform != "win32":  # as uvicorn: a port in TIME_WAIT is free, one listened on is not
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (f"{exc.strerror or 'address already in use'}; is another fleetwatch running there? "
                        "Choose a free port with --listen 127.0.0.1:PORT")
            return exc.strerror or str(exc)
    return None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def default_workers() -> int:
    """One collector worker per core, at least one."""
    return max(1, os.cpu_count() or 1)


def _children(args: argparse.Namespace, member: str, workers: int, inventory_path: Path) -> list:
    """The processes of this member: its collector workers and, unless --no-web, the web process."""
    from collector.supervisor import Child, python_module

    level = args.log_level.lower()
    host, port = args.listen
    listen = hostport(host, port)
    control = getattr(args, "control_host", None)
    children = []
    for slot in range(workers):
        argv = python_module("collector.worker", "--member", member, "--slot", str(slot), "--workers", str(workers),
                             "--inventory", str(inventory_path.resolve()), "--listen", listen, "--log-level", level)
        if control:
            argv += ["--control-bind", control, "--control-host", control]
        children.append(Child(f"worker-{slot}", argv))
    if not getattr(args, "no_web", False):
        argv = python_module("collector.cli.web", "--member", member, "--inventory", str(inventory_path.resolve()),
                             "--listen", listen, "--log-level", level)
        if getattr(args, "forwarded_allow_ips", None):
            argv += ["--forwarded-allow-ips", args.forwarded_allow_ips]
        if getattr(args, "metrics_public", False):
            argv.append("--metrics-public")
        for folder in getattr(args, "key_dir", None) or ():
            argv += ["--key-dir", str(Path(folder).expanduser().resolve())]
        children.append(Child("web", argv))
    return children


def _member_taken(engine, member: str) -> str | None:
    """Why `member` may not start: another live `serve` uses the name (None: it may)."""
    import time

    from sqlmodel import Session

    from collector.supervisor import pid_alive
    from schema import fleet

    with Session(engine) as session:
        procs = fleet.processes(session)
    now = time.time()
    for proc in procs:
        if proc.member == member and proc.role == "supervisor" and proc.alive(now):
            if proc.machine == socket.gethostname() and not pid_alive(proc.pid):
                continue  # this machine's previous run, killed: its row is just not old enough yet
            return (f"another fleetwatch serve runs as member {member!r} (pid {proc.pid} on {proc.machine}); "
                    "give this one another name with --member, or stop that one first")
    return None


async def _serve(args: argparse.Namespace, *, handle_signals: bool = True) -> int:
    """This member of the hub: the supervisor of its workers and web process (collector.supervisor)."""
    from collector.hub_options import HubOptions
    from collector.supervisor import Supervisor
    from inventory import InventoryError, default_inventory_path, load_inventory
    from schema.db import make_engine, redact

    inventory_path = Path(args.inventory) if args.inventory else default_inventory_path()
    if inventory_path.exists():
        try:
            inventory = load_inventory(inventory_path)
        except InventoryError as exc:
            for problem in exc.problems:
                _err(str(problem))
            _err(f"{inventory_path}: fix the inventory (check it with `fleetwatch inventory check`) and start again")
            return EXIT_USAGE
        hosts = len(inventory.hosts)
    else:
        hosts = 0
    options = HubOptions(raw_keep_s=args.raw_retention, hourly_keep_s=args.hourly_retention,
                         backup_every_s=0 if args.no_backup else 24 * 3600, db_url=args.db, listen=args.listen,
                         key_dirs=tuple(Path(d).expanduser().resolve() for d in getattr(args, "key_dir", None) or ()),
                         first_rollup_s=getattr(args, "first_rollup_s", None))
    engine = make_engine(args.db)
    member = getattr(args, "member", None) or socket.gethostname()
    taken = _member_taken(engine, member)
    if taken is not None:
        _err(taken)
        return EXIT_USAGE
    workers = 0 if getattr(args, "web_only", False) else (getattr(args, "workers", None) or default_workers())
    children = _children(args, member, workers, inventory_path)
    env = dict(os.environ, FLEETWATCH_DB=args.db)
    supervisor = Supervisor(engine, options, inventory_path, member, workers, children, env)
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, *stop_signals()):
            signal.signal(sig, lambda *_a: loop.call_soon_threadsafe(supervisor.stop))
    host, port = args.listen
    roles = f"{workers} collector worker(s)" + ("" if getattr(args, "no_web", False) else " and the web")
    print(f"fleetwatch hub: member {member}: {roles}; {hosts} host(s) in {inventory_path}, database "
          f"{redact(args.db)}", file=sys.stderr)
    if not inventory_path.exists():
        _missing_inventory_warning(inventory_path)
    if not getattr(args, "no_web", False):
        print(f"fleetwatch hub: API on http://{hostport(host, port)}/ (OpenAPI at /docs); Ctrl-C stops",
              file=sys.stderr)
    _first_user_hint(engine)
    try:
        return await supervisor.run()
    finally:
        engine.dispose()


def _missing_inventory_warning(path: Path) -> None:
    """No inventory file: the hub would watch 0 hosts without a word; say so, and how to make one."""
    message = (f"WARNING: the inventory file {path} does not exist, so the hub watches 0 hosts. Create it "
               "(copy inventory/hosts.example.yaml from the fleetwatch sources and edit it), point --inventory or "
               "$FLEETWATCH_INVENTORY at yours, or add hosts on the web UI's Servers page; the hub picks the file up "
               "within a second, no restart needed")
    _err(message)
    logging.getLogger("collector.hub").warning("inventory file %s does not exist: watching 0 hosts", path)


def stop_signals() -> tuple[int, ...]:
    """What a service manager or a console sends to stop the hub: Ctrl-Break (SIGBREAK) on Windows too."""
    found = [signal.SIGTERM]
    if getattr(signal, "SIGBREAK", None) is not None:  # Windows: Ctrl-Break, and service wrappers' stop
        found.append(signal.SIGBREAK)
    return tuple(found)


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


def _first_user_hint(engine) -> None:
    """A fresh install has no user and no default password: say how to create the first admin."""
    from sqlmodel import Session

    from schema.auth import count_users

    with Session(engine) as session:
        if count_users(session) == 0:
            _err("no user yet: the web UI and API refuse everyone until you create the first admin with "
                 "`fleetwatch user add NAME --role admin` (same --db)")


def cmd_serve(args: argparse.Namespace) -> int:
    from schema.db import DatabaseError, default_db_url, normalize_url, redact
    from schema.revision import HEAD_REVISION, at_head

    setup_logging(args.log_level)
    if args.no_web and args.web_only:
        _err("--no-web and --web-only exclude each other: a member runs collectors, the web, or both (the default)")
        return EXIT_USAGE
    host, port = args.listen
    problem = None if args.no_web else bind_problem(host, port)  # before anything polls, not after
    if problem is not None:
        _err(f"cannot listen on {hostport(host, port)}: {problem}")
        return EXIT_FAILED
    from inventory.permissions import file_warnings  # the inventory or a key readable by other users
    for warning in file_warnings(args.inventory):
        _err(f"warning: {warning}")
    for folder in args.key_dir or ():
        if not Path(folder).expanduser().is_dir():
            _err(f"--key-dir {folder}: no such folder; create it or leave the flag out")
            return EXIT_USAGE
    if not _is_loopback(host):
        _err(f"warning: listening on {host}, reachable from other machines: logins and tokens travel "
             "in clear text over plain HTTP; put the hub behind an HTTPS reverse proxy")
    try:
        args.db = normalize_url(args.db or default_db_url())
        if at_head(args.db):  # Alembic stays out of this long-lived process
            print(f"fleetwatch db: database {redact(args.db)} is at revision {HEAD_REVISION}: nothing to do",
                  file=sys.stderr)
        else:
            from schema.migrate import upgrade

            upgrade(args.db, log=lambda m: print(f"fleetwatch db: {m}", file=sys.stderr))
    except DatabaseError as exc:
        _err(str(exc))
        return EXIT_USAGE
    # A service manager stops the hub with SIGTERM (Windows: Ctrl-Break): the supervisor stops its
    # workers (each with its final flush) and the web, rolls up, and exits 0, as `systemctl stop` expects.
    try:
        return asyncio.run(_serve(args))
    except OSError as exc:  # the port was taken between the check and uvicorn's bind
        _err(f"cannot listen on {hostport(host, port)}: {exc.strerror or exc}")
        return EXIT_FAILED


def probe_via(hub_url: str, host_id: str, as_json: bool, timeout: float = 60.0) -> int:
    """`probe HOST --via URL`: POST /api/servers/HOST/probe on a running hub and print the snapshot."""
    from collector.cli import hub_client

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
    serve.add_argument("--key-dir", metavar="DIR", action="append", default=[],
                       help="a folder where hosts added or edited through the web UI or API may keep their "
                            "identity_file and known_hosts, besides ~/.ssh and the data folder (repeatable)")
    serve.add_argument("--forwarded-allow-ips", metavar="IPS",
                       help="trust X-Forwarded-For/-Proto from these proxy addresses (comma list, as uvicorn's; "
                            "default: trust none, so login throttling keys on the real peer address)")
    serve.add_argument("--workers", type=_workers, default=None, metavar="K",
                       help=f"collector worker processes (default: one per core, here {default_workers()})")
    serve.add_argument("--member", metavar="NAME",
                       help="this serve's name among the members sharing one database (default: the machine's name)")
    serve.add_argument("--no-web", action="store_true", help="run collector workers only, no web UI or API")
    serve.add_argument("--web-only", action="store_true", help="run the web UI and API only, no collectors")
    serve.add_argument("--metrics-public", action="store_true",
                       help="serve Prometheus's /metrics without a token (default: an API token, as the API)")
    serve.add_argument("--control-host", metavar="ADDRESS",
                       help="where the web processes of other members reach this member's workers (default: "
                            "127.0.0.1, enough on one machine); the channel is authenticated, not encrypted")
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=cmd_serve)
