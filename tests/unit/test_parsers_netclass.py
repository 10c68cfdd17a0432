"""The netclass section (/sys/class/net facts, one interface a line): empty, truncated, malformed and valid."""
from __future__ import annotations

import pytest

from collector.parsers import ParseError, netclass
from collector.parsers.netclass import NetClass

VALID = [
    ("", ()),  # no /sys: no interfaces (the hub then counts by name)
    ("\n\n", ()),
    ("lo", (NetClass("lo"),)),
    ("eth0 device brport\nbr0 bridge lower_eth0",
     (NetClass("eth0", device=True, bridge_port=True), NetClass("br0", bridge=True, lower=("eth0",)))),
    ("bond0 bonding lower_eno1 lower_eno2\neno1 device bonding_slave\neno2 device bonding_slave",
     (NetClass("bond0", bond_master=True, lower=("eno1", "eno2")),
      NetClass("eno1", device=True, bond_member=True), NetClass("eno2", device=True, bond_member=True))),
    ("eth0.100 lower_eth0", (NetClass("eth0.100", lower=("eth0",)),)),
    ("vxlan.calico\ntunl0\nlxc1a2b3c", (NetClass("vxlan.calico"), NetClass("tunl0"), NetClass("lxc1a2b3c"))),
    ("  eth0   device  \n", (NetClass("eth0", device=True),)),  # spacing is not a fact
    ("abcdefghijklmno device", (NetClass("abcdefghijklmno", device=True),)),  # 15 bytes: the longest name
]

BAD = [
    ("eth0 dev", "malformed"),  # cut in the middle of a fact
    ("eth0 device\nbr0 brid", "malformed"),
    ("br0 bridge lower_", "malformed"),  # cut right after lower_
    ("eth0 device device", "malformed"),
    ("eth0 wireless", "malformed"),  # a fact the probe never prints
    ("eth0 device\neth0 device", "twice"),
    ("abcdefghijklmnop", "not an interface name"),  # 16 bytes: longer than the kernel allows
    ("eth0:1 device", "not an interface name"),
    ("../etc device", "not an interface name"),
    (". device", "not an interface name"),
    ("br0 bridge lower_a/b", "malformed"),
]


@pytest.mark.parametrize("text,expected", VALID, ids=[repr(t[:20]) for t, _ in VALID])
def test_valid(text, expected):
    assert netclass.parse(text).interfaces == expected


@pytest.mark.parametrize("text,message", BAD, ids=[repr(t[:20]) for t, _ in BAD])
def test_truncated_or_malformed_is_a_parse_error(text, message):
    with pytest.raises(ParseError, match=message):
        netclass.parse(text)


def test_lookup_by_name():
    parsed = netclass.parse("lo\neth0 device")
    assert parsed.get("eth0") == NetClass("eth0", device=True)
    assert parsed.get("wlan0") is None
