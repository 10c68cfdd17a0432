"""`fleetwatch demo`: a hub watching simulated hosts served on loopback.

    fleetwatch demo [--listen 127.0.0.1:8080] [--keep]

A new user sees a live dashboard with no servers of their own: four simulated
hosts (collector/demo.py) answer SSH on 127.0.0.1 and run the real probe on
this machine, and the hub runs in the same process and event loop, with the
same code as `fleetwatch serve`, on an inventory, keys and a SQLite database
in a temporary folder (removed at exit unless --keep).

--flap-up / --flap-down SECONDS (left out of --help) set how long demo-flaky-1
stays up and down (default 60 s and 40 s); the tests shorten them.

The Alerts page has something to show within two minutes: the inventory has two
alert rules (a GPU above 80 C, a host down) whose notifier posts to a webhook
receiver the demo runs on 127.0.0.1 (collector/demo_receiver.py), and
demo-gpu-1 runs a hot GPU while demo-flaky-1 goes down now and then. History
is not empty either: the first rollup runs FIRST_ROLLUP_S after the start.

The URL to open is printed on stdout, once the web server accepts connections,
as one line starting with "Open http://". Ctrl-C or SIGTERM stops everything
and exits 0.
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import secrets
import tempfile
import time
from pathlib import Path
from types import FrameType

from collector.cli.common import EXIT_FAILED, EXIT_OK
from collector.cli.common import err as _err
from collector.cli.serve import DEFAULT_LISTEN, _duration, _is_loopback, _listen, _serve, setup_logging
from collector.cli.serve import bind_problem as _bind_problem
from collector.cli.serve import hostport as _hostport

DEMO_USER = "demo"
FIRST_ROLLUP_S = 20.0  # the hosts' first samples are stored by then: History shows the hour in progress

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stopper:
    """Ctrl-C / SIGTERM, whenever they come, end in a clean stop.

    While uvicorn serves, its own handlers stop it; when it is done it puts
    ours back and raises the signal again, which must then not cut the clean
    stop short. Before that, in phase "setup" (simulated hosts starting) the
    demo's task is cancelled; in phase "serve" (the hub and uvicorn starting)
    `_watch` hands the signal on to uvicorn once it listens; before the event
    loop runs, cmd_demo checks `stopping`.
    """

    def __init__(self) -> None:
        self.phase = "setup"
        self.stopping = False
        self.signum = signal.SIGINT
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None

    def attach(self, loop: asyncio.AbstractEventLoop, task: asyncio.Task | None) -> None:
        self._loop, self._task = loop, task
        if self.stopping and task is not None:
            task.cancel()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        self.stopping, self.signum = True, signum
        if self.phase == "setup" and self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)

    def uvicorn_has_signals(self) -> bool:
        return signal.getsignal(signal.SIGINT) is not self


async def _accepting(host: str, port: int) -> bool:
    try:
        _reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    return True


def _demo_login(db_url: str) -> str:
    """A one-time admin in the demo's own database; its random password is printed with the URL."""
    from sqlmodel import Session

    from schema import auth
    from schema.db import make_engine

    password = secrets.token_urlsafe(12)
    engine = make_engine(db_url)
    with Session(engine) as session:
        auth.add_user(session, DEMO_USER, "admin", password, time.time())
    engine.dispose()
    return password


async def _watch(listen: tuple[str, int], workdir: Path, keep: bool, stopper: _Stopper, password: str) -> None:
    """Print the URL once the web server accepts connections; hand an early Ctrl-C on to uvicorn."""
    host, port = listen
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # a wildcard address is opened on loopback
    announced = False
    while True:
        if not announced and await _accepting(host, port):
            announced = True  # uvicorn has started: it stops cleanly from here on
            if not stopper.stopping:
                fate = "kept at exit (--keep)" if keep else "removed at exit"
                print(f"Log in as {DEMO_USER} with password {password}  (a one-time admin for this demo)")
                print(f"Open http://{_hostport(host, port)}/  (Ctrl-C to stop; data in {workdir}, {fate})",
                      flush=True)
        if announced and stopper.stopping and stopper.uvicorn_has_signals():
            signal.raise_signal(stopper.signum)
            return
        await asyncio.sleep(0.1)


async def _run(args: argparse.Namespace, workdir: Path, sh: str, db_url: str, stopper: _Stopper) -> int:
    from collector import demo
    from collector.hub_options import HubOptions

    stopper.attach(asyncio.get_running_loop(), asyncio.current_task())
    fleet = demo.DemoFleet(workdir, sh=sh, flap=(args.flap_up, args.flap_down))
    try:
        await fleet.start()
        ids = ", ".join(h.sim.id for h in fleet.hosts)
        print(f"fleetwatch demo: {len(fleet.hosts)} simulated hosts on {demo.LOOPBACK} ({ids}); "
              f"demo-flaky-1 goes down for {args.flap_down:g} s every {args.flap_up + args.flap_down:g} s",
              flush=True)
        print(f"fleetwatch demo: alert rules {demo.GPU_HOT_RULE} and {demo.HOST_DOWN_RULE} notify a webhook "
              f"receiver at {fleet.receiver.url} (deliveries in {fleet.receiver.log_path.name})", flush=True)
        defaults = HubOptions()
        serve_args = argparse.Namespace(inventory=str(fleet.inventory_path), db=db_url, listen=args.listen,
                                        raw_retention=defaults.raw_keep_s, hourly_retention=defaults.hourly_keep_s,
                                        no_backup=True, log_level=args.log_level, first_rollup_s=FIRST_ROLLUP_S)
        watch = asyncio.create_task(_watch(args.listen, workdir, args.keep, stopper, args.password))
        stopper.phase = "serve"
        try:
            return await _serve(serve_args)  # the hub and the web app, as `fleetwatch serve` runs them
        finally:
            stopper.phase = "done"
            watch.cancel()
    finally:
        await fleet.stop()
        await _settle()


async def _settle(timeout: float = 3.0) -> None:
    """Let what is still in flight (a probe of a host just stopped) finish before asyncio.run cancels it."""
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if others:
        await asyncio.wait(others, timeout=timeout)


def cmd_demo(args: argparse.Namespace) -> int:
    from collector import demo
    from schema.db import DatabaseError
    from schema.migrate import upgrade

    try:
        sh = demo.find_posix_sh()
    except demo.NoPosixShell as exc:
        _err(f"demo: {exc}")
        return EXIT_FAILED
    host, port = args.listen
    problem = _bind_problem(host, port)
    if problem is not None:
        _err(f"demo: cannot listen on {_hostport(host, port)}: {problem}")
        return EXIT_FAILED
    if not _is_loopback(host):
        _err(f"warning: listening on {host}, reachable from other machines")
    setup_logging(args.log_level)

    workdir = Path(tempfile.mkdtemp(prefix="fleetwatch-demo-"))
    stopper = _Stopper()
    previous = {sig: signal.signal(sig, stopper) for sig in STOP_SIGNALS}
    try:
        db_url = f"sqlite:///{(workdir / 'fleetwatch.db').as_posix()}"
        upgrade(db_url, log=lambda _msg: None)
        args.password = _demo_login(db_url)
        if stopper.stopping:
            return EXIT_OK
        return asyncio.run(_run(args, workdir, sh, db_url, stopper))
    except (KeyboardInterrupt, asyncio.CancelledError):
        return EXIT_OK  # stopped while starting
    except SystemExit:  # uvicorn could not start; it logged why
        _err(f"demo: the web server could not start on {_hostport(host, port)}")
        return EXIT_FAILED
    except DatabaseError as exc:
        _err(f"demo: {exc}")
        return EXIT_FAILED
    except OSError as exc:
        _err(f"demo: {exc.strerror or exc}")
        return EXIT_FAILED
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if args.keep:
            print(f"fleetwatch demo: kept {workdir} (hosts.yaml, keys, fleetwatch.db)", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="try it: a hub watching simulated hosts served on 127.0.0.1",
                          description="Start a hub with a temporary inventory and database, watching four "
                                      "simulated hosts served on 127.0.0.1 by this process (they run the real "
                                      "probe on this machine as the current user), and print the URL to open.")
    demo.add_argument("--listen", metavar="HOST:PORT", type=_listen, default=_listen(DEFAULT_LISTEN),
                      help=f"where the web UI and API listen (default {DEFAULT_LISTEN})")
    demo.add_argument("--keep", action="store_true",
                      help="keep the temporary folder (inventory, keys, database) at exit")
    demo.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    demo.add_argument("--flap-up", metavar="SECONDS", type=_duration, default=60.0, help=argparse.SUPPRESS)
    demo.add_argument("--flap-down", metavar="SECONDS", type=_duration, default=40.0, help=argparse.SUPPRESS)
    demo.set_defaults(func=cmd_demo)
