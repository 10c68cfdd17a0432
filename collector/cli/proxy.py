"""`fleetwatch proxy status|start|stop HOST`: the reverse forwards held by a running hub.

The forwards live in the hub process (on its SSH connections), so these commands
talk to the hub's REST API (collector.cli.hub_client) rather than to the hosts.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from collector.cli.common import EXIT_DEGRADED, EXIT_FAILED, EXIT_OK
from collector.cli.common import err as _err
from collector.events import fmt_time
from schema.units_format import format_bytes, format_duration

POLL_S = 0.5


def describe(view: dict[str, Any], now: float) -> list[str]:
    """A forward's status in a few readable lines (units on every number)."""
    host, config, st = view["server"], view["config"], view["status"]
    target = "the hub's HTTP proxy" if config["target"] == "builtin" else f"{config['target']} on the hub"
    allow = config.get("allow")
    if allow is not None:
        target += f" (allowed: {', '.join(allow) if allow else 'nothing'})"
    if not config["enabled"]:
        return [f"{host}: no reverse forward (proxy.enabled is false in the inventory)"]
    lines = [f"{host}: {st['state']}, {config['remote_listen']} on the host -> {target}"]
    since = st.get("connected_since")
    up = f"up since {fmt_time(since)} ({format_duration(now - since)})" if since else "not up"
    lines.append(f"  {up}; {st.get('retry_count', 0)} retries; {st.get('connections', 0)} connections "
                 f"({st.get('active', 0)} open); {format_bytes(st.get('bytes_in', 0))} from the host, "
                 f"{format_bytes(st.get('bytes_out', 0))} to the host")
    if st.get("last_error"):
        lines.append(f"  last error: {st.get('error_code') or 'ERROR'}: {st['last_error']}")
    return lines


def _show(views: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(views if len(views) != 1 else views[0], indent=2))
        return
    now = time.time()
    for view in views:
        print("\n".join(describe(view, now)))


def _status(base: str, args: argparse.Namespace) -> int:
    from collector.cli import hub_client

    if args.host:
        views = [hub_client.call(base, "GET", hub_client.server_path(args.host, "proxy"))]
    else:
        views = hub_client.call(base, "GET", "/api/proxies")
        if not views:
            print("no host has a reverse forward enabled (add `proxy: {enabled: true}` to a host in the inventory)",
                  file=sys.stderr)
            if args.json:
                print("[]")
            return EXIT_OK
    _show(views, args.json)
    return EXIT_OK if all(v["status"]["state"] == "up" for v in views) else EXIT_DEGRADED


def _start(base: str, args: argparse.Namespace) -> int:
    from collector.cli import hub_client

    path = hub_client.server_path(args.host, "proxy")
    view = hub_client.call(base, "POST", path + "/start")
    deadline, seen = time.monotonic() + args.wait, None
    if args.wait > 0 and not args.json:
        print(f"{args.host}: starting {view['config']['remote_listen']} -> {view['config']['target']}; "
              f"waiting up to {args.wait:g} s for it to be up ...", file=sys.stderr)
    while view["status"]["state"] != "up" and time.monotonic() < deadline:
        st = view["status"]
        if not args.json and (st["state"], st.get("error_code"), st.get("retry_count")) != seen:
            seen = (st["state"], st.get("error_code"), st.get("retry_count"))
            why = f" ({st['error_code']}: {st['last_error']})" if st.get("last_error") else ""
            print(f"  {st['state']}{why}", file=sys.stderr)
        time.sleep(POLL_S)
        view = hub_client.call(base, "GET", path)
    _show([view], args.json)
    if args.wait > 0 and view["status"]["state"] != "up":
        _err(f"{args.host}: the forward is not up after {args.wait:g} s; the hub keeps retrying "
             f"(watch it with `fleetwatch proxy status {args.host}`)")
        return EXIT_FAILED
    return EXIT_OK


def _stop(base: str, args: argparse.Namespace) -> int:
    from collector.cli import hub_client

    view = hub_client.call(base, "POST", hub_client.server_path(args.host, "proxy") + "/stop")
    _show([view], args.json)
    if not args.json:
        print(f"{args.host}: the host's sshd released {view['config']['remote_listen']}", file=sys.stderr)
    return EXIT_OK


def cmd_proxy(args: argparse.Namespace) -> int:
    from collector.cli import hub_client

    action = {"status": _status, "start": _start, "stop": _stop}[args.proxy_command]
    try:
        return action(hub_client.hub_base(args.hub), args)
    except hub_client.HubCallError as exc:
        _err(f"{args.host}: {exc.lines[0]}" if args.host else exc.lines[0])
        for line in exc.lines[1:]:
            _err(line)
        return exc.exit_code


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, like 30 (got {text!r})") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 3600 seconds")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    proxy = sub.add_parser("proxy", help="reverse forwards held by a running hub: status, start, stop")
    proxy_sub = proxy.add_subparsers(dest="proxy_command", required=True, metavar="SUBCOMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--hub", metavar="URL", help="the running hub (default: $FLEETWATCH_HUB or "
                                                     "http://127.0.0.1:8080); token from $FLEETWATCH_TOKEN")
    common.add_argument("--json", action="store_true", help="print the hub's JSON answer")
    status = proxy_sub.add_parser("status", parents=[common],
                                  help="state, listen -> target, up since, last error, retries, traffic "
                                       "(exit 0 when every forward shown is up, 3 otherwise)")
    status.add_argument("host", nargs="?", metavar="HOST", help="one host (default: every host with a forward)")
    start = proxy_sub.add_parser("start", parents=[common], help="start holding the forward and wait until it is up")
    start.add_argument("host", metavar="HOST")
    start.add_argument("--wait", metavar="SECONDS", type=_seconds, default=30.0,
                       help="how long to wait for state up (default 30; 0: do not wait)")
    stop = proxy_sub.add_parser("stop", parents=[common],
                                help="close the forward; returns once the host's sshd has released the port")
    stop.add_argument("host", metavar="HOST")
    for p in (status, start, stop):
        p.set_defaults(func=cmd_proxy)
