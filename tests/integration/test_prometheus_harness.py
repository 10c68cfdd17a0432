"""The Prometheus test harness (tests/support/prometheus_server.py) against a tiny exporter that wants a bearer
token."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry, Gauge

from tests.support.prometheus_server import Exporter

TOKEN = "s3cret-scrape-token"


@dataclass
class Served:
    gauge: Gauge
    endpoint: Exporter

    @property
    def target(self) -> str:
        return self.endpoint.target


@pytest.fixture
def exporter() -> Iterator[Served]:
    """A registry with one labelled gauge, served behind TOKEN."""
    registry = CollectorRegistry()
    gauge = Gauge("harness_temperature_celsius", "A gauge the test sets", ["room"], registry=registry)
    with Exporter(registry, token=TOKEN) as endpoint:
        yield Served(gauge, endpoint)


def test_scrapes_with_the_bearer_token_and_queries_the_gauge(prometheus, exporter):
    exporter.gauge.labels(room="a").set(21.5)
    exporter.gauge.labels(room="b").set(-3.25)
    prom = prometheus([exporter.target], bearer_token=TOKEN)
    prom.wait_for_samples("harness_temperature_celsius", 2)
    prom.wait_for_samples("count_over_time(up[1m])", lambda r: r and r[0][1] >= 2)  # two scrapes or more
    assert exporter.endpoint.scrapes >= 2 and exporter.endpoint.refused == 0
    values = {labels["room"]: value for labels, value in prom.query("harness_temperature_celsius")}
    assert values == {"a": 21.5, "b": -3.25}
    labels, _ = prom.query('harness_temperature_celsius{room="a"}')[0]
    assert labels["job"] == "fleetwatch" and labels["instance"] == exporter.target
    # a new value shows after the next scrape
    exporter.gauge.labels(room="a").set(30)
    prom.wait_for_samples('harness_temperature_celsius{room="a"}', lambda r: r and r[0][1] == 30.0, timeout=15)
    assert prom.query("up") == [({"__name__": "up", "instance": exporter.target, "job": "fleetwatch"}, 1.0)]
    [target] = prom.targets()
    assert target["health"] == "up" and not target["lastError"]
    assert target["scrapeUrl"] == f"http://{exporter.target}/metrics"
    with pytest.raises(AssertionError, match="bad_data"):  # a bad expression: Prometheus's reason
        prom.query("sum(")


def test_a_wrong_token_is_a_target_error(prometheus, exporter):
    exporter.gauge.labels(room="a").set(1)
    prom = prometheus([exporter.target], bearer_token="not-the-token")
    [target] = prom.wait_for_target("down")
    assert "401" in target["lastError"], target
    assert exporter.endpoint.refused >= 1 and exporter.endpoint.scrapes == 0
    assert prom.query("up") == [({"__name__": "up", "instance": exporter.target, "job": "fleetwatch"}, 0.0)]
    assert prom.query("harness_temperature_celsius") == []
    with pytest.raises(AssertionError, match="401"):  # the timeout message names the target's error
        prom.wait_for_samples("harness_temperature_celsius", 1, timeout=1)


def test_without_a_token_the_exporter_refuses(prometheus, exporter):
    prom = prometheus([exporter.target])
    [target] = prom.wait_for_target("down")
    assert "401" in target["lastError"]


def test_a_missing_prometheus_says_what_to_install(tmp_path, monkeypatch):
    from tests.support import prometheus_server

    monkeypatch.setattr(prometheus_server, "PROMETHEUS", str(tmp_path / "no-prometheus"))
    with pytest.raises(prometheus_server.PrometheusMissing, match=r"apt-get install prometheus.*\.ci/install"):
        prometheus_server.start_prometheus(tmp_path, ["127.0.0.1:1"])
