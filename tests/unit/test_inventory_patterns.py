"""Strict patterns, durations and path expansion used by the inventory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from inventory import (
    duration_literal,
    expand_path,
    parse_duration,
    parse_host_port,
    validate_address,
    validate_host_id,
    validate_label_value,
    validate_mount,
    validate_unit,
    validate_user,
)


@pytest.mark.parametrize("unit", [
    "nginx.service", "getty@tty1.service", r"dev-disk-by\x2duuid.device", "docker",
    "systemd-journald.service", "user@1000.service", "a:b_c.mount", "x" * 255,
])
def test_units_accepted(unit):
    assert validate_unit(unit) == unit


@pytest.mark.parametrize("unit", [
    "x; rm -rf /", "$(id)", "$(touch /tmp/pwned)", "`id`", "--help", "--output=/etc/passwd", "-",
    "a b", "a\nb", "nginx.service\n", "é.service", "'x'", '"x"', "x" * 256, "", "../etc", "a/b",
    r"a\x2", r"a\n", "a\tb", "a|b", "a>b", "a&b", "a*", "a\x00b", 5, None,
])
def test_units_refused(unit):
    with pytest.raises(ValueError) as info:
        validate_unit(unit)
    assert "systemd unit name" in str(info.value)


@pytest.mark.parametrize(("mount", "expected"), [
    ("/", "/"), ("/data", "/data"), ("/data/", "/data"), ("/mnt/my disk", "/mnt/my disk"),
    ("/var/lib/docker", "/var/lib/docker"), ("/mnt/a-b_c.d@e+f=g:h,i%j~k", "/mnt/a-b_c.d@e+f=g:h,i%j~k"),
    ("/.hidden", "/.hidden"), ("/" + "a" * 1023, "/" + "a" * 1023),
])
def test_mounts_accepted(mount, expected):
    assert validate_mount(mount) == expected


@pytest.mark.parametrize("mount", [
    "data", "../etc", "/data/../etc", "/data/.", "/./x", "//", "/a//b", "/data//", "/mnt/x ", "/mnt/a\nb", "/mnt/a\tb",
    "/mnt;id", "/$(id)", "/`id`", "/'x'", '/"x"', "/mnt/é", "/" + "a" * 1024, "--output=/etc/passwd", "",
    "/a|b", "/a>b", "/a&b", "/a*", "/a\\b", 7,
])
def test_mounts_refused(mount):
    with pytest.raises(ValueError) as info:
        validate_mount(mount)
    assert "mount point" in str(info.value)


@pytest.mark.parametrize(("value", "seconds"), [
    ("5s", 5.0), ("500ms", 0.5), ("1m", 60.0), ("2h", 7200.0), ("1d", 86400.0), ("1m30s", 90.0),
    ("1h 30m", 5400.0), ("1.5h", 5400.0), (5, 5.0), (2.5, 2.5), ("10", 10.0), ("0s", 0.0), (" 5s ", 5.0),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "s", "5 seconds", "5x", "-5s", -1, "1y", True, None, [5], float("nan"), float("inf"), "5m-3s"])
def test_parse_duration_refuses(value):
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert "duration" in str(info.value)


def test_duration_literal_roundtrip():
    for text in ("5s", "500ms", "1m30s", "2h", "1d"):
        assert duration_literal(parse_duration(text)) == text


@pytest.mark.parametrize("host_id", ["gpu-01", "a", "A.b_c-d", "1" * 63])
def test_host_ids_accepted(host_id):
    assert validate_host_id(host_id) == host_id


@pytest.mark.parametrize(("address", "expected"), [
    ("10.0.0.11", "10.0.0.11"), ("gpu-01.example.com", "gpu-01.example.com"), ("localhost", "localhost"),
    ("2001:db8::1", "2001:db8::1"), ("[::1]", "::1"), ("fe80::1%eth0", "fe80::1%eth0"), ("host_1.lan.", "host_1.lan."),
])
def test_addresses_accepted(address, expected):
    assert validate_address(address) == expected


@pytest.mark.parametrize("user", ["monitor", "_svc", "Admin", "a.b-c_d", "u" * 32])
def test_users_accepted(user):
    assert validate_user(user) == user


@pytest.mark.parametrize("user", ["", "1abc", "-u", "a b", "root;id", "u" * 33, "é"])
def test_users_refused(user):
    with pytest.raises(ValueError):
        validate_user(user)


def test_label_values_converted():
    assert validate_label_value(8) == "8"
    assert validate_label_value(1.5) == "1.5"
    assert validate_label_value(True) == "true"
    with pytest.raises(ValueError):
        validate_label_value("a\nb")


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:22", ("::1", 22)), ("hub.lan:7879", ("hub.lan", 7879)),
])
def test_parse_host_port(text, expected):
    assert parse_host_port(text) == expected


@pytest.mark.parametrize("text", ["127.0.0.1", ":8080", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "::1:22", "a b:1", "h:x"])
def test_parse_host_port_refuses(text):
    with pytest.raises(ValueError):
        parse_host_port(text)


def test_expand_path_userprofile_and_tilde(monkeypatch):
    monkeypatch.setenv("USERPROFILE", r"C:\Users\bob")
    monkeypatch.setenv("HOME", "/home/bob")
    assert expand_path(r"%USERPROFILE%\.ssh\id_ed25519") == Path(r"C:\Users\bob\.ssh\id_ed25519")
    home = os.environ["USERPROFILE"] if os.name == "nt" else os.environ["HOME"]
    assert expand_path("~/.ssh/id_ed25519") == Path(home) / ".ssh" / "id_ed25519"
    assert expand_path("~") == Path(home)


def test_expand_path_dollar_vars(monkeypatch):
    monkeypatch.setenv("KEYDIR", "/srv/keys")
    monkeypatch.delenv("NOPE_NOT_SET", raising=False)
    assert expand_path("$KEYDIR/a") == Path("/srv/keys/a")
    assert expand_path("${KEYDIR}/b") == Path("/srv/keys/b")
    assert expand_path("%KEYDIR%/c") == Path("/srv/keys/c")
    assert expand_path("$NOPE_NOT_SET/x") == Path("$NOPE_NOT_SET/x")  # unknown variables stay as written
    assert expand_path("/plain/path") == Path("/plain/path")
