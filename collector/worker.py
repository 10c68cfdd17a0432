"""One collector worker of `fleetwatch serve`: polls its share of the fleet (SPEC §7, issue 15).

Started by the supervisor (`collector.supervisor`) as `python -m collector.worker ...`, with the
database URL in $FLEETWATCH_DB (never on a command line). It runs a Hub restricted to the hosts
that rendezvous hashing gives it among the live members' workers (`collector.assignment`), serves
the web's live requests on its control channel (`collector.control_channel`) and writes its row in
`hub_processes` (control address, hosts, status). It stops cleanly, with the final flush, when its
standard input closes (the supervisor stops it, or died) or on SIGTERM / Ctrl-C / Ctrl-Break.

Fencing: a worker that cannot see its own member alive in the database for `FENCE_S` (its
supervisor died, or this machine lost the database) stops polling everything, before the other
members take its hosts over (they wait `schema.fleet.SILENT_AFTER_S`), so a host is not polled by
two members at once for longer than that gap.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from pathlib import Path

from sqlmodel import Session

from collector.assignment import Candidate, candidates
from collector.assignment import owner as owner_of
from schema import fleet

log = logging.getLogger("collector.worker")

MEMBERSHIP_S = 2.0  # how often the live members are read again
FENCE_S = 10.0  # below fleet.SILENT_AFTER_S (15 s), when the others take over


class Membership:
    """Which hosts this worker polls, from the live supervisors' rows (member -> workers)."""

    def __init__(self, engine, me: Candidate, *, clock=time.time) -> None:
        self.engine = engine
        self.me = me
        self._clock = clock
        self.pool: list[Candidate] = []
        self.confirmed_at = clock()  # the last read that showed our own member alive
        self._cache: dict[str, bool] = {}

    def owns(self, host_id: str) -> bool:
        if not self.pool:
            return False
        mine = self._cache.get(host_id)
        if mine is None:
            mine = self._cache[host_id] = owner_of(host_id, self.pool) == self.me
        return mine

    def read(self) -> list[Candidate] | None:
        """The live members' workers now (None: the database did not answer)."""
        now = self._clock()
        try:
            with Session(self.engine) as session:
                procs = fleet.processes(session)
        except Exception as exc:  # noqa: BLE001 - fenced below if it lasts
            log.debug("membership not read: %s", exc)
            return None
        # a --web-only member (no workers) is no candidate: nobody there would poll what it got
        members = {p.member: p.workers for p in procs if p.role == "supervisor" and p.alive(now) and p.workers}
        if self.me[0] in members:
            self.confirmed_at = now
        return candidates(members)

    def update(self, pool: list[Candidate] | None) -> bool:
        """Take a new member list (or fence); True when the hosts this worker polls may have changed."""
        if pool is None or self.me not in pool:
            if self.pool and self._clock() - self.confirmed_at > FENCE_S:
                log.warning("worker %s/%d: its member has not been seen alive for %.0f s: it stops polling until it "
                            "is", self.me[0], self.me[1], self._clock() - self.confirmed_at)
                self.pool, self._cache = [], {}
                return True
            if pool is None:
                return False
        if pool != self.pool:
            self.pool, self._cache = pool, {}
            return True
        return False


async def run(args: argparse.Namespace) -> int:
    from collector.control import LocalControl, channel_handlers
    from collector.control_channel import ControlServer
    from collector.hub import Hub, HubOptions
    from collector.process_status import ProcessIdentity
    from collector.supervisor import when_stdin_closes
    from schema.db import default_db_url, make_engine

    engine = make_engine(default_db_url())
    me = (args.member, args.slot)
    membership = Membership(engine, me)
    membership.update(await asyncio.to_thread(membership.read))
    identity = ProcessIdentity(member=args.member, role="worker", slot=args.slot, workers=args.workers,
                               restarts=args.restarts)
    options = HubOptions(housekeeping=False, listen=args.listen, db_url=None)
    hub = Hub(Path(args.inventory), engine, options, identity=identity, owns=membership.owns)
    control = ControlServer(channel_handlers(LocalControl(hub)), host=args.control_bind, advertise=args.control_host)
    await control.start()
    identity.control_url, identity.control_secret = control.url, control.secret
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    if not args.no_stdin_watch:
        when_stdin_closes(lambda: loop.call_soon_threadsafe(stop.set))
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGBREAK", None)):
        if sig is not None:
            signal.signal(sig, lambda *_a: loop.call_soon_threadsafe(stop.set))
    await hub.start()
    log.info("worker %s/%d: %d host(s), control channel %s", args.member, args.slot, len(hub.specs), control.url)
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), MEMBERSHIP_S)
            except asyncio.TimeoutError:
                pass
            if stop.is_set():
                break
            if membership.update(await asyncio.to_thread(membership.read)) and hub.watcher.inventory is not None:
                before = set(hub.specs)
                await hub.apply_inventory(hub.watcher.inventory)
                if set(hub.specs) != before:
                    log.info("worker %s/%d: members changed, now %d host(s)", args.member, args.slot, len(hub.specs))
                    hub.status.poke()
    finally:
        await control.stop()
        await hub.stop()
        engine.dispose()
    return 0


def main(argv: list[str] | None = None) -> int:
    from collector.cli.serve import setup_logging

    p = argparse.ArgumentParser(prog="python -m collector.worker", description=__doc__.splitlines()[0])
    p.add_argument("--member", required=True)
    p.add_argument("--slot", type=int, required=True)
    p.add_argument("--workers", type=int, required=True)
    p.add_argument("--inventory", required=True)
    p.add_argument("--listen", default=None, help="the web's HOST:PORT (the builtin proxy never forwards there)")
    p.add_argument("--control-bind", default="127.0.0.1")
    p.add_argument("--control-host", default=None, help="the address others dial (default: the bound one)")
    p.add_argument("--restarts", type=int, default=0)
    p.add_argument("--log-level", default="info")
    p.add_argument("--no-stdin-watch", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.listen:
        host, _, port = args.listen.rpartition(":")
        args.listen = (host.strip("[]"), int(port))
    setup_logging(args.log_level)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
