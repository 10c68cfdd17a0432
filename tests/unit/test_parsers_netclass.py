"""The netclass section (/sys/class/net as paths: names, then NAME/FACT): empty, truncated, malformed and valid."""
from __future__ import annotations

import pytest

from collector.parsers import ParseError, netclass
from collector.parsers.netclass import GLOB, NetClass

VALID = [
    ("", ()),  # no /sys: no interfaces (the hub then counts by name)
    ("\n\n", ()),
    (f"eth0\nlo\n{GLOB}", (NetClass("eth0"), NetClass("lo"))),  # nothing matched the glob: printed as it is
    ("br0\neth0\nlo\nbr0/bridge\nbr0/lower_eth0\neth0/brport\neth0/device",
     (NetClass("br0", bridge=True, lower=("eth0",)), NetClass("eth0", device=True, bridge_port=True),
      NetClass("lo"))),
    ("bond0\nbonding_masters\neno1\neno2\nbond0/bonding\nbond0/lower_eno1\nbond0/lower_eno2\n"
     "eno1/bonding_slave\neno1/device\neno2/bonding_slave\neno2/device",
     (NetClass("bond0", bond_master=True, lower=("eno1", "eno2")),  # bonding_masters: the driver's file
      NetClass("eno1", device=True, bond_member=True), NetClass("eno2", device=True, bond_member=True))),
    ("eth0\neth0.100\neth0.100/lower_eth0\neth0/device",
     (NetClass("eth0", device=True), NetClass("eth0.100", lower=("eth0",)))),
    ("lxc1a2b3c\ntunl0\nvxlan.calico", (NetClass("lxc1a2b3c"), NetClass("tunl0"), NetClass("vxlan.calico"))),
    ("abcdefghijklmno\nabcdefghijklmno/device", (NetClass("abcdefghijklmno", device=True),)),  # 15 bytes: longest
    ("eth0\neth0/device\neth0/dsa_future_entry", (NetClass("eth0", device=True),)),  # unknown entry: left aside
    ("wlan0/device", (NetClass("wlan0", device=True),)),  # a fact before its name: the name is implied
]

BAD = [
    ("eth0\neth0/dev", "cut short"),  # cut in the middle of a fact
    ("br0\nbr0/brid", "cut short"),
    ("br0\nbr0/", "cut short"),
    ("br0\nbr0/lower_", "not an interface name"),  # cut right after lower_
    ("eth0\neth0/device\neth0/device", "listed twice"),
    ("eth0\neth0", "listed twice"),
    ("abcdefghijklmnop", "not an interface name"),  # 16 bytes: longer than the kernel allows
    ("eth0:1", "not an interface name"),
    ("eth 0", "not an interface name"),
    ("..", "not an interface name"),
    ("/device", "not an interface name"),
    ("br0/lower_a/b", "not an interface name"),
]


@pytest.mark.parametrize("text,expected", VALID, ids=[repr(t[:20]) for t, _ in VALID])
def test_valid(text, expected):
    assert netclass.parse(text).interfaces == expected


@pytest.mark.parametrize("text,message", BAD, ids=[repr(t[:20]) for t, _ in BAD])
def test_truncated_or_malformed_is_a_parse_error(text, message):
    with pytest.raises(ParseError, match=message):
        netclass.parse(text)


def test_lookup_by_name():
    parsed = netclass.parse("eth0\nlo\neth0/device")
    assert parsed.get("eth0") == NetClass("eth0", device=True)
    assert parsed.get("wlan0") is None
