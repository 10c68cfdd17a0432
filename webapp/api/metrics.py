"""`/metrics`: the fleet and the hub in Prometheus's text format (prometheus-client).

Read with an API token like the rest of the API (`authorization: credentials:`
in Prometheus's scrape config), or open to anyone who can reach the web with
`serve --metrics-public`. One scrape reads every host's newest report (decoded
only when it changed since the last look, shared with the pages) and the
status rows of the hub's processes; measured at 2,000 hosts in
docs/benchmarks.md ("Prometheus /metrics").
"""
from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.core import Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector, CollectorRegistry

from schema import fleet as fleet_state
from webapp.deps import FleetDep, SessionDep
from webapp.prometheus_hosts import host_text
from webapp.prometheus_hub import hub_families

router = APIRouter(tags=["metrics"])
PATH = "/metrics"


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """A scrape at 2,000 hosts decodes their reports (about a million small objects): the cyclic garbage
    collector then ran a full collection in every other scrape, 110 ms of a 180 ms scrape (measured with
    benchmarks/metrics_scrape.py). Nothing a scrape builds holds a cycle, so reference counting frees it
    all; the collector is paused for the scrape and resumed after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def exposition(fleet, session) -> bytes:
    """The text a scrape gets: the hosts' series (inventory hosts only) and the hub's own families."""
    with _no_cyclic_gc():
        return _exposition(fleet, session)


def _exposition(fleet, session) -> bytes:
    now = time.time()
    specs = fleet.specs
    hosts = fleet_state.hosts_now(session, specs, cache=fleet.docs)
    hosts_text = host_text((h.id, h.state, h.report, specs[h.id].labels) for h in hosts.values())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(hub_families(fleet_state.metric_sources(session, now), now)))
    return hosts_text.encode() + generate_latest(registry)  # the text format 0.0.4, every Prometheus reads it


@router.get(PATH, response_class=Response, responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}}})
def metrics(request: Request, fleet: FleetDep, session: SessionDep) -> Response:
    """Every host's newest values and the hub's own metrics, for Prometheus."""
    return Response(exposition(fleet, session), media_type=CONTENT_TYPE_PLAIN_0_0_4)
