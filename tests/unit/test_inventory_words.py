"""The inventory's and the schema's English messages, translated on the web side by pattern
(webapp/inventory_words.py, webapp/schema_words.py): each template matches a message the code really
produces, the Chinese leaves no English words beyond the values, English and unknown messages pass through."""
from __future__ import annotations

import re

import pytest

from inventory import patterns
from inventory.durations import parse_duration
from inventory.edit_checks import check_entry, entry_problems
from inventory.errors import HostExists, HostNotFound, InventoryError
from inventory.paths import KeyFolders
from schema import history
from schema import timeseries as ts
from webapp import i18n
from webapp.inventory_words import PROBLEMS, TEMPLATES, translate_problem
from webapp.pages.compare import unit_word
from webapp.schema_words import ERRORS, TEMPLATES as SCHEMA_TEMPLATES, translate_error

# technical words that stay as they are in Chinese (names, formats, examples)
KEPT = {"IPv", "OpenSSH", "base", "systemd", "ssh", "ed", "AAAAC", "Nza", "xNN", "all", "tmpfs",
        "data", "auto", "off", "nvidia", "true", "false", "key", "dir", "DIR", "serve", "ms", "GPU", "ID"}


def _raised(fn, *args) -> str:
    with pytest.raises((ValueError, HostExists, HostNotFound)) as info:
        fn(*args)
    return str(info.value)


def _problems(**values) -> list[str]:
    return [p.message for p in entry_problems({"id": "h1", "address": "10.0.0.1", **values}, "form")]


def _entry_error(entry) -> list[str]:
    with pytest.raises(InventoryError) as info:
        check_entry(entry, "form")
    return [p.message for p in info.value.problems]


def inventory_messages() -> list[str]:
    keys = KeyFolders("/home/u/.ssh", "/var/lib/fleetwatch", ())
    out = [
        *_problems(address="bad..addr"), *_problems(address="1.2.3.999"), *_problems(address="fe80::zz"),
        *_problems(address=""), *_problems(user="9bad"), *_problems(id="-bad"),
        *_problems(identity_file="/x/id.pub"), *_problems(identity_file="a\tb"), *_problems(identity_file=""),
        *_problems(host_key="junk"), *_problems(host_key="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG"),
        *_problems(host_key="ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGxx"),
        *_problems(interval="5x"), *_problems(interval="0.5s"), *_problems(interval="-1s"),
        *_problems(timeout="0s"), *_problems(disks="some"), *_problems(disks=["rel"]),
        *_problems(disks=["/a//b"]), *_problems(disks=["/a "]), *_problems(disks=["/a/../b"]),
        *_problems(disks=["/a$"]), *_problems(disks=["/" + "a" * 1100]),
        *_problems(services=["-x"]), *_problems(services=["a b"]), *_problems(services=[""]),
        *_problems(services=["a" * 300]), *_problems(labels={"9k": "v"}), *_problems(labels={"k": "a\nb"}),
        *_problems(labels={"k": "v" * 300}), *_problems(gpu="maybe"), *_problems(port=0), *_problems(port="x"),
        *_problems(bogus=1), *_problems(adress="x"), *_problems(user=5), *_problems(services="nginx"),
        *_problems(labels=["a"]),
        *[p.message for p in entry_problems({"id": "h1"}, "form")],
        _raised(patterns.validate_host_key, "ssh-ed25519 AAAA com\x01ment"),
        _raised(patterns.validate_label_value, object()),
        _raised(parse_duration, -1),
        "expected true or false, got the string 'maybe'",  # the loader's wording of a bool field (none on the form)
        *_entry_error({"id": "h1", 5: 1}), *_entry_error({"id": "h1", "x": object()}), *_entry_error({"id": ""}),
        keys.problem("identity_file", "/etc/key"), keys.problem("known_hosts", "/etc/kh"),
        str(HostExists("h1")), str(HostNotFound("h1", [])), str(HostNotFound("hx", ["h1", "h2"])),
        str(HostNotFound("h3x", ["h3", "h4"])),
        "the value 'yes' would read back as True", "cannot read file: Permission denied",
    ]
    deep: dict = {}
    inner = deep
    for _ in range(40):
        inner["a"] = {}
        inner = inner["a"]
    out += _entry_error({"id": "h1", "labels": deep})
    return out


def schema_messages() -> list[str]:
    out = []
    for sort in ("-hourr", "zzzz"):
        out.append(_raised(history.parse_sort, sort))
    for metric in ("cpu_pc", "zzzz"):
        out.append(_raised(ts.compare, None, ["h1"], metric, 0, 3600))
    out.append(_raised(ts.check_range, 3600, 0, None))
    out.append(_raised(ts.check_range, 0, 3600, "zz"))
    out.append(_raised(lambda: history.query_hourly(None, start=3600, end=0)))
    return out


def _english_left(text: str, values) -> set[str]:
    values = [*values, *(part for value in values for part in value.split(" or "))]  # "a or b" is worded
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, " ")
    return set(re.findall(r"[A-Za-z]{2,}", text)) - KEPT


def _check(table, messages, templates):
    used = set()
    token = i18n.activate("zh")
    try:
        for message in messages:
            found = table.match(message)
            assert found is not None, f"no template for {message!r}"
            template, values = found
            used.add(template)
            zh = table.translate(message)
            assert zh != message
            assert not _english_left(zh, values.values()), (message, zh)
    finally:
        i18n.deactivate(token)
    return set(templates) - used


def test_every_inventory_template_matches_a_real_message_and_reads_as_chinese():
    unused = _check(PROBLEMS, inventory_messages(), TEMPLATES)
    assert unused == set(), f"templates no real message matched: {unused}"


def test_every_schema_template_matches_a_real_message_and_reads_as_chinese():
    messages = schema_messages()
    messages.append("resolution 'raw' is limited to ranges of 6 h (asked 24.0 h): too many points; use a coarser one")
    unused = _check(ERRORS, messages, SCHEMA_TEMPLATES)
    assert unused == set(), f"templates no real message matched: {unused}"
    token = i18n.activate("zh")
    try:
        assert " or " not in translate_error("unknown sort column 'hourx'; did you mean hour or hour2? allowed: "
                                             "hour (prefix with '-' for descending)")
    finally:
        i18n.deactivate(token)


def test_english_and_unknown_messages_pass_through():
    message = _problems(port=0)[0]
    assert translate_problem(message) == message  # English (the default language)
    token = i18n.activate("zh")
    try:
        assert translate_problem("something the table does not know") == "something the table does not know"
        assert translate_error("something else") == "something else"
        assert translate_problem(message) == "端口须为 1 到 65535 之间的整数，实际为 0"
    finally:
        i18n.deactivate(token)


def test_unit_words():
    assert [unit_word(u) for u in ("count", "load", "bytes/s", "%", "°C", "s")] == \
        ["count", "load", "bytes/s", "%", "°C", "s"]
    token = i18n.activate("zh")
    try:
        assert [unit_word(u) for u in ("count", "load", "state", "%", "°C", "s", "W", "MHz")] == \
            ["个", "负载", "状态", "%", "°C", "s", "W", "MHz"]
    finally:
        i18n.deactivate(token)
