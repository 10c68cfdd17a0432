"""Parse the ``net`` section: /proc/net/dev."""
from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from . import ParseError, clip, to_ints

# Loopback, container and VM plumbing: their traffic is already counted on (or
# never leaves through) a physical interface.
DEFAULT_EXCLUDED = (
    "lo", "veth*", "docker*", "br-*", "virbr*", "vnet*", "cni*", "flannel*",
    "cali*", "ifb*", "tun*", "tap*",
)


@dataclass(frozen=True, slots=True)
class NetDev:
    """Counters of one interface since it came up."""

    name: str
    rx_bytes: int
    rx_packets: int
    rx_errs: int
    rx_drop: int
    tx_bytes: int
    tx_packets: int
    tx_errs: int
    tx_drop: int


@dataclass(frozen=True, slots=True)
class NetDevs:
    """All interfaces, in the kernel's order."""

    interfaces: tuple[NetDev, ...]


def is_counted(name: str, excluded: tuple[str, ...] = DEFAULT_EXCLUDED) -> bool:
    """True when the interface's traffic counts towards the host's totals."""
    return not any(fnmatchcase(name, pattern) for pattern in excluded)


def _line(line: str) -> NetDev:
    # Interface names cannot contain ':' (dev_valid_name), and the first counter
    # may be glued to the colon: "eth0:12345678 ...".
    name, _, rest = line.partition(":")
    nums = to_ints(rest.split())
    if not name.strip() or len(nums) < 16 or None in nums:
        raise ParseError(f"net: malformed line {clip(line)}")
    rx, tx = nums[0:4], nums[8:12]
    return NetDev(name.strip(), *rx, *tx)  # type: ignore[arg-type]


def parse(text: str) -> NetDevs:
    """Parse the interface lines; the two header lines are recognised by their '|'."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ParseError("net: empty")
    return NetDevs(tuple(_line(line) for line in lines if "|" not in line))
