"""Table tests for the service catalog parsers (list-units, list-unit-files) and their merge."""
from __future__ import annotations

import pytest

from collector.parsers import units
from collector.parsers.units import CatalogEntry, UnitFileList, UnitList
from collector.prober import catalog
from tests.unit.test_parsers import cases, check, fx

PLAIN = fx("units/list_units_plain_debian12.txt")
BULLETS = fx("units/list_units_bullets_debian12.txt")
FILES = fx("units/list_unit_files_debian12_container.txt")
NO_BUS = fx("units/no_systemd_debian12_container.txt")
BUS_DOWN = "Failed to connect to bus: Host is down"


# --- list-units -------------------------------------------------------------------------------

@cases({
    "empty": ("", {"absent": False, "#units": 0, "#errors": 0}),
    "absent": ("absent\n", {"absent": True, "#units": 0, "#errors": 0}),
    "truncated": (PLAIN[:PLAIN.index("failed     failed") + 2], {
        "#units": 4, "units.3.name": "auditd.service", "#errors": 1,
        "errors.0": "not a list-units row: backup.service loaded fa",
    }),
    "malformed": ("nginx.service Loaded ACTIVE running x\nnginx.service loaded\n-- garbage --\n", {
        "#units": 0, "#errors": 3, "errors.0": "not a list-units row: nginx.service Loaded ACTIVE running x",
        "errors.2": "-- garbage --",
    }),
    "valid": (PLAIN, {
        "absent": False, "#units": 30, "#errors": 0,
        "units.0.name": "apparmor.service", "units.0.load_state": "loaded", "units.0.active_state": "active",
        "units.0.sub_state": "exited", "units.0.description": "Load AppArmor profiles",
        "units.3.load_state": "not-found", "units.3.description": "auditd.service",
        "units.4.active_state": "failed", "units.12.load_state": "masked",
        "units.22.name": "systemd-fsck@dev-disk-by\\x2duuid-3C1A\\x2d5B2E.service",
        "units.22.description": "File System Check on /dev/disk/by-uuid/3C1A-5B2E",
        "units.29.active_state": "activating", "units.29.sub_state": "auto-restart",
        "units.29.description": "Queue worker",
    }),
    "bullets_removed": (BULLETS, {
        "#units": 8, "#errors": 0, "units.3.name": "auditd.service", "units.4.name": "backup.service",
        "units.4.active_state": "failed", "units.0.name": "apparmor.service",
    }),
    "c_locale_bullet": ("* backup.service loaded failed failed Nightly backup\n",
                        {"units.0.name": "backup.service", "units.0.description": "Nightly backup"}),
    "no_description": ("x.service loaded active running\n", {"units.0.description": ""}),
    "description_spacing_kept": ("x.service loaded active running A  B   C  \n", {"units.0.description": "A  B   C"}),
    "no_systemd": (NO_BUS, {
        "absent": False, "#units": 0,
        "errors": ("System has not been booted with systemd as init system (PID 1). Can't operate.", BUS_DOWN),
    }),
    "rows_and_errors": ("a.service loaded active running A\n" + BUS_DOWN + "\n",
                        {"#units": 1, "errors": (BUS_DOWN,)}),
})
def test_list_units(text, expected):
    check(units.parse, text, expected)


# --- list-unit-files ----------------------------------------------------------------------------

@cases({
    "empty": ("", {"absent": False, "#files": 0, "#errors": 0}),
    "absent": ("absent", {"absent": True, "#files": 0}),
    "truncated": (FILES[:FILES.index("autovt@.service") + 20], {
        "#files": 2, "#errors": 1, "errors.0": "not a list-unit-files row: autovt@.service",
    }),
    "malformed": ("x.service enabled enabled extra\nx.service ENABLED\nx.service\n", {"#files": 0, "#errors": 3}),
    "valid": (FILES, {
        "absent": False, "#files": 109, "#errors": 0,
        "files.0.name": "apt-daily-upgrade.service", "files.0.state": "static", "files.0.preset": None,
        "files.2.name": "autovt@.service", "files.2.state": "alias",
        "files.3.state": "disabled", "files.3.preset": "disabled",
        "files.5.name": "cryptdisks-early.service", "files.5.state": "masked", "files.5.preset": "enabled",
    }),
    "before_v245_no_preset": ("ssh.service enabled\n", {"files.0.state": "enabled", "files.0.preset": None}),
    "runtime_states": ("a.service enabled-runtime enabled\nb.service linked-runtime -\n",
                       {"files.0.state": "enabled-runtime", "files.1.state": "linked-runtime"}),
    "bus_error": (BUS_DOWN, {"#files": 0, "errors": (BUS_DOWN,)}),
})
def test_list_unit_files(text, expected):
    check(units.parse_files, text, expected)


def test_error_lines_are_capped():
    result = units.parse("\n".join(f"noise line {i}" for i in range(1000)))
    assert len(result.errors) == 20 and not result.units


# --- catalog --------------------------------------------------------------------------------------

def test_catalog_merges_sorts_and_filters():
    listed = units.parse(PLAIN + "foo.socket loaded active listening Foo socket\n"
                                 "bad;name.service loaded active running Evil\n")
    files = units.parse_files(FILES)
    entries = catalog(listed, files)
    names = [e.name for e in entries]
    assert names == sorted(names) and len(names) == len(set(names))
    assert all(n.endswith(".service") and not n.endswith("@.service") for n in names)
    assert "bad;name.service" not in names and "foo.socket" not in names
    assert "getty@tty1.service" in names and "getty@.service" not in names  # instances yes, templates no
    by_name = {e.name: e for e in entries}
    assert by_name["ssh.service"] == CatalogEntry("ssh.service", "loaded", "active", "running", "enabled",
                                                  "OpenBSD Secure Shell server")
    assert by_name["nginx.service"].file_state is None  # loaded, but not in this host's unit files
    assert by_name["console-getty.service"] == CatalogEntry("console-getty.service", None, None, None,
                                                            "disabled", None)
    assert by_name["sshd.service"].file_state == "alias"
    assert by_name["systemd-fsck@dev-disk-by\\x2duuid-3C1A\\x2d5B2E.service"].active_state == "active"


def test_catalog_of_nothing():
    assert catalog(UnitList(True, (), ()), UnitFileList(True, (), ())) == []


def test_catalog_first_row_wins_on_duplicates():
    listed = units.parse("a.service loaded active running First\na.service loaded failed failed Second\n")
    (entry,) = catalog(listed, units.parse_files(""))
    assert entry.description == "First"


@pytest.mark.parametrize("name", ["-x.service", "a b.service", "x" * 300 + ".service", "é.service"])
def test_catalog_drops_names_the_probe_would_refuse(name):
    listed = units.parse(f"{name} loaded active running D\n")
    assert catalog(listed, units.parse_files("")) == []
