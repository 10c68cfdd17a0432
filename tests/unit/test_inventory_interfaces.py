"""`interfaces:` in the inventory: the interfaces a host's network totals count (names or globs)."""
from __future__ import annotations

import pytest

from inventory import load_inventory_text
from tests.unit.test_inventory import host_yaml, one_problem


@pytest.mark.parametrize(("line", "defaults", "expected"), [
    ("", "", None),  # unset: the hub chooses
    ("interfaces: [eth0]", "", ("eth0",)),
    ("interfaces: [bond0, 'en*', 'eth[0-3]', eno1.100, eth0]", "", ("bond0", "en*", "eth[0-3]", "eno1.100", "eth0")),
    ("interfaces: [eth0, eth0]", "", ("eth0",)),  # each once
    ("", "interfaces: ['en*']", ("en*",)),  # inherited
    ("interfaces: [br0]", "interfaces: ['en*']", ("br0",)),  # the host's own list wins
    ("interfaces:", "interfaces: ['en*']", ("en*",)),  # empty in the host: inherit
])
def test_interfaces(line, defaults, expected):
    text = (f"defaults:\n  {defaults}\n" if defaults else "") + host_yaml(line)
    assert load_inventory_text(text).host("gpu-01").interfaces == expected


@pytest.mark.parametrize(("line", "words"), [
    ("interfaces: eth0", 'interfaces must be a list of interface names or globs like [eth0, "en*"], got \'eth0\''),
    ("interfaces: {eth0: true}", "must be a list of interface names or globs"),
    ("interfaces: 3", "must be a list of interface names or globs"),
    ("interfaces: []", "leave it out to let the hub choose"),
    ("interfaces: ['eth0 eth1']", "invalid interface name or glob 'eth0 eth1'"),
    ("interfaces: ['eth0:1']", "invalid interface name or glob"),
    ("interfaces: ['a/b']", "invalid interface name or glob"),
    ("interfaces: ['..']", "invalid interface name or glob"),
    ("interfaces: [abcdefghijklmnop]", "the kernel allows at most 15"),
    ("interfaces: [3]", "expected a string, got the number 3"),
    (f"interfaces: ['{'*' * 65}']", "at most 64"),
])
def test_bad_interfaces_are_one_clear_line(line, words):
    p = one_problem(host_yaml(line))
    assert p.field.startswith("interfaces") and p.line == 4 and words in p.message, str(p)
    assert "\n" not in str(p)
