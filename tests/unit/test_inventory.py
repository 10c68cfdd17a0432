"""Inventory models, loader and validator (SPEC section 2)."""

from __future__ import annotations

import base64
import os
import re
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory import (
    DEFAULT_INVENTORY,
    HostSpec,
    Inventory,
    InventoryError,
    Problem,
    ProxyConfig,
    check_inventory,
    default_inventory_path,
    load_inventory,
    load_inventory_text,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "inventory"
EXAMPLE = Path(__file__).parent.parent.parent / "inventory" / "hosts.example.yaml"
HOME_OF = {False: "/home/bob", True: r"C:\Users\bob"}  # what `~` means on POSIX / Windows in these tests


def problems_of(text: str, source: str = "hosts.yaml") -> list[Problem]:
    with pytest.raises(InventoryError) as info:
        load_inventory_text(text, source)
    assert info.value.problems, "InventoryError without problems"
    return info.value.problems


def one_problem(text: str) -> Problem:
    problems = problems_of(text)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def host_yaml(extra: str = "", host_id: str = "gpu-01") -> str:
    """A one-host inventory; `extra` lines are added to the host (indent 4)."""
    return f"hosts:\n  - id: {host_id}\n    address: 10.0.0.11\n" + "".join(f"    {line}\n" for line in extra.splitlines())


def ed25519_line(comment: str = "root@gpu-01") -> str:
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + bytes(range(32))
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} {comment}"


# --------------------------------------------------------------------------- valid files
def test_valid_fixture_resolves_defaults_and_overrides(monkeypatch):
    monkeypatch.setenv("USERPROFILE", r"C:\Users\bob")
    monkeypatch.setenv("HOME", "/home/bob")
    inv = load_inventory(FIXTURES / "valid.yaml")
    assert isinstance(inv, Inventory)
    assert inv.host_ids == ["gpu-01", "web-01", "v6.host_1"]
    gpu, web, v6 = inv.resolved_hosts()

    assert isinstance(gpu, HostSpec)
    assert (gpu.port, gpu.user, gpu.gpu) == (2222, "ops", "nvidia")
    assert gpu.identity_file == Path(r"C:\Users\bob\.ssh\gpu_key")
    assert gpu.known_hosts == Path(HOME_OF[os.name == "nt"]) / ".ssh" / "known_hosts"
    assert (gpu.interval_s, gpu.timeout_s) == (90.0, 2.5)
    assert gpu.disks == ("/", "/data", "/mnt/my disk")  # trailing slash normalised
    assert gpu.services == ("nginx.service", "docker.service", "getty@tty1.service", r"dev-disk-by\x2duuid.device")
    assert gpu.labels == {"env": "prod", "role": "train", "gpus": "8", "spot": "false"}
    assert gpu.proxy == ProxyConfig(enabled=True, remote_listen="127.0.0.1:8080", target="builtin", auto_start=False)
    assert gpu.proxy.builtin_target and gpu.proxy.target_port is None and gpu.proxy.listen_port == 8080

    # everything inherited
    assert (web.port, web.user, web.gpu, web.interval_s, web.timeout_s) == (22, "monitor", "auto", 5.0, 10.0)
    assert web.identity_file == Path(HOME_OF[os.name == "nt"]) / ".ssh" / "id_ed25519"
    assert web.disks == ("/",) and web.services == ("sshd.service",) and web.labels == {}
    assert web.proxy == ProxyConfig() and web.proxy.enabled is False
    assert (web.proxy.listen_host, web.proxy.listen_port) == ("127.0.0.1", 8080)
    assert (web.proxy.target_host, web.proxy.target_port) == ("127.0.0.1", 7879)

    assert v6.address == "2001:db8::1"  # brackets removed
    assert v6.disks == "all"
    assert v6.gpu == "off"  # YAML 1.1 reads `off` as false; understood

    assert inv.alerts[0]["name"] == "high-cpu" and inv.alerts[0]["for"] == "5m"
    assert inv.notifiers["ops"]["type"] == "webhook"
    assert inv.host("web-01") == web


def test_example_inventory_loads():
    inv = load_inventory(EXAMPLE)
    specs = {h.id: h for h in inv.resolved_hosts()}
    assert set(specs) == {"gpu-01", "prod-web-01", "prod-web-02", "nas"}
    assert specs["gpu-01"].gpu == "nvidia" and specs["gpu-01"].proxy.enabled
    assert specs["prod-web-02"].services == ("nginx.service", "ssh.service")  # via the x-web anchor
    assert specs["prod-web-02"].interval_s == 15.0
    assert specs["nas"].disks == "all"
    assert inv.alerts and inv.notifiers
    assert check_inventory(EXAMPLE) == []


def test_hostspec_is_frozen():
    spec = load_inventory_text(host_yaml()).host("gpu-01")
    with pytest.raises(Exception):
        spec.port = 2200  # type: ignore[misc]


def test_unknown_host_lists_known_ids():
    inv = load_inventory_text(host_yaml())
    with pytest.raises(KeyError) as info:
        inv.host("gpu01")
    assert "gpu-01" in str(info.value) and "did you mean" in str(info.value)


def test_merge_keys_and_x_anchor_keys():
    text = (
        "x-base: &base {user: ops, services: [sshd.service]}\n"
        "hosts:\n"
        "  - <<: *base\n"
        "    id: a\n"
        "    address: h1\n"
        "    user: root\n"
    )
    spec = load_inventory_text(text).host("a")
    assert spec.user == "root" and spec.services == ("sshd.service",)


def test_empty_hosts_list_is_an_empty_fleet():
    assert load_inventory_text("hosts: []\n").hosts == []


def test_host_key_pinned():
    spec = load_inventory_text(host_yaml(f'host_key: "{ed25519_line()}"')).host("gpu-01")
    assert spec.host_key == ed25519_line()


def test_proxy_ipv6_and_builtin():
    proxy = ProxyConfig(remote_listen="[::1]:8080", target="builtin")
    assert (proxy.listen_host, proxy.listen_port) == ("::1", 8080)


# --------------------------------------------------------------------------- problems
def test_bad_unit_names_file_line_host_and_field():
    problems = check_inventory(FIXTURES / "bad_unit.yaml")
    assert len(problems) == 1
    p = problems[0]
    assert p.file == str(FIXTURES / "bad_unit.yaml")
    assert (p.line, p.host, p.field) == (10, "gpu-01", "services[1]")
    assert "invalid systemd unit name 'x; rm -rf /'" in p.message and "allowed are" in p.message
    assert str(p) == (
        f"{FIXTURES / 'bad_unit.yaml'}:10: host 'gpu-01': field 'services[1]': invalid systemd unit name "
        "'x; rm -rf /': allowed are letters, digits and :_.@- (and \\xNN escapes)"
    )


HOSTILE_UNITS = [
    "x; rm -rf /",
    "$(touch /tmp/pwned)",
    "`id`",
    "nginx.service\nid",
    "'nginx.service'",
    '"nginx"',
    "--output=/etc/passwd",
    "-H",
    "a" * 300,
    "é.service",
    "../etc",
    "a b",
    "nginx|id",
    "nginx&&id",
    "nginx>x",
    "*",
]


@pytest.mark.parametrize("unit", HOSTILE_UNITS)
def test_hostile_unit_refused_through_loader(unit):
    text = 'hosts:\n  - id: h1\n    address: h1.lan\n    services:\n      - ok.service\n      - %s\n' % _yaml_quote(unit)
    p = one_problem(text)
    assert (p.line, p.host, p.field) == (6, "h1", "services[1]")
    assert "systemd unit name" in p.message


HOSTILE_MOUNTS = [
    "/mnt; rm -rf /",
    "/$(touch /tmp/pwned)",
    "/`id`",
    "/mnt\n/etc",
    "/mnt/'x'",
    '/mnt/"x"',
    "--output=/etc/passwd",
    "/" + "a" * 1100,
    "/mnt/é",
    "../etc",
    "/data/../etc",
    "/data/./x",
    "//etc",
    "/mnt/x ",
    "/mnt/a\tb",
    "relative/path",
    "",
]


@pytest.mark.parametrize("mount", HOSTILE_MOUNTS)
def test_hostile_mount_refused_through_loader(mount):
    text = 'hosts:\n  - id: h1\n    address: h1.lan\n    disks:\n      - /\n      - %s\n' % _yaml_quote(mount)
    p = one_problem(text)
    assert (p.line, p.host, p.field) == (6, "h1", "disks[1]")
    assert "mount point" in p.message


def _yaml_quote(s: str) -> str:
    """Double-quoted YAML scalar for any string."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def test_duplicate_host_id_names_both_lines():
    problems = check_inventory(FIXTURES / "duplicate_id.yaml")
    assert len(problems) == 1
    p = problems[0]
    assert (p.line, p.host, p.field) == (6, "gpu-01", "id")
    assert "line 2" in p.message and "line 6" in p.message


def test_duplicate_mapping_key_refused():
    p = one_problem(host_yaml("port: 22\nport: 2222"))
    assert (p.line, p.host, p.field) == (5, "gpu-01", "port")
    assert "duplicate key 'port'" in p.message and "line 4" in p.message


def test_unknown_key_lists_allowed_keys():
    p = one_problem(host_yaml("servics: [nginx.service]"))
    assert (p.line, p.host, p.field) == (4, "gpu-01", "servics")
    assert "unknown key 'servics'" in p.message and "did you mean 'services'" in p.message
    for key in ("id", "address", "port", "user", "services", "disks", "gpu", "labels", "proxy"):
        assert key in p.message

    p = one_problem(host_yaml("proxy: {enabled: true, listen: '127.0.0.1:1'}"))
    assert p.field == "proxy.listen" and "remote_listen" in p.message and "auto_start" in p.message

    p = one_problem("colour: blue\n" + host_yaml())
    assert (p.line, p.host, p.field) == (1, None, "colour")
    assert "defaults, hosts, alerts, notifiers" in p.message


def test_password_key_refused_with_hint():
    p = one_problem(host_yaml("password: hunter2"))
    assert p.field == "password" and "key authentication" in p.message
    assert "hunter2" not in str(p)


@pytest.mark.parametrize("value", ["soon", "5 seconds", "-5s", "1y", "5S", "true"])
def test_bad_duration(value):
    p = one_problem(host_yaml(f"interval: {value}"))
    assert (p.line, p.host, p.field) == (4, "gpu-01", "interval")
    assert "duration" in p.message


@pytest.mark.parametrize(("field", "value", "words"), [
    ("interval", "500ms", "at least 1s"),
    ("interval", "0", "at least 1s"),
    ("timeout", "0s", "greater than 0"),
])
def test_too_small_interval_and_timeout(field, value, words):
    p = one_problem(host_yaml(f"{field}: {value}"))
    assert p.field == field and words in p.message


@pytest.mark.parametrize("port", ["0", "70000", "-1", "abc", "true", "22.5", "[22]"])
def test_bad_port(port):
    p = one_problem(host_yaml(f"port: {port}"))
    assert (p.line, p.host, p.field) == (4, "gpu-01", "port")
    assert "1 to 65535" in p.message or "whole number" in p.message


def test_defaults_problem_has_no_host():
    p = one_problem("defaults:\n  user: monitor\n  port: 0\n" + host_yaml())
    assert (p.line, p.host, p.field) == (3, None, "defaults.port")


def test_yaml_syntax_error_line():
    problems = check_inventory(FIXTURES / "syntax_error.yaml")
    assert len(problems) == 1
    assert problems[0].line == 7 and "YAML syntax error" in problems[0].message
    assert "line 6" in problems[0].message


def test_tab_indentation_hint():
    p = one_problem("hosts:\n\t- id: a\n")
    assert p.line == 2 and "tabs" in p.message


def test_multiple_problems_reported_at_once():
    problems = check_inventory(FIXTURES / "many_problems.yaml")
    got = [(p.line, p.host, p.field) for p in problems]
    assert got == [
        (2, None, "defaults.interval"),
        (3, None, "defaults.colour"),
        (7, "gpu-01", "port"),
        (8, "gpu-01", "services[1]"),
        (9, "gpu-01", "disks[1]"),
        (11, "web-01", "address"),
        (12, "web-01", "user"),
        (13, "web-01", "labels.bad key"),
        (14, "web-01", "proxy.remote_listen"),
        (17, "db-01", "address"),
        (18, "db-01", "timeout"),
        (19, None, "hosts[3].id"),
    ]
    with pytest.raises(InventoryError) as info:
        load_inventory(FIXTURES / "many_problems.yaml")
    text = str(info.value)
    assert text.startswith(f"12 problems in {FIXTURES / 'many_problems.yaml'}:")
    assert isinstance(info.value, ValueError)


def test_missing_file(tmp_path):
    problems = check_inventory(tmp_path / "nope.yaml")
    assert len(problems) == 1 and "file not found" in problems[0].message
    assert problems[0].file == str(tmp_path / "nope.yaml")


def test_empty_file_means_no_hosts():
    problems = check_inventory(FIXTURES / "empty.yaml")
    assert len(problems) == 1 and "no hosts" in problems[0].message
    assert "no hosts" in one_problem("# just a comment\n").message
    assert "no hosts" in one_problem("defaults: {user: monitor}\n").message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(text):
    p = one_problem(text)
    assert p.line == 1 and "top level must be a mapping" in p.message


def test_host_entry_not_a_mapping():
    p = one_problem("hosts:\n  - gpu-01\n")
    assert (p.line, p.field) == (2, "hosts[0]") and "'id' and 'address'" in p.message


def test_missing_address():
    p = one_problem("hosts:\n  - id: gpu-01\n")
    assert (p.line, p.host, p.field) == (2, "gpu-01", "address") and "missing" in p.message


def test_not_utf8(tmp_path):
    path = tmp_path / "hosts.yaml"
    path.write_bytes(b"hosts:\n  - id: a\n    address: b\n    labels: {owner: \"\xe9t\xe9\"}\n")
    problems = check_inventory(path)
    assert len(problems) == 1 and problems[0].line == 4 and "UTF-8" in problems[0].message


def test_utf8_bom_accepted(tmp_path):
    path = tmp_path / "hosts.yaml"
    path.write_bytes("\ufeff".encode() + host_yaml().encode())
    assert load_inventory(path).host_ids == ["gpu-01"]


def test_python_tags_refused():
    for text in ["hosts: !!python/object/apply:os.system ['id']\n", "hosts: [!!python/name:os.system x]\n"]:
        p = one_problem(text)
        assert p.line == 1 and "YAML error" in p.message


def test_a_scalar_that_does_not_fit_its_explicit_tag_is_a_yaml_error_with_its_line():
    """`!!int x` made PyYAML's constructor raise ValueError (AttributeError for !!timestamp, KeyError for !!bool)
    straight out of the loader: a traceback instead of a problem with a line."""
    for tag in ("int", "float", "timestamp", "bool"):
        for text in (f"hosts:\n  - {{id: a, address: 10.0.0.1, port: !!{tag} x}}\n", f"hosts:\n  - {{!!{tag} x: 1}}\n"):
            p = one_problem(text)
            assert p.line == 2 and p.message == f"YAML error: 'x' is not a valid !!{tag} value", (text, p)


def test_recursive_alias_and_alias_bomb_refused():
    assert "recursive" in one_problem("hosts: &a [*a]\n").message
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 9):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]\n"
    assert "YAML" in one_problem(bomb + "hosts: []\n").message


@pytest.mark.parametrize(("line", "defaults", "expected"), [
    ("disks: all", "", "all"),
    ("disks: all+tmpfs", "", "all+tmpfs"),
    ("disks: ' ALL+TmpFS '", "", "all+tmpfs"),
    ("", "disks: all+tmpfs", "all+tmpfs"),  # inherited
    ("disks: ['/']", "disks: all+tmpfs", ("/",)),  # the host's own list wins
])
def test_disks_all_and_all_plus_tmpfs(line, defaults, expected):
    from collector.prober import probe_args

    text = (f"defaults:\n  {defaults}\n" if defaults else "") + host_yaml(line)
    spec = load_inventory_text(text).host("gpu-01")
    assert spec.disks == expected
    args = probe_args(spec)
    assert ("-a" in args and "-m" not in args) if isinstance(expected, str) else args[-2:] == ["-m", "/"]


@pytest.mark.parametrize(("value", "words"), [
    ("on", "YAML reads a bare on/yes/true"),
    ("amd", '"auto", "off" or "nvidia"'),
])
def test_bad_gpu(value, words):
    p = one_problem(host_yaml(f"gpu: {value}"))
    assert p.field == "gpu" and words in p.message


@pytest.mark.parametrize(("line", "field", "words"), [
    ("disks: /data", "disks", 'disks must be "all", "all+tmpfs" or a list of mount points'),
    ("disks: tmpfs", "disks", '"all", "all+tmpfs" or a list'),
    ("disks: all tmpfs", "disks", '"all", "all+tmpfs" or a list'),
    ("services: nginx.service", "services", "expected a list"),
    ("labels: {'a b': x}", "labels.a b", "invalid label key"),
    ("labels: {env: [prod]}", "labels.env", "string or a number"),
    ("user: 'root; id'", "user", "invalid user name"),
    ("identity_file: ~/.ssh/id_ed25519.pub", "identity_file", "private key"),
    ("host_key: 'ssh-ed25519 AAAA'", "host_key", "host_key"),
    ("host_key: 'not a key'", "host_key", "OpenSSH public key"),
    ("proxy: {target: 'localhost'}", "proxy.target", "HOST:PORT"),
    ("proxy: {remote_listen: '::1:8080'}", "proxy.remote_listen", "brackets"),
    ("proxy: {enabled: maybe}", "proxy.enabled", "true or false"),
    ("proxy: {target: builtin, allow: pypi.org}", "proxy.allow", "must be a list"),
    ("proxy: {target: builtin, allow: ['https://pypi.org']}", "proxy.allow", "no scheme"),
    ("proxy: {target: builtin, allow: ['pypi.org:99999']}", "proxy.allow", "1-65535"),
    ("proxy: {allow: ['pypi.org:443']}", "proxy", 'only to target "builtin"'),
    ("id: 'bad id'", "id", "duplicate key"),
])
def test_field_problems(line, field, words):
    p = one_problem(host_yaml(line))
    assert p.field == field and p.line == 4 and words in p.message, str(p)


@pytest.mark.parametrize("host_id", ["bad id", "-lead", "a" * 64, "é", "a/b", "a;b"])
def test_bad_host_id(host_id):
    p = one_problem(f"hosts:\n  - id: {_yaml_quote(host_id)}\n    address: h\n")
    assert p.field == "id" and p.line == 2 and "invalid host id" in p.message


def test_numeric_host_id_must_be_quoted():
    p = one_problem("hosts:\n  - id: 01\n    address: h\n")
    assert p.field == "hosts[0].id" and "expected a string" in p.message


@pytest.mark.parametrize("address", ["-oProxyCommand=x", "a b", "10.0.0.256", "host;id", "$(id)", "[::1", "a..b", ""])
def test_bad_address(address):
    p = one_problem(f"hosts:\n  - id: h\n    address: {_yaml_quote(address)}\n")
    assert (p.line, p.host, p.field) == (3, "h", "address")


# --------------------------------------------------------------------------- paths
def test_default_inventory_path(monkeypatch, tmp_path):
    monkeypatch.delenv("FLEETWATCH_INVENTORY", raising=False)
    assert default_inventory_path() == DEFAULT_INVENTORY == Path("inventory/hosts.yaml")
    monkeypatch.setenv("FLEETWATCH_INVENTORY", str(tmp_path / "fleet.yaml"))
    assert default_inventory_path() == tmp_path / "fleet.yaml"
    (tmp_path / "fleet.yaml").write_text(host_yaml(), encoding="utf-8")
    assert load_inventory().host_ids == ["gpu-01"]
    assert check_inventory() == []


def test_home_and_userprofile_expansion(monkeypatch):
    monkeypatch.setenv("HOME", "/home/alice")
    monkeypatch.setenv("USERPROFILE", r"C:\Users\alice")
    monkeypatch.setenv("KEYS", "/srv/keys")
    text = (
        "defaults:\n  identity_file: '%USERPROFILE%\\.ssh\\id_ed25519'\n  known_hosts: ~/.ssh/known_hosts\n"
        + host_yaml()
        + "  - id: b\n    address: b\n    identity_file: ${KEYS}/b_key\n    known_hosts: $KEYS/known\n"
    )
    inv = load_inventory_text(text)
    a, b = inv.resolved_hosts()
    assert a.identity_file == Path(r"C:\Users\alice\.ssh\id_ed25519")
    home = r"C:\Users\alice" if os.name == "nt" else "/home/alice"
    assert a.known_hosts == Path(home) / ".ssh" / "known_hosts"
    assert b.identity_file == Path("/srv/keys/b_key") and b.known_hosts == Path("/srv/keys/known")


# --------------------------------------------------------------------------- robustness
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("hosts:- id[]{},'\"&*!|>#\n\t 01ab.@$;%\\")), max_size=120))
def test_garbage_never_escapes_as_raw_exception(text):
    try:
        load_inventory_text(text, "fuzz.yaml")
    except InventoryError as exc:
        assert all(isinstance(p, Problem) and p.file == "fuzz.yaml" for p in exc.problems)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=20), min_size=1, max_size=4))
def test_any_service_list_is_validated_or_refused(units):
    body = "services: [" + ", ".join(_yaml_quote(u) for u in units) + "]"
    try:
        spec = load_inventory_text(host_yaml(body)).host("gpu-01")
    except InventoryError:
        return
    for unit in spec.services:  # whatever got through is shell-inert
        assert re.fullmatch(r"[A-Za-z0-9:_.@\\-]+", unit) and not unit.startswith("-"), unit


def test_control_character_line():
    p = one_problem("hosts:\n  - id: a\x07b\n    address: h\n")
    assert p.line == 2 and "control character" in p.message


def test_pure_python_loader_matches_libyaml():
    from inventory import yaml_lines

    text = (FIXTURES / "valid.yaml").read_text(encoding="utf-8") + (
        "x-a: &a {user: ops}\n"
    )
    pure = yaml_lines.LineLoader(text)
    data = pure.load_with_lines()
    assert (data, pure.lines, pure.issues) == yaml_lines.read_yaml_with_lines(text)
    assert pure.lines[("hosts", 0, "services", 1)] == 21


def test_problem_to_dict():
    p = Problem("h.yaml", 3, "gpu-01", "port", "bad")
    assert p.to_dict() == {
        "file": "h.yaml", "line": 3, "host": "gpu-01", "field": "port", "message": "bad",
        "text": "h.yaml:3: host 'gpu-01': field 'port': bad",
    }
    assert str(Problem("h.yaml", None, None, "", "file not found")) == "h.yaml: file not found"


def test_proxy_allowlist_is_read_lowercased_and_parsed():
    proxy = ProxyConfig(target="builtin", allow=["PyPI.org:443", " *.example.com ", "*:80"])
    assert proxy.allow == ("pypi.org:443", "*.example.com", "*:80")
    rules = proxy.allowlist
    assert rules.allows("pypi.org", 443) and not rules.allows("pypi.org", 22)
    assert rules.allows("a.example.com", 8443) and rules.allows("anything", 80)
    assert ProxyConfig(target="builtin").allowlist is None  # unset: any destination
    assert not ProxyConfig(target="builtin", allow=[]).allowlist.allows("pypi.org", 443)  # empty: nothing


@pytest.mark.parametrize(("value", "seconds"), [(None, 30.0), ("1m", 60.0), ("off", 0.0), ("false", 0.0),
                                                ("5s", 5.0)])
def test_gpu_processes_setting(value, seconds):
    extra = "" if value is None else f"gpu_processes: {value}"
    assert load_inventory_text(host_yaml(extra)).host("gpu-01").gpu_processes_s == seconds


@pytest.mark.parametrize(("value", "says"), [("2s", "at least 5s"), ("often", 'like "30s"')])
def test_gpu_processes_refused_in_one_line(value, says):
    p = one_problem(host_yaml(f"gpu_processes: {value}"))
    assert "gpu_processes" in str(p) and says in str(p) and "\n" not in str(p)
