"""Parse the ``netclass`` section: what /sys/class/net says about each interface, as paths.

    br0
    eth0
    lo
    br0/bridge
    br0/lower_eth0
    eth0/brport
    eth0/device

Every name in /sys/class/net, then the entries of /sys/class/NAME the probe's
one glob found: `device` (a physical device behind it), `bonding` (a bond
master), `bonding_slave` (a bond member), `bridge`, `brport` (a bridge port) and
`lower_OTHER` (stacked on OTHER: a VLAN, macvlan, or the ports of a bond or a
bridge). The probe only lists them; which interfaces count is the hub's
decision (collector/net_counting.py). An empty section (no /sys) is valid: it has
no interfaces. The glob printed as it is (nothing matched) and `bonding_masters`
(the bonding driver's file beside the interfaces) are no interfaces. An entry
that is the start of a fact ("eth0/dev") is a line cut short: a ParseError; an
entry the hub does not know (a future kernel's) is left aside.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import ParseError, clip
from .registry import Section

FACTS = ("device", "bonding", "bonding_slave", "bridge", "brport")
GLOB = "*/[bdl][eor][inpvw][deio]*"  # the probe's pattern, printed as it is when nothing matches
NOT_INTERFACES = frozenset({"bonding_masters"})
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
    lower: tuple[str, ...] = ()  # the interfaces under it (a VLAN's, a macvlan's; a bond's or a bridge's ports)


@dataclass(frozen=True, slots=True)
class NetClasses:
    """Every interface /sys/class/net lists, in the probe's order."""

    interfaces: tuple[NetClass, ...]

    def get(self, name: str) -> NetClass | None:
        for i in self.interfaces:
            if i.name == name:
                return i
        return None


_NAME = re.compile(r"[^/:\s]{1,15}")  # dev_valid_name, in characters; the byte length is checked apart


def _valid_name(name: str) -> bool:
    # dev_valid_name: 1-15 bytes, not "." or "..", no '/', ':' or white space (one regex: 4x the generator's speed)
    return _NAME.fullmatch(name) is not None and name not in (".", "..") and (
        name.isascii() or len(name.encode("utf-8", "surrogatepass")) < IFNAMSIZ)


def _fact(line: str, fact: str, facts: set[str], lower: list[str]) -> None:
    if fact in FACTS:
        if fact in facts:
            raise ParseError(f"netclass: listed twice: {clip(line)}")
        facts.add(fact)
    elif fact.startswith("lower_"):
        if not _valid_name(fact[6:]):
            raise ParseError(f"netclass: not an interface name in {clip(line)}")
        lower.append(fact[6:])
    elif not fact or any(f.startswith(fact) for f in (*FACTS, "lower_")):
        raise ParseError(f"netclass: line cut short {clip(line)}")


def parse(text: str) -> NetClasses:
    """Names, then NAME/FACT lines (see the module docstring); a line cut short or a name twice is a ParseError."""
    order: list[str] = []
    facts: dict[str, tuple[set[str], list[str]]] = {}
    for line in text.splitlines():
        if not line.strip() or line == GLOB:
            continue
        name, slash, fact = line.partition("/")
        if not _valid_name(name) or "/" in fact:
            raise ParseError(f"netclass: not an interface name in {clip(line)}")
        if name in NOT_INTERFACES:
            continue
        if name not in facts:
            order.append(name)
            facts[name] = (set(), [])
        elif not slash:
            raise ParseError(f"netclass: {clip(name)} listed twice")
        if slash:
            _fact(line, fact, *facts[name])
    return NetClasses(tuple(
        NetClass(n, "device" in f, "bonding" in f, "bonding_slave" in f, "bridge" in f, "brport" in f, tuple(lo))
        for n in order for f, lo in [facts[n]]))


SECTION = Section("netclass", parse)
