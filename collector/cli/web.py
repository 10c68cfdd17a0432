"""The web process of `fleetwatch serve` (SPEC §7): the FastAPI app, reading the fleet from the database.

Started by the supervisor as `python -m collector.cli.web ...` with $FLEETWATCH_DB. It holds no SSH
connection: it reads what the collector workers write (`schema.fleet`), watches the inventory file
for its own view of the hosts, rules and notifiers, and reaches a host's owner over the control
channel for live requests (`collector.control.RemoteControl`). It stops when its standard input
closes (the supervisor stops it, or died) or on a stop signal, giving requests in flight up to
`STOP_GRACE_S`.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

log = logging.getLogger("collector.web")


async def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from collector.cli.serve import STOP_GRACE_S
    from collector.control import RemoteControl
    from collector.process_status import ProcessIdentity, StatusReporter
    from collector.supervisor import when_stdin_closes
    from inventory import InventoryError
    from inventory.watch import InventoryWatcher
    from schema.db import default_db_url, normalize_url
    from webapp.app import create_app
    from webapp.database import web_engine
    from webapp.fleet_source import FleetSource

    url = normalize_url(default_db_url())
    engine = web_engine(url)
    watcher = InventoryWatcher(Path(args.inventory), lambda _inventory: None)
    try:
        watcher.load_initial()
    except InventoryError:
        log.warning("inventory %s does not load; the web shows its problems", args.inventory)
    identity = ProcessIdentity(member=args.member, role="web", restarts=args.restarts)

    async def run_db(fn):
        from sqlmodel import Session

        def work():
            with Session(engine) as session:
                result = fn(session)
                session.commit()
                return result
        return await asyncio.to_thread(work)

    status = StatusReporter(run_db, identity, lambda: {"listen": args.listen})
    tasks: list[asyncio.Task] = []

    async def start() -> None:
        tasks.append(asyncio.create_task(watcher.run(), name="inventory-watch"))
        status.start()

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await status.stop()

    source = FleetSource(db_url=url, watcher=watcher, control=RemoteControl(engine),
                         key_dirs=tuple(Path(d) for d in args.key_dir or ()), engine=engine, member=args.member,
                         on_start=start, on_stop=stop)
    host, _, port = args.listen.rpartition(":")
    forwarded = args.forwarded_allow_ips
    config = uvicorn.Config(create_app(source, metrics_public=args.metrics_public), host=host.strip("[]"), port=int(port),
                            log_level=args.log_level.lower(), access_log=False, lifespan="on",
                            proxy_headers=bool(forwarded), forwarded_allow_ips=forwarded or None,
                            timeout_graceful_shutdown=STOP_GRACE_S)
    server = uvicorn.Server(config)
    loop = asyncio.get_running_loop()

    def exit_soon() -> None:
        server.should_exit = True
    when_stdin_closes(lambda: loop.call_soon_threadsafe(exit_soon))
    await server.serve()
    return 0 if server.started else 1


def main(argv: list[str] | None = None) -> int:
    import signal

    from collector.cli.serve import setup_logging

    p = argparse.ArgumentParser(prog="python -m collector.cli.web", description=__doc__.splitlines()[0])
    p.add_argument("--member", required=True)
    p.add_argument("--inventory", required=True)
    p.add_argument("--listen", required=True, help="HOST:PORT")
    p.add_argument("--forwarded-allow-ips", default=None)
    p.add_argument("--key-dir", action="append", default=[])
    p.add_argument("--log-level", default="info")
    p.add_argument("--restarts", type=int, default=0)
    p.add_argument("--metrics-public", action="store_true")
    args = p.parse_args(argv)
    setup_logging(args.log_level)
    # uvicorn handles SIGINT/SIGTERM (and SIGBREAK) and raises them again once stopped: end with 0 then
    for sig in (signal.SIGTERM, getattr(signal, "SIGBREAK", None)):
        if sig is not None:
            signal.signal(sig, lambda *_a: sys.exit(0))
    try:
        return asyncio.run(_serve(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
