"""`/metrics`: the fleet and the hub in Prometheus's text format (prometheus-client).

Read with an API token like the rest of the API (`authorization: credentials:`
in Prometheus's scrape config), or open to anyone who can reach the web with
`serve --metrics-public`. One scrape reads every host's newest report (decoded
only when it changed since the last look, shared with the pages) and the
status rows of the hub's processes; measured at 2,000 hosts in
docs/benchmarks.md ("Prometheus /metrics"). The `fleetwatch_web_*` families
are this web process's own (the live pages' open streams and their bytes,
requests in flight, refusals): each member's web answers for itself.
"""
from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
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


def exposition(fleet, session, web: list[Metric] = ()) -> bytes:
    """The text a scrape gets: the hosts' series (inventory hosts only), the hub's own families and `web`
    (this web process's, `web_families`)."""
    with _no_cyclic_gc():
        return _exposition(fleet, session, web)


def web_families(counts, feed, process: str) -> list[Metric]:
    """This web process's own families: the gate's counts (webapp/gate.py) and the live feed's bytes."""
    def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
        family = GaugeMetricFamily("fleetwatch_web_" + name, doc, labels=["process"])
        family.add_metric([process], value)
        return family
    refused = CounterMetricFamily("fleetwatch_web_refused", "Requests and live-page streams refused with 503 "
                                  "(busy: too many requests in flight; streams: too many live pages open, they poll)",
                                  labels=["process", "reason"])
    refused.add_metric([process, "busy"], counts.refused_busy)
    refused.add_metric([process, "streams"], counts.refused_streams)
    sent = CounterMetricFamily("fleetwatch_web_stream_bytes", "Bytes sent on the live pages' server-sent-event "
                               "streams, as sent (gzip-compressed when the browser accepts it)", labels=["process"])
    sent.add_metric([process], feed.bytes_sent)
    return [gauge("streams_open", "Live pages' server-sent-event streams open now", counts.streams),
            gauge("requests_in_flight", "Requests admitted and not yet answered", counts.in_flight),
            refused, sent]


def _web_process(fleet) -> str:
    """This web's process id as the hub_processes table names it ("local/hub": the web runs inside the hub)."""
    member = getattr(fleet, "member", None)
    return f"{member}/web" if member else "local/hub"


def _exposition(fleet, session, web: list[Metric] = ()) -> bytes:
    now = time.time()
    specs = fleet.specs
    hosts = fleet_state.hosts_now(session, specs, cache=fleet.docs)
    hosts_text = host_text((h.id, h.state, h.report, specs[h.id].labels) for h in hosts.values())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families([*hub_families(fleet_state.metric_sources(session, now), now), *web]))
    return hosts_text.encode() + generate_latest(registry)  # the text format 0.0.4, every Prometheus reads it


@router.get(PATH, response_class=Response, responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {}}}})
def metrics(request: Request, fleet: FleetDep, session: SessionDep) -> Response:
    """Every host's newest values and the hub's own metrics, for Prometheus."""
    state = request.app.state
    web = web_families(state.gate_counts, state.live_feed, _web_process(fleet))
    return Response(exposition(fleet, session, web), media_type=CONTENT_TYPE_PLAIN_0_0_4)
