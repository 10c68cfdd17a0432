"""API fuzz (SPEC §5, §6 "bad input anywhere gets a clear error"): schemathesis against a running hub.

The schema is the one the hub serves at `/openapi.json` (behind the login, read with an admin
token); every operation in it gets generated requests, valid and invalid, sent over real HTTP to
a hub of this module's own (its own inventory and database: the edits the fuzz makes harm
nobody). Checks: never a 5xx, and a response that the schema documents matches its schema.

Bounded for CI: at most MAX_EXAMPLES generated cases per operation, derandomized (the same cases
every run), no shrinking, no example database; the whole module takes about 20 s.

Why a hub in a thread: the hypothesis-driven test is synchronous and sends its requests with
`requests`, so the hub and uvicorn need an event loop that keeps running meanwhile, which the
module's pytest-asyncio loop would not be.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import insert
from sqlmodel import Session

from collector.errors import Failure
from collector.hub import Hub, HubOptions
from schema.db import make_engine
from schema.migrate import upgrade
from schema.models import Event, Host, SampleHourly
from tests.support.hubproc import host_entry, make_token, write_inventory
from tests.support.sshd import free_port
from webapp.app import create_app

# schemathesis itself draws from `random` inside its strategies (its dictionaries); not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")

MAX_EXAMPLES = 25
CLOSED_PORT = free_port()  # nobody listens there: hosts the edits add fail to connect at once
NOW = time.time()
HOUR = 3600
# ids the generated requests use now and then (beside random ones), so that they reach past the 404:
# a live host, one nobody answers for (port closed: fails at once), one the edits may spend,
# one with history only (removed from the inventory)
LIVE, GHOST, SPARE, PAST = "live", "ghost", "spare", "old-1"
KNOWN_IDS = [LIVE, GHOST, SPARE, PAST]
# POST /api/servers/{id}/probe and GET .../services/catalog reach the host: fine here, the hosts
# are the test sshd and a closed port on loopback, and the inventory's timeout is 2 s. Their 502
# (the host cannot be reached) and 504 (it timed out) are what the API promises then, not a bug.
REACHES_HOST = ("/api/servers/{host_id}/probe", "/api/servers/{host_id}/services/catalog")
HOST_FAILURES = tuple(f"{f.value}:" for f in Failure)


def _prefill(engine) -> None:
    """Some hourly rows and events, so that the history, series and event queries return data."""
    this_hour = int(NOW) // HOUR * HOUR
    rows = [{"host_id": PAST, "hour": this_hour - (h + 2) * HOUR, "sample_count": 720, "cpu_pct_avg": 10.0 + h,
             "cpu_pct_max": 50.0 + h, "mem_used_pct_avg": 40.0, "mem_used_pct_max": 60.0,
             "gpus": json.dumps([{"index": 0, "util_avg": 5.0}])} for h in range(24)]
    events = [{"ts": NOW - 100 * (k + 1), "host_id": PAST, "type": "host_down" if k % 2 else "gpu_hot",
               "subject": None if k % 2 else "0", "message": f"event {k}", "details": None} for k in range(10)]
    with Session(engine) as s:
        s.execute(insert(Host), [{"id": PAST, "address": "10.0.0.9", "state": "up", "removed_at": NOW - HOUR,
                                  "consecutive_failures": 0}])
        s.execute(insert(SampleHourly), rows)
        s.execute(insert(Event), events)
        s.commit()


class _HubThread(threading.Thread):
    """Hub + uvicorn on loopback in an event loop of their own."""

    def __init__(self, inventory, engine) -> None:
        super().__init__(name="fuzz-hub", daemon=True)
        self.inventory, self.engine = inventory, engine
        self.port = free_port()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.server: uvicorn.Server | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - reported to the fixture
            self.error = exc
            self.ready.set()

    async def _main(self) -> None:
        hub = Hub(self.inventory, self.engine, HubOptions(backup_every_s=0, inventory_check_s=0.2))
        await hub.start()
        try:
            self.server = uvicorn.Server(uvicorn.Config(create_app(hub, manage_hub=False), host="127.0.0.1",
                                                        port=self.port, log_level="warning", lifespan="off"))
            task = asyncio.create_task(self.server.serve())
            while not self.server.started and not task.done():
                await asyncio.sleep(0.02)
            self.ready.set()
            await task
        finally:
            await hub.stop()

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        self.join(timeout=30)


@pytest.fixture(scope="module")
def fuzz_hub(sshd, tmp_path_factory):
    """A throwaway hub: a live host, a dead one, a spare one for the edits; history of a removed one."""
    tmp = tmp_path_factory.mktemp("fuzz")
    inventory = write_inventory(tmp / "hosts.yaml", [
        host_entry(sshd, LIVE, services=["nginx.service", "broken.service"], labels={"env": "fuzz"}),
        host_entry(sshd, GHOST, port=CLOSED_PORT),
        host_entry(sshd, SPARE, labels={"role": "spare"}),
    ], timeout="2s")
    db_url = f"sqlite:///{tmp / 'fuzz.db'}"
    upgrade(db_url, log=lambda _m: None)
    engine = make_engine(db_url)
    _prefill(engine)
    token = make_token(db_url)
    thread = _HubThread(inventory, engine)
    thread.start()
    assert thread.ready.wait(60) and thread.error is None, f"the hub did not start: {thread.error!r}"
    base = f"http://127.0.0.1:{thread.port}"
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(100):  # the first poll of the live host stored: the latest sample is not empty
        if httpx.get(f"{base}/api/servers/{LIVE}/latest", headers=headers).json()["sample"] is not None:
            break
        time.sleep(0.1)
    yield {"base": base, "headers": headers, "inventory": inventory, "thread": thread}
    thread.stop()
    engine.dispose()


# ------------------------------------------------------------------ generation hooks
_TIMES = st.one_of(st.none(), st.sampled_from(["", "0", "-1", "1e309", "nan", "2026-13-45", "yesterday",
                                              "2026-11-21T10:00:00Z", "2026-11-21T10:00:00+14:00"]),
                   st.floats(NOW - 800 * 86400, NOW + 86400).map(lambda t: f"{t:.3f}"),
                   st.integers(-(2**63), 2**63).map(str))
_METRICS = ["cpu_pct", "mem_used_bytes", "gpu_util_pct", "disk_used_pct", "net_rx_bytes_per_s",
            "util_pct", "temperature_c", "bogus"]


def flatmap_path_parameters(_ctx, path_parameters):
    """Mostly a known host id instead of the generated one (else nearly every request is a 404)."""
    if "host_id" not in (path_parameters or {}):
        return st.just(path_parameters)
    return st.sampled_from([*KNOWN_IDS, None]).map(
        lambda h: path_parameters if h is None else {**path_parameters, "host_id": h})


def flatmap_query(_ctx, query):
    """Half the time known metric names, host ids and plausible (or almost plausible) times."""
    if not isinstance(query, dict):
        return st.just(query)

    @st.composite
    def plausible(draw):
        q = dict(query)
        if "metric" in q:
            q["metric"] = draw(st.sampled_from(_METRICS))
        for key in ("servers", "server_id"):
            if key in q:
                q[key] = ",".join(draw(st.lists(st.sampled_from([*KNOWN_IDS, "nope"]), min_size=1, max_size=3)))
        for key in ("from", "to"):
            if key in q or draw(st.booleans()):
                value = draw(_TIMES)
                if value is None:
                    q.pop(key, None)
                else:
                    q[key] = value
        if "step" in q:
            q["step"] = draw(st.sampled_from(["raw", "minute", "hour", "day", ""]))
        return q

    return st.one_of(st.just(query), plausible())


# host fields for the edits: values the inventory takes, and values it must refuse with a 422
_GOOD = {
    "address": st.sampled_from(["127.0.0.1", "localhost"]),
    "port": st.just(CLOSED_PORT),
    "user": st.sampled_from(["monitor", "fwtest"]),
    "services": st.lists(st.sampled_from(["nginx.service", "cron.service", "ssh.service"]), max_size=2, unique=True),
    "labels": st.dictionaries(st.sampled_from(["env", "role"]), st.sampled_from(["prod", "test", ""]), max_size=2),
    "interval": st.sampled_from(["5s", 10, "1m"]),
    "timeout": st.sampled_from(["1s", 0.5, "2s"]),
    "disks": st.sampled_from(["all", ["/"], ["/", "/data"]]),
    "gpu": st.sampled_from(["auto", "off", "nvidia"]),
    "labels_none": st.none(),
}
_BAD = {
    "id": st.sampled_from(["", "bad id", "a/b", "x" * 300, "-rf"]),
    "address": st.sampled_from(["", "bad host", "-oProxyCommand=touch /tmp/x", "1.2.3.4.5", "a" * 300]),
    "port": st.sampled_from([0, -1, 65536, 2**63]),
    "user": st.sampled_from(["", "root;id", "-l", "a b"]),
    "services": st.lists(st.sampled_from(["a;b", "", "$(id)", "x" * 300]), min_size=1, max_size=2),
    "labels": st.sampled_from([{"bad key": "x"}, {"env": "x" * 1000}, {"": ""}]),
    "interval": st.sampled_from([0, -1, "fast", 1e9, "inf", 1e308]),
    "timeout": st.sampled_from(["0s", "forever", -5]),
    "disks": st.sampled_from(["some", ["relative"], [""]]),
    "gpu": st.sampled_from(["amd", ""]),
    "identity_file": st.sampled_from(["", "\x00"]),
    "known_hosts": st.sampled_from([""]),
    "host_key": st.sampled_from(["junk", "ssh-ed25519 AAAA", "ssh-rsa"]),
    "proxy": st.sampled_from([{"listen": "x"}, {"target": 5}, {"nope": 1}]),
}


@st.composite
def _host_entry(draw, adding: bool):
    """A host entry that the inventory takes, or that with one field spoiled; adds name an id."""
    names = draw(st.sets(st.sampled_from(sorted(_GOOD)), max_size=4))
    entry = {name: draw(_GOOD[name]) for name in names}
    if entry.pop("labels_none", 0) is None:
        entry["labels"] = None  # PUT: back to the default
    if adding or draw(st.integers(0, 5)) == 0:  # an edit renames now and then
        entry["id"] = draw(st.from_regex(r"\Afz-[a-z0-9]{1,6}\Z"))
    if adding:
        entry.setdefault("address", "127.0.0.1")
        entry.setdefault("port", CLOSED_PORT)
    if draw(st.integers(0, 2)) == 0:
        name = draw(st.sampled_from(sorted(_BAD)))
        entry[name] = draw(_BAD[name])
    return entry


def flatmap_body(ctx, body):
    """Adds and edits: mostly a host entry close to a valid one (on loopback, at a port nobody listens
    on, so that the connections the hub then opens fail at once); else the generated body."""
    if ctx.operation is None or ctx.operation.method.upper() not in ("POST", "PUT") or not isinstance(body, dict):
        return st.just(body)
    entry = _host_entry(adding=ctx.operation.method.upper() == "POST")
    return st.integers(0, 3).flatmap(lambda i: st.just(body) if i == 0 else entry)


@pytest.fixture(scope="module")
def api_schema(fuzz_hub):
    """The schema as the running hub serves it, at /openapi.json with the admin token."""
    schema = schemathesis.openapi.from_url(f"{fuzz_hub['base']}/openapi.json", headers=fuzz_hub["headers"],
                                           timeout=30)
    schema.config.update(base_url=fuzz_hub["base"], headers=fuzz_hub["headers"])
    for hook in (flatmap_path_parameters, flatmap_query, flatmap_body):
        schema.hook(hook)
    return schema


lazy = schemathesis.pytest.from_fixture("api_schema")
FUZZ_SETTINGS = settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
CHECKS = [not_a_server_error, response_schema_conformance]


def _is_edit(ctx) -> bool:
    """Adding, changing and removing hosts: these write the inventory."""
    op = ctx.operation
    return op.method.upper() in ("PUT", "DELETE") or (op.method.upper() == "POST" and op.path == "/api/servers")


def _host_failure(case, response) -> bool:
    """A 502/504 of an operation that reaches the host, saying why the host failed (README: REST API)."""
    if case.operation.path not in REACHES_HOST or response.status_code not in (502, 504):
        return False
    try:
        detail = response.json()["detail"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(detail, str) and detail.startswith(HOST_FAILURES)


def _call(case, fuzz_hub) -> None:
    response = case.call(headers=fuzz_hub["headers"], timeout=30)
    if _host_failure(case, response):
        return
    case.validate_response(response, checks=CHECKS, headers=fuzz_hub["headers"])


# read-only first (probe now included): the edits below may remove or break the hosts these look at
@lazy.exclude(_is_edit).parametrize()
@FUZZ_SETTINGS
def test_fuzz_reads(case, fuzz_hub):
    _call(case, fuzz_hub)


@lazy.include(_is_edit).parametrize()
@FUZZ_SETTINGS
def test_fuzz_changes(case, fuzz_hub):
    _call(case, fuzz_hub)


# ------------------------------------------------------------------ what the fuzz found, pinned down
@pytest.mark.parametrize("path", ["/api/events", "/api/history/hourly"])
@pytest.mark.parametrize("offset", [2**63, 4633010741940419297280])
def test_an_offset_past_what_sql_takes_is_400_not_500(fuzz_hub, path, offset):
    """It was an OverflowError from the SQLite driver (a 500)."""
    r = httpx.get(f"{fuzz_hub['base']}{path}", params={"offset": offset}, headers=fuzz_hub["headers"])
    assert r.status_code == 400, r.text
    assert "offset" in r.json()["detail"]
    ok = httpx.get(f"{fuzz_hub['base']}{path}", params={"offset": 2**63 - 1}, headers=fuzz_hub["headers"])
    assert ok.status_code == 200 and ok.json()["rows"] == []


@pytest.mark.parametrize("path, query", [
    ("/api/history/hourly.csv", {}), ("/api/history/hourly", {}), ("/api/events", {}),
    (f"/api/servers/{LIVE}/timeseries", {"metric": "cpu_pct"}), (f"/api/servers/{LIVE}/gpus/timeseries", {}),
    ("/api/compare", {"servers": LIVE, "metric": "cpu_pct"}),
])
@pytest.mark.parametrize("times", [{"to": "-9223372036854775807"}, {"from": "1e300", "to": "2e300"},
                                   {"from": "-100", "to": "-1"}, {"to": "253402300800"}])
def test_a_time_out_of_range_is_400_not_500(fuzz_hub, path, query, times):
    """`to=-9223372036854775807` overflowed the SQLite integer (a 500); times are 1970 to 9999."""
    r = httpx.get(f"{fuzz_hub['base']}{path}", params={**query, **times}, headers=fuzz_hub["headers"])
    assert r.status_code == 400, r.text
    assert "1970" in r.json()["detail"]


def test_edit_errors_match_their_documented_schema(fuzz_hub):
    """422 of an edit: documented as `{"detail": str | [object]}` (it was documented as FastAPI's
    request-validation list only, while the inventory's problems and some checks answer otherwise)."""
    base, headers = fuzz_hub["base"], fuzz_hub["headers"]
    schema = httpx.get(f"{base}/openapi.json", headers=headers).json()
    for method, path in (("post", "/api/servers"), ("put", "/api/servers/{host_id}"),
                         ("delete", "/api/servers/{host_id}")):
        ref = schema["paths"][path][method]["responses"]["422"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/EditError", (method, path)
    r = httpx.post(f"{base}/api/servers", json={"id": "x-1"}, headers=headers)  # no address: a problem
    assert r.status_code == 422 and [p["field"] for p in r.json()["detail"]] == ["address"], r.text
    r = httpx.post(f"{base}/api/servers", json={"id": "x-2", "address": "127.0.0.1", "port": 0}, headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "port"  # the inventory's problems


def test_after_the_fuzz_the_hub_still_answers(fuzz_hub):
    """What the edits left behind still loads and serves; the inventory file still parses."""
    r = httpx.get(f"{fuzz_hub['base']}/api/inventory/status", headers=fuzz_hub["headers"])
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    r = httpx.get(f"{fuzz_hub['base']}/healthz", headers=fuzz_hub["headers"])
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
