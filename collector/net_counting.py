"""Which interfaces a host's network totals count (pure).

The decision (issue 17 item 6): traffic that crosses a bridge, a bond, a VLAN
or a tunnel also crosses the interface under it, so adding every interface up
counts it two or three times (100 MB through br0 over eth0 was 200 MB). The
totals `net_rx_bps` / `net_tx_bps` count each packet once, on the interface
where it enters or leaves the host, chosen in this order:

1. `inventory`: the host's `interfaces:` (names or globs) says exactly which.
2. `physical`: the probe's netclass section lists an interface with a device
   behind it (/sys/class/net/NAME/device): physical interfaces that are not
   bond members, plus bond masters (a bond's traffic once, not once per member
   and once more on the bond). Nothing virtual: bridges, VLANs, veth, macvlan,
   vxlan, tunnels, docker0, cni0, lxc* carry traffic that a physical interface
   carries too, or that never leaves the host.
3. `virtual`: netclass lists no physical interface (a container, a network
   namespace, some VPS): every interface but loopback that is not a bridge, not
   a bond member and not stacked on another (no lower_*: VLAN, macvlan), bond
   masters counted instead of their members. A container's own eth0 (a veth) or
   a bridge's port is counted, the bridge over it is not. Not told apart here: a
   tunnel (tunl0, vxlan) or a nested container's veth bridge port beside the
   uplink; `interfaces:` settles such a host.
4. `names`: no netclass section (an older probe, no /sys): by name, as before
   (collector/parsers/netdev.py DEFAULT_EXCLUDED).

Every interface is still reported with its own rates and whether it counted.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from collector.parsers.netclass import NetClasses
from collector.parsers.netdev import is_counted

# What each rule means, for the host page and `probe`'s text.
RULES = {
    "inventory": "the interfaces the inventory names",
    "physical": "physical interfaces (a bond once, not its members); bridges, VLANs, veth and tunnels left out",
    "virtual": "every interface but loopback, bridges, bond members and stacked ones (VLAN, macvlan): "
               "the host has no physical interface",
    "names": "interfaces by name: loopback, veth*, docker*, br-*, virbr*, cni*, ... left out (a probe without "
             "the netclass section)",
}


@dataclass(frozen=True, slots=True)
class Counting:
    """The interfaces that count, and which rule chose them (a key of RULES)."""

    rule: str
    counted: frozenset[str]


def counted_interfaces(names: Iterable[str], netclass: NetClasses | None,
                       chosen: tuple[str, ...] | None = None) -> Counting:
    """Which of `names` (the interfaces of /proc/net/dev) count towards the host's totals (see the module
    docstring); `netclass` is the parsed section (None without one), `chosen` the inventory's `interfaces:`.
    An interface netclass does not list (it came or went between the two reads) does not count."""
    names = tuple(names)
    if chosen is not None:
        return Counting("inventory", frozenset(n for n in names if any(fnmatchcase(n, g) for g in chosen)))
    if netclass is None or not netclass.interfaces:
        return Counting("names", frozenset(n for n in names if is_counted(n)))
    kinds = {i.name: i for i in netclass.interfaces}
    if any(i.device for i in netclass.interfaces):
        return Counting("physical", frozenset(
            n for n in names if (k := kinds.get(n)) is not None
            and (k.bond_master or (k.device and not k.bond_member))))
    return Counting("virtual", frozenset(
        n for n in names if (k := kinds.get(n)) is not None and n != "lo"
        and (k.bond_master or not (k.bridge or k.bond_member or k.lower))))
