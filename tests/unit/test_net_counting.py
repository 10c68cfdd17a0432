"""Which interfaces a host's network totals count (issue 17 item 6): bridged traffic once, not twice."""
from __future__ import annotations

import pytest

from collector.net_counting import RULES, counted_interfaces
from collector.parsers import netclass, netdev
from collector.reading import parse_output
from collector.report import build_report

MB = 10**6


def sysfs(compact: str) -> str:
    """The probe's netclass section from "NAME FACT..." lines: every name, then NAME/FACT paths."""
    rows = [line.split() for line in compact.splitlines() if line.strip()]
    return "\n".join([r[0] for r in rows] + [f"{r[0]}/{fact}" for r in rows for fact in r[1:]])


def _probe(uptime: float, net: dict[str, tuple[int, int]], netclass: str | None) -> bytes:
    """A probe output with uptime, /proc/net/dev rows {name: (rx, tx)} and, unless None, a netclass section."""
    dev = "\n".join(f"{n:>6}: {rx} 1 0 0 0 0 0 0 {tx} 1 0 0 0 0 0 0" for n, (rx, tx) in net.items())
    text = (f"<<<uptime>>>\n{uptime:.2f} 1.00\n<<<proc>>>\n==> /proc/net/dev <==\n"
            "Inter-|   Receive\n face |bytes\n" + dev + "\n")
    if netclass is not None:
        text += f"<<<netclass>>>\n{sysfs(netclass)}\n"
    return text.encode()


def _report(before: dict, after: dict, netclass: str | None, seconds: float = 10.0, **kw):
    readings = (parse_output(_probe(100.0, before, netclass), 0, 1.0),
                parse_output(_probe(100.0 + seconds, after, netclass), 0, 1.0 + seconds))
    return build_report("h", readings, **kw)


def test_bridge_over_its_port_counts_the_traffic_once():
    """The reported defect: 100 MB received through br0 (port eth0) was reported as 200 MB."""
    before = {"lo": (0, 0), "eth0": (0, 0), "br0": (0, 0)}
    after = {"lo": (5 * MB, 5 * MB), "eth0": (100 * MB, 10 * MB), "br0": (100 * MB, 10 * MB)}
    report = _report(before, after, "lo\neth0 device brport\nbr0 bridge lower_eth0")
    assert report.net_rx_bps * report.interval_s == 100 * MB
    assert report.net_tx_bps * report.interval_s == 10 * MB


# --- the rule, over what /sys/class/net looks like on real hosts ------------------------------------------

CASES = {
    # name: (netclass section, interfaces in /proc/net/dev, rule, counted)
    "bridge over eth0": ("lo\neth0 device brport\nbr0 bridge lower_eth0", "lo eth0 br0", "physical", "eth0"),
    "bond with two members": (
        "lo\neno1 device bonding_slave\neno2 device bonding_slave\nbond0 bonding lower_eno1 lower_eno2",
        "lo eno1 eno2 bond0", "physical", "bond0"),
    "bond in a bridge, VLAN on the bridge": (
        "eno1 device bonding_slave\neno2 device bonding_slave\nbond0 bonding brport lower_eno1 lower_eno2\n"
        "br0 bridge lower_bond0\nbr0.7 lower_br0", "eno1 eno2 bond0 br0 br0.7", "physical", "bond0"),
    "VLAN": ("lo\neth0 device\neth0.100 lower_eth0", "lo eth0 eth0.100", "physical", "eth0"),
    "macvlan": ("eth0 device\nmacvlan0 lower_eth0", "eth0 macvlan0", "physical", "eth0"),
    "veth not named veth*": ("eth0 device\nlxdbr0 bridge lower_uplink0\nuplink0 brport", "eth0 lxdbr0 uplink0",
                             "physical", "eth0"),
    "docker0 and a veth": ("lo\neth0 device\ndocker0 bridge lower_veth12ab\nveth12ab brport",
                           "lo eth0 docker0 veth12ab", "physical", "eth0"),
    "cni0 with pods": ("ens5 device\ncni0 bridge lower_veth1 lower_veth2\nveth1 brport\nveth2 brport\nflannel.1",
                       "ens5 cni0 veth1 veth2 flannel.1", "physical", "ens5"),
    "Cilium lxc*": ("eth0 device\ncilium_host\ncilium_net\ncilium_vxlan\nlxc1a2b3c4d\nlxc_health",
                    "eth0 cilium_host cilium_net cilium_vxlan lxc1a2b3c4d lxc_health", "physical", "eth0"),
    "Calico vxlan.calico and tunl0": ("lo\nens3 device\nvxlan.calico\ntunl0\ncali12345",
                                      "lo ens3 vxlan.calico tunl0 cali12345", "physical", "ens3"),
    "two NICs and wifi": ("eth0 device\neth1 device\nwlan0 device\nwg0", "eth0 eth1 wlan0 wg0", "physical",
                          "eth0 eth1 wlan0"),
    "a container: its eth0 is a veth": ("lo\neth0", "lo eth0", "virtual", "eth0"),
    "a namespace with a bridge over a veth": ("lo\nmgmt0\nup0 brport\nbr0 bridge lower_up0", "lo mgmt0 up0 br0",
                                              "virtual", "mgmt0 up0"),
    "a container with a bond and a VLAN": ("lo\na bonding_slave\nb bonding_slave\nbond0 bonding lower_a lower_b\n"
                                           "bond0.9 lower_bond0", "lo a b bond0 bond0.9", "virtual", "bond0"),
    "no /sys: by name": ("", "lo eth0 docker0 veth1 br0", "names", "eth0 br0"),
    "listed late: not counted": ("lo\neth0 device", "lo eth0 eth1", "physical", "eth0"),
}


@pytest.mark.parametrize("case", CASES)
def test_counted_interfaces(case):
    section, names, rule, counted = CASES[case]
    result = counted_interfaces(names.split(), netclass.parse(sysfs(section)))
    assert (result.rule, sorted(result.counted)) == (rule, sorted(counted.split()))
    assert rule in RULES


def test_no_netclass_section_counts_by_name_as_before():
    names = "lo eth0 docker0 veth1 br-1 virbr0 cni0 tun0 uplink0 br0".split()
    result = counted_interfaces(names, None)
    assert result.rule == "names"
    assert result.counted == {n for n in names if netdev.is_counted(n)} == {"eth0", "uplink0", "br0"}


@pytest.mark.parametrize("section", [None, "eth0 device brport\nbr0 bridge lower_eth0"])
def test_the_inventory_says_exactly_which(section):
    parsed = None if section is None else netclass.parse(sysfs(section))
    result = counted_interfaces(["lo", "eth0", "br0", "eth1"], parsed, ("br0", "eth[1-9]"))
    assert (result.rule, result.counted) == ("inventory", {"br0", "eth1"})


# --- through the report: each interface says whether it counted --------------------------------------------

def test_every_interface_is_reported_with_whether_it_counted():
    before = {"lo": (0, 0), "eth0": (0, 0), "br0": (0, 0), "vethx": (0, 0)}
    after = {"lo": (10, 10), "eth0": (1000, 500), "br0": (900, 400), "vethx": (100, 100)}
    report = _report(before, after, "lo\neth0 device brport\nbr0 bridge lower_eth0 lower_vethx\nvethx brport")
    assert report.net_counting == "physical"
    assert [(i.name, i.rx_bps, i.tx_bps, i.counted) for i in report.net_interfaces] == [
        ("lo", 1.0, 1.0, False), ("eth0", 100.0, 50.0, True), ("br0", 90.0, 40.0, False),
        ("vethx", 10.0, 10.0, False)]
    assert (report.net_rx_bps, report.net_tx_bps) == (100.0, 50.0)
    d = report.to_dict()
    assert d["net_counting"] == "physical"
    assert d["net_interfaces"][1] == {"name": "eth0", "rx_bps": 100.0, "tx_bps": 50.0, "counted": True}


def test_an_old_probe_without_netclass_counts_by_name():
    before = {"lo": (0, 0), "eth0": (0, 0), "docker0": (0, 0)}
    after = {"lo": (10, 10), "eth0": (1000, 500), "docker0": (900, 400)}
    report = _report(before, after, None)
    assert report.net_counting == "names" and "netclass" not in report.errors
    assert (report.net_rx_bps, report.net_tx_bps) == (100.0, 50.0)
    assert [i.counted for i in report.net_interfaces] == [False, True, False]


def test_the_inventory_overrides_the_probe_through_the_report():
    before = {"eth0": (0, 0), "br0": (0, 0)}
    after = {"eth0": (1000, 500), "br0": (900, 400)}
    report = _report(before, after, "eth0 device brport\nbr0 bridge lower_eth0", interfaces=("br*",))
    assert report.net_counting == "inventory"
    assert (report.net_rx_bps, report.net_tx_bps) == (90.0, 40.0)


def test_a_malformed_netclass_is_a_section_error_and_counting_falls_back_to_names():
    before = {"eth0": (0, 0), "br0": (0, 0)}
    after = {"eth0": (1000, 500), "br0": (1000, 500)}
    report = _report(before, after, "eth0 device brp")  # eth0/brp: cut short
    assert "netclass" in report.errors and report.net_counting == "names"
