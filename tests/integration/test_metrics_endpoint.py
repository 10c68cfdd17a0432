"""Prometheus `/metrics`: the catalogue's families over the fleet, read by prometheus-client's own parser and
scraped end to end by a real Prometheus server (Debian's package) from a real `fleetwatch serve`."""
from __future__ import annotations

import os
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from collector.metrics.catalogue import CATALOGUE
from webapp.prometheus_hosts import host_text, label_name

REPORT = {
    "cpu_pct": 12.5, "cpu_count": 8, "load1": 0.5, "mem_used_bytes": 2**30, "mem_total_bytes": 2**33,
    "mem_used_pct": 12.5, "uptime_s": 3600.0, "net_rx_bps": None,
    "disks": [{"mount": "/", "used_bytes": 10, "total_bytes": 100, "used_pct": 10.0, "avail_bytes": 90}],
    "gpus": [{"index": 0, "uuid": "GPU-abc", "util_pct": 37.0, "mem_used_mb": 2.0, "mem_total_mb": 4.0,
              "mem_used_pct": 50.0, "temperature_c": 85.0, "power_w": None, "vendor": "nvidia"},
             {"index": 100, "uuid": "83a1c0f4d2b5e617", "util_pct": 98.0, "vendor": "amd"}],
    "services": [{"name": "nginx.service", "active_state": "failed"}],
    "net_interfaces": [{"name": "eth0", "rx_bps": 1000.0, "tx_bps": 10.0, "counted": True},
                       {"name": "br0", "rx_bps": 900.0, "tx_bps": 9.0, "counted": False}],
}


def _parse(text: str) -> dict[str, list]:
    """prometheus-client's own parser: the text must be valid exposition format."""
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_host_families_from_the_catalogue():
    fams = _parse(host_text([("gpu-01", "up", REPORT, {"env": "prod", "rack-row": "3"}),
                             ("down-01", "down", REPORT, {"env": "dev"})]))
    up = {s.labels["host"]: s.value for s in fams["fleetwatch_host_up"]}
    assert up == {"gpu-01": 1.0, "down-01": 0.0}
    cpu = fams["fleetwatch_cpu_busy_percent"]
    assert [(s.labels, s.value) for s in cpu] == [({"host": "gpu-01", "env": "prod", "rack_row": "3"}, 12.5)]
    assert fams["fleetwatch_cpus"][0].value == 8
    assert "fleetwatch_network_receive_bytes_per_second" not in fams or not fams[
        "fleetwatch_network_receive_bytes_per_second"]  # None is absent, never 0
    disk = fams["fleetwatch_filesystem_used_percent"][0]
    assert disk.labels["mount"] == "/" and disk.value == 10.0
    gpu = fams["fleetwatch_gpu_memory_used_bytes"][0]
    assert (gpu.labels["gpu"], gpu.labels["uuid"], gpu.value) == ("0", "GPU-abc", 2.0 * 2**20)  # MiB -> bytes
    assert [(s.labels["gpu"], s.labels["vendor"], s.value) for s in fams["fleetwatch_gpu_utilization_percent"]] == [
        ("0", "nvidia", 37.0), ("100", "amd", 98.0)]
    assert not fams.get("fleetwatch_gpu_power_watts")
    states = {s.labels["state"]: s.value for s in fams["fleetwatch_service_state"]}
    assert states["failed"] == 1.0 and states["active"] == 0.0 and sum(states.values()) == 1.0
    nics = fams["fleetwatch_network_interface_receive_bytes_per_second"]
    assert [(n.labels["interface"], n.labels["counted"], n.value) for n in nics] == [
        ("eth0", "true", 1000.0), ("br0", "false", 900.0)]  # counted: towards the host's totals


def test_every_exported_name_follows_prometheus_conventions():
    names = [m.prom_name for m in CATALOGUE if m.prom]
    assert len(names) == len(set(names))
    for m in CATALOGUE:
        if not m.prom:
            continue
        assert m.prom_name.startswith("fleetwatch_")
        if m.unit in ("bytes", "MiB"):
            assert m.prom_name.endswith("_bytes"), m.name
        if m.unit == "bytes/s":
            assert m.prom_name.endswith("_bytes_per_second"), m.name
        if m.unit == "%":
            assert m.prom_name.endswith("_percent"), m.name
        if m.unit == "s":
            assert m.prom_name.endswith("_seconds"), m.name


def test_label_values_are_escaped_and_every_family_is_described():
    text = host_text([('we"ird\\host\nx', "up", {"cpu_pct": 1.0, "disks": [{"mount": '/a "b"', "used_pct": 2.0}]},
                       {"note": 'say "hi"'})])
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    (sample,) = fams["fleetwatch_cpu_busy_percent"].samples
    assert sample.labels == {"host": 'we"ird\\host\nx', "note": 'say "hi"'}
    assert fams["fleetwatch_filesystem_used_percent"].samples[0].labels["mount"] == '/a "b"'
    assert all(f.type == "gauge" and f.documentation for f in fams.values())


@pytest.mark.parametrize("key, name", [("env", "env"), ("rack-row", "rack_row"), ("host", "label_host"),
                                       ("mount", "label_mount"), ("9lives", "label_9lives"),
                                       ("__x", "label_x"), ("a.b", "a_b")])
def test_inventory_label_keys_become_label_names(key, name):
    assert label_name(key) == name


# --------------------------------------------------------------------------- through a real serve
def _get(url: str, token: str | None) -> tuple[int, str]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_metrics_needs_a_token_and_parses(web_hub):
    status, body = _get(web_hub.url + "/metrics", None)
    assert status == 401 and "token" in body
    status, body = _get(web_hub.url + "/metrics", web_hub.hub.token)
    assert status == 200
    fams = {f.name: f for f in text_string_to_metric_families(body)}
    up = {s.labels["host"]: s.value for s in fams["fleetwatch_host_up"].samples}
    assert up == {"alpha": 1.0, "beta": 1.0, "ghost": 0.0}
    assert {s.labels["host"] for s in fams["fleetwatch_cpu_busy_percent"].samples} <= {"alpha", "beta"}
    assert any(s.labels.get("rack") == "a1" for s in fams["fleetwatch_host_up"].samples)
    assert fams["fleetwatch_probes"].type == "counter"  # the hub's own, per collector process
    assert any(s.value >= 1 for s in fams["fleetwatch_probes"].samples if s.labels.get("result") == "ok")


def test_prometheus_scrapes_the_hub(web_hub, prometheus):
    target = web_hub.url.split("://", 1)[1]
    server = prometheus([target], bearer_token=web_hub.hub.token, scrape_interval="1s")
    series = server.wait_for_samples("fleetwatch_host_up", lambda rows: len(rows) == 3, timeout=60)
    assert {labels["host"]: value for labels, value in series} == {"alpha": 1.0, "beta": 1.0, "ghost": 0.0}
    # after two scrapes the CPU count is there, and right (the test hosts are this machine)
    server.wait_for_samples("count_over_time(fleetwatch_host_up[1m])", lambda rows: rows and min(
        v for _, v in rows) >= 2, timeout=60)
    cpus = dict((labels["host"], value) for labels, value in server.query("fleetwatch_cpus"))
    assert cpus == {"alpha": float(os.cpu_count()), "beta": float(os.cpu_count())}
    # every interface with its rate, and a counted label that selects what the host's totals add up
    nics = server.query("fleetwatch_network_interface_receive_bytes_per_second")
    assert nics and {labels["counted"] for labels, _ in nics} <= {"true", "false"}
    assert {labels["interface"] for labels, _ in nics if labels["counted"] == "false"} >= {"lo"}


def test_serve_metrics_public_opens_metrics_only(tmp_path, sshd):
    """`serve --metrics-public`: Prometheus reads /metrics without a token; the API still wants one."""
    from tests.support.hubproc import HubProcess, host_entry, write_inventory

    inventory = write_inventory(tmp_path / "hosts.yaml", [host_entry(sshd, "solo", gpu="off")])
    hub = HubProcess(inventory, tmp_path / "public.db", extra=["--metrics-public", "--workers", "1"]).start()
    try:
        status, body = _get(hub.url + "/metrics", None)
        assert status == 200, body
        fams = {f.name for f in text_string_to_metric_families(body)}
        assert "fleetwatch_host_up" in fams and "fleetwatch_probes" in fams
        assert _get(hub.url + "/api/servers", None)[0] == 401
    finally:
        hub.stop()
