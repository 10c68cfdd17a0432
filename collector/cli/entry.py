"""`fleetwatch` command line: serve, probe now, inventory check, hosts trust, db.

Exit codes: 0 ok; 1 the host could not be probed (failure class printed);
2 bad usage or inventory; 3 the probe ran but some section failed (degraded).
Errors are one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from collector.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, print_report
from collector.cli.common import err as _err


def _load(path: str | None):
    """Load the inventory or print its problems; returns None on failure."""
    from inventory import InventoryError, load_inventory

    try:
        return load_inventory(path)
    except InventoryError as exc:
        for problem in exc.problems:
            _err(str(problem))
        return None


def _spec(args: argparse.Namespace):
    """The resolved host named on the command line, or None (problem printed)."""
    inv = _load(args.inventory)
    if inv is None:
        return None
    try:
        return inv.host(args.host)
    except KeyError as exc:
        _err(exc.args[0] if exc.args else f"unknown host {args.host!r}")
        return None


async def _probe(spec, as_json: bool) -> int:
    from collector.errors import HostError
    from collector.prober import probe_twice
    from collector.report import build_report, failure_report
    from collector.ssh_pool import HostConnection

    conn = HostConnection(spec)
    try:
        if not as_json:
            print(f"probing {spec.id} ({spec.user}@{spec.address}:{spec.port}), two readings 1 s apart ...",
                  file=sys.stderr)
        readings = await probe_twice(conn)
    except HostError as err:
        if as_json:
            print(json.dumps(failure_report(spec.id, err, time.time()), indent=2))
        _err(f"{spec.id}: {err}")
        return EXIT_FAILED
    finally:
        await conn.close()
    report = build_report(spec.id, readings, disks=spec.disks, interfaces=spec.interfaces)
    return print_report(spec.id, report.to_dict(), as_json)


def cmd_probe(args: argparse.Namespace) -> int:
    if args.via:
        from collector.cli.serve import probe_via

        return probe_via(args.via, args.host, args.json)
    spec = _spec(args)
    return EXIT_USAGE if spec is None else asyncio.run(_probe(spec, args.json))


def cmd_inventory_check(args: argparse.Namespace) -> int:
    from inventory import InventoryError, check_inventory, default_inventory_path, load_inventory
    from inventory.permissions import inventory_warnings

    path = Path(args.path) if args.path else default_inventory_path()
    problems = check_inventory(path)  # the hosts' problems and the alert rules' / notifiers' ones
    for problem in problems:
        print(problem)
    try:
        inv = load_inventory(path)  # loads when only alert rules or notifiers are wrong
    except InventoryError:
        inv = None
    for warning in inventory_warnings(path, inv):  # permissions: warnings, not problems (exit code unchanged)
        print(f"warning: {warning}")
    n = len(inv.hosts) if inv else 0
    if problems:
        if inv is not None:  # every problem is in alerts/notifiers
            _err(f"{path}: {len(problems)} problem(s) in alert rules or notifiers; the {n} host(s) load, "
                 "but the hub ignores the rules and notifiers named above until they are fixed")
        else:
            _err(f"{path}: {len(problems)} problem(s)")
        return EXIT_USAGE
    alerting = inv.alerting if inv else None
    rules = f", {len(alerting.rules)} alert rule(s), {len(alerting.notifiers)} notifier(s)" if alerting else ""
    print(f"{path}: OK, {n} host(s){rules}")
    return EXIT_OK


async def _trust(spec, yes: bool, replace: bool) -> int:

    from collector import hostkeys

    try:
        key = await hostkeys.fetch_host_key(spec.address, spec.port, spec.timeout_s)
    except (OSError, asyncio.TimeoutError, TimeoutError, ValueError) as exc:
        _err(f"cannot fetch the host key of {spec.address}:{spec.port}: {exc}")
        return EXIT_FAILED
    except Exception as exc:  # asyncssh protocol errors: one line, no traceback
        _err(f"cannot fetch the host key of {spec.address}:{spec.port}: {type(exc).__name__}: {exc}")
        return EXIT_FAILED
    fp = hostkeys.fingerprint(key)
    print(f"{spec.id} ({spec.address}:{spec.port}) offers {key.get_algorithm()} key {fp}")
    try:
        return _trust_key(spec, key, fp, yes, replace)
    except hostkeys.KnownHostsError as exc:  # not a known_hosts file: said without quoting it
        _err(str(exc))
        return EXIT_FAILED


def _trust_key(spec, key, fp: str, yes: bool, replace: bool) -> int:
    import asyncssh

    from collector import hostkeys

    if spec.host_key:
        pinned = hostkeys.fingerprint(asyncssh.import_public_key(spec.host_key))
        state = "matches" if pinned == fp else f"does NOT match ({pinned})"
        print(f"the inventory pins a key for this host, which {state}; known_hosts is not used for it")
        return EXIT_OK if pinned == fp else EXIT_FAILED
    on_record = hostkeys.known_keys(spec)
    if any(hostkeys.fingerprint(k) == fp for k in on_record):
        print(f"already trusted in {spec.known_hosts}")
        return EXIT_OK
    if on_record and not replace:
        print("WARNING: known_hosts has a DIFFERENT key for this host: "
              + ", ".join(hostkeys.fingerprint(k) for k in on_record))
        _err("refusing to change it; verify the new fingerprint on the host's console "
             "(ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and rerun with --replace")
        return EXIT_FAILED
    if not yes:
        if not sys.stdin.isatty():
            _err("not confirmed: rerun with --yes to pin the key without a prompt")
            return EXIT_USAGE
        answer = input(f"Compare with `ssh-keygen -lf` on the host. Pin this key in {spec.known_hosts}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            _err("not pinned")
            return EXIT_FAILED
    hostkeys.pin_host_key(Path(spec.known_hosts), spec.address, spec.port, key, replace=replace)
    print(f"pinned {fp} for {hostkeys.known_hosts_pattern(spec.address, spec.port)} in {spec.known_hosts}")
    return EXIT_OK


def cmd_hosts_trust(args: argparse.Namespace) -> int:
    spec = _spec(args)
    return EXIT_USAGE if spec is None else asyncio.run(_trust(spec, args.yes, args.replace))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fleetwatch", description="Agentless monitoring hub for Linux (GPU) servers.")
    p.add_argument("--version", action="version", version=f"fleetwatch {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    probe = sub.add_parser("probe", help="probe a host now and print a snapshot")
    probe.add_argument("host", metavar="HOST", help="host id from the inventory")
    probe.add_argument("--json", action="store_true", help="print one JSON object")
    probe.add_argument("--inventory", metavar="PATH", help="inventory file (default: $FLEETWATCH_INVENTORY "
                                                             "or inventory/hosts.yaml)")
    probe.add_argument("--via", metavar="URL", help="ask the running hub at URL (http://127.0.0.1:8080) to probe "
                                                    "over its open connection instead of connecting from here")
    probe.set_defaults(func=cmd_probe)

    inv = sub.add_parser("inventory", help="inventory commands")
    inv_sub = inv.add_subparsers(dest="inventory_command", required=True, metavar="SUBCOMMAND")
    check = inv_sub.add_parser("check", help="validate an inventory file")
    check.add_argument("path", nargs="?", metavar="PATH")
    check.set_defaults(func=cmd_inventory_check)

    hosts = sub.add_parser("hosts", help="host commands")
    hosts_sub = hosts.add_subparsers(dest="hosts_command", required=True, metavar="SUBCOMMAND")
    trust = hosts_sub.add_parser("trust", help="show a host's key fingerprint and pin it in known_hosts")
    trust.add_argument("host", metavar="HOST")
    trust.add_argument("--yes", action="store_true", help="pin without asking")
    trust.add_argument("--replace", action="store_true", help="replace a different key on record (host reinstalled)")
    trust.add_argument("--inventory", metavar="PATH")
    trust.set_defaults(func=cmd_hosts_trust)
    from collector.cli import auth, db, demo, proxy, serve
    db.register(sub)
    auth.register(sub)
    serve.register(sub)
    demo.register(sub)
    proxy.register(sub)
    return p


def _version() -> str:
    """The installed package's version (pyproject.toml), or "unknown" when run from a bare checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fleetwatch")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def _lenient_console() -> None:
    """A character the console cannot show (°C, a Chinese host name on a cp1252 Windows console) prints as
    `?` instead of ending the command in a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")


def main(argv: list[str] | None = None) -> int:
    _lenient_console()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
