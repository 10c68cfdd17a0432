"""The inventory's and the schema's English messages, translated on the web side by pattern
(webapp/inventory_words.py, webapp/schema_words.py): each template matches a message the code really
produces, the Chinese leaves no English words beyond the values, English and unknown messages pass through."""
from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

from inventory import patterns
from inventory.allowlist import parse_allowlist
from inventory.durations import parse_duration
from inventory.edit_checks import check_entry, entry_problems
from inventory.errors import HostExists, HostNotFound, InventoryConflict, InventoryError
from inventory.loader import load_inventory, load_inventory_text
from inventory.paths import KeyFolders
from schema import history
from schema import timeseries as ts
from webapp import i18n
from webapp.inventory_edits import EditQueued
from webapp.inventory_words import PROBLEMS, TEMPLATES, VALUES, translate_problem
from webapp.server_form import parse_host_form
from webapp.pages.compare import unit_word
from webapp.schema_words import ERRORS, TEMPLATES as SCHEMA_TEMPLATES, translate_error

# technical words that stay as they are in Chinese (names, formats, examples)
KEPT = {"IPv", "OpenSSH", "base", "systemd", "ssh", "ed", "AAAAC", "Nza", "xNN", "all", "tmpfs",
        "data", "auto", "off", "nvidia", "true", "false", "key", "dir", "DIR", "serve", "ms", "GPU", "ID",
        # formats, protocols, the keys of the file and the examples a message quotes
        "YAML", "UTF", "HTTP", "CONNECT", "TCP", "HOST", "PORT", "builtin", "hosts", "id", "address", "identity_file",
        "identity", "file", "fleetwatch", "smi", "eth", "en", "allow", "target", "remote_listen", "remote", "listen",
        "pypi", "org", "example", "com", "on", "yes", "CPU"}


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


def _loaded(text: str) -> list[str]:
    """The loader's problems with this file's text."""
    with pytest.raises(InventoryError) as info:
        load_inventory_text(text, "hosts.yaml")
    return [p.message for p in info.value.problems]


def _host(fields: str) -> list[str]:
    return _loaded(f"hosts:\n  - {{id: a, address: 10.0.0.1, {fields}}}\n")


def _file(data: bytes | None) -> list[str]:
    """The loader's problems with a file holding these bytes (None: no file)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "hosts.yaml"
        if data is not None:
            path.write_bytes(data)
        with pytest.raises(InventoryError) as info:
            load_inventory(path)
    return [p.message for p in info.value.problems]


def _alias_bomb() -> str:
    lines = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 7)]
    return "\n".join(lines) + "\n"


def file_messages() -> list[str]:
    """The loader's own messages about the file as a whole, its YAML and its structure."""
    return [
        *_file(None), *_file(b"hosts: \xff\n"), *_loaded(""), *_loaded("5\n"), *_loaded("- a\n- b\n"),
        *_loaded("defaults: {}\n"), *_loaded("hosts: [5]\n"), *_loaded("hosts: {a: 1, a: 2}\n"),
        *_loaded("hosts:\n  - id: a\n    address: b\n  - id: a\n    address: c\n"),
        *_loaded("hosts:\n  - {id: a, address: b}\n\tx: 1\n"), *_loaded("hosts: [\n"), *_loaded("a: b: c\n"),
        *_loaded("a: 'x\x01'\n"), *_loaded("a: " + "[" * 3000 + "]" * 3000 + "\n"), *_loaded("a: &a [*a]\n"),
        *_loaded(_alias_bomb()), *_loaded("a: !!python/tuple [1]\n"), *_loaded("a: !foo x\n"),
        *_loaded("hosts:\n  - id: a\n    address: 10.0.0.1\n    labels: {[1]: 2}\n"),
        *_loaded("hosts:\n  - id: a\n    address: 10.0.0.1\n    <<: 5\n"),
        *_host("password: x"), *_host("user: 5"), *_host("proxy: {enabled: maybe}"), *_host("proxy: 5"),
    ]


def field_messages() -> list[str]:
    """gpu, gpu_processes, interfaces and the proxy's messages, as the loader reports them."""
    return [
        *_host("gpu: yes"), *_host("gpu_processes: 2s"), *_host("gpu_processes: fast"),
        *_host("gpu_processes: -1s"), *_host("interfaces: eth0"), *_host("interfaces: []"),
        *_host("interfaces: ['a b']"), *_host("interfaces: [abcdefghijklmnopq]"),
        *_host("interfaces: ['" + "a*" * 40 + "']"),
        *_host("proxy: {remote_listen: x}"), *_host("proxy: {remote_listen: '::1:80'}"),
        *_host("proxy: {remote_listen: 'h:99999'}"), *_host("proxy: {remote_listen: 'bad..addr:80'}"),
        *_host("proxy: {target: x}"), *_host("proxy: {target: 'bad..addr:80'}"),
        *_host("proxy: {target: '1.2.3.999:80'}"), *_host("proxy: {allow: x}"), *_host("proxy: {allow: [x]}"),
        *[_host(f"proxy: {{target: builtin, allow: [{item}]}}")[0]
          for item in ("5", "''", "'http://x'", "'[::1'", "'x:99999'", "':80'")],
        _raised(parse_allowlist, "x"),
        InventoryConflict("hosts.yaml", "a", "it changed 5 times in a row while saving").problems[0].message,
        InventoryConflict("hosts.yaml", "a", "unknown host 'a'; known hosts: (none)").problems[0].message,
        "the edit was saved, but another program rewrote the inventory file at the same moment and its version "
        "could not be merged; it is kept in /etc/fleetwatch/hosts.yaml.conflict: merge it by hand",  # writer.py
    ]


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
    return out + file_messages() + field_messages()


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


def _leaves(table, values: dict[str, str], used: set[str]) -> list[str]:
    """The values as they stand in the Chinese: a value the table words itself (a described YAML value, a
    message inside the message, whose template counts as used) stands for the values inside it."""
    out = []
    for name, value in values.items():
        inner = None
        if table is PROBLEMS and name == "value":
            inner = VALUES.match(value)
        elif table is PROBLEMS and name == "problem":
            inner = PROBLEMS.match(value)
            used.add(inner[0] if inner else "")
        out += [value] if inner is None else _leaves(table, inner[1], used)
    return out


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
            assert not _english_left(zh, _leaves(table, values, used)), (message, zh)
    finally:
        i18n.deactivate(token)
    return set(templates) - used - {""}


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


def test_values_described_in_words_read_as_chinese():
    token = i18n.activate("zh")
    try:
        assert translate_problem("expected a string, got the number 5") == "应为字符串，实际为数字 5"
        assert translate_problem("expected a list, got the string 'nginx'") == "应为列表，实际为字符串 'nginx'"
        assert translate_problem("expected true or false, got the boolean true") == "应为 true 或 false，实际为布尔值 true"
        assert translate_problem("expected a mapping (key: value), got a list") == "应为映射（键: 值），实际为列表"
        assert translate_problem("expected a list, got a mapping") == "应为列表，实际为映射"
        assert translate_problem("expected a string, got nothing (an empty value)") == "应为字符串，实际为空值"
        # a value that is not a description stays as it is
        assert translate_problem("port must be a whole number from 1 to 65535, got 'abc'") == \
            "端口须为 1 到 65535 之间的整数，实际为 'abc'"
        assert translate_problem(_host("user: [x]")[0]) == "应为字符串，实际为列表"
        # a message inside a message is translated too
        zh = translate_problem(_host("proxy: {target: 'bad..addr:80'}")[0])
        assert zh.startswith("target 'bad..addr:80' 无效：地址 'bad..addr' 无效：") and zh.endswith("HTTP CONNECT 代理）")
        assert translate_problem(_host("gpu: on")[0]) == \
            'GPU 须为 "auto"、"off" 或 "nvidia"，实际为 True（YAML 会把不加引号的 on/yes/true 读作布尔值）'
    finally:
        i18n.deactivate(token)
    assert translate_problem("expected a string, got the number 5") == "expected a string, got the number 5"


def test_the_server_form_words_a_bad_port_and_a_described_value_in_chinese():
    """The Servers form: a port typed as text is the form's own check; a value of the wrong kind is the inventory's
    ("got the string 'nginx'"), beside its field in Chinese."""
    token = i18n.activate("zh")
    try:
        form = parse_host_form({"id": ["h1"], "address": ["10.0.0.1"], "port": ["abc"]}, editing=False)
        assert form.errors["port"] == "端口须为 1 到 65535 的整数，而不是 'abc'"
        form.add_problems(entry_problems({"id": "h1", "address": "10.0.0.1", "services": "nginx", "user": 5}, "form"))
        assert form.errors["services"] == "应为列表，实际为字符串 'nginx'"
        assert form.errors["user"] == "应为字符串，实际为数字 5"
        assert not any(re.search(r"the (string|number)|got ", message) for message in form.errors.values())
    finally:
        i18n.deactivate(token)


def test_edit_queued_is_english_for_the_api_and_chinese_on_the_page():
    exc = EditQueued("hub-b", 15.0)
    english = ("the inventory belongs to member hub-b, which has not applied the edit within 15 s; it stays queued "
               "and is applied as soon as hub-b (or the member that takes over) can")
    assert str(exc) == english and exc.worded() == english and (exc.owner, exc.wait_s) == ("hub-b", 15.0)
    token = i18n.activate("zh")
    try:
        assert str(exc) == english  # the API's detail
        assert exc.worded() == "清单由成员 hub-b 管理，它在 15 秒内没有应用这次修改；修改仍在队列中，hub-b（或接管的成员）一有机会就会应用"
    finally:
        i18n.deactivate(token)


def test_a_failed_delete_says_why_in_the_page_language():
    """/servers/{id}/delete's "could not delete %(host)s: %(error)s": the error in Chinese where the hub words it."""
    from inventory.errors import Problem
    from webapp.pages.servers import _worded

    bad = InventoryError([Problem("hosts.yaml", 3, "a", "services", "expected a list, got the string 'x'")])
    assert _worded(bad) == str(bad) == "hosts.yaml:3: host 'a': field 'services': expected a list, got the string 'x'"
    token = i18n.activate("zh")
    try:
        assert _worded(bad) == "services: 应为列表，实际为字符串 'x'"
        assert _worded(HostNotFound("a", [])) == "未知主机 'a'；目前没有主机"
        assert _worded(EditQueued("hub-b", 15.0)).startswith("清单由成员 hub-b 管理")
        assert _worded(OSError("No space left on device")) == "No space left on device"  # the system's own words
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
