"""Parse the ``netclass`` section: what /sys/class/net says about each interface, one line each.

    eth0 device brport
    br0 bridge
    bond0 bonding
    eth1 device bonding_slave
    eth0.100 lower_eth0

The name, then the entries of /sys/class/net/NAME the probe found: `device` (a
physical device behind it), `bonding` (a bond master), `bonding_slave` (a bond
member), `bridge`, `brport` (a bridge port) and `lower_OTHER` (stacked on OTHER:
a VLAN, macvlan, ...). The probe only lists them; which interfaces count is the
hub's decision (collector/net_counting.py). An empty section (no /sys) is valid:
it has no interfaces.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import ParseError, clip
from .registry import Section

FACTS = frozenset({"device", "bonding", "bonding_slave", "bridge", "brport"})
IFNAMSIZ = 16  # the kernel's limit on an interface name, with its NUL


@dataclass(frozen=True, slots=True)
class NetClass:
    """One interface's kind, as facts from sysfs."""

    name: str
    device: bool = False  # physical: a device (PCI, USB, virtio, ...) behind it
    bond_master: bool = False
    bond_member: bool = False
    bridge: bool = False
    bridge_port: bool = False
    lower: tuple[str, ...] = ()  # the interfaces it is stacked on (VLAN, macvlan, vxlan over a device...)


@dataclass(frozen=True, slots=True)
class NetClasses:
    """Every interface /sys/class/net lists, in the probe's order (by name)."""

    interfaces: tuple[NetClass, ...]

    def get(self, name: str) -> NetClass | None:
        for i in self.interfaces:
            if i.name == name:
                return i
        return None


def _valid_name(name: str) -> bool:
    # dev_valid_name: 1-15 bytes, not "." or "..", no '/', ':' or white space (split already took that)
    return 0 < len(name.encode("utf-8", "surrogatepass")) < IFNAMSIZ and name not in (".", "..") \
        and "/" not in name and ":" not in name


def _line(line: str) -> NetClass:
    name, *facts = line.split()
    if not _valid_name(name):
        raise ParseError(f"netclass: not an interface name in {clip(line)}")
    lower = tuple(f[len("lower_"):] for f in facts if f.startswith("lower_"))
    unknown = [f for f in facts if f not in FACTS and not (f.startswith("lower_") and _valid_name(f[6:]))]
    if unknown or len(set(facts)) != len(facts):
        raise ParseError(f"netclass: malformed line {clip(line)}")
    have = set(facts)
    return NetClass(name, "device" in have, "bonding" in have, "bonding_slave" in have, "bridge" in have,
                    "brport" in have, lower)


def parse(text: str) -> NetClasses:
    """One interface per line; an unknown fact (a line cut short) or a name twice is a ParseError."""
    rows = tuple(_line(line) for line in text.splitlines() if line.strip())
    if len({r.name for r in rows}) != len(rows):
        raise ParseError("netclass: an interface is listed twice")
    return NetClasses(rows)


SECTION = Section("netclass", parse)
