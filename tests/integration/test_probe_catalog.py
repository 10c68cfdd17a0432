"""probe.sh -U (service catalog): POSIX shells, shellcheck, timeouts; service_catalog() over a real sshd."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from collector.errors import HostError
from collector.events import HostSnapshot, sample_events
from collector.parsers import rc
from collector.prober import catalog_from_output, probe_once, service_catalog
from collector.report import build_report
from collector.sections import split_sections
from collector.ssh_pool import HostConnection
from inventory import load_inventory
from remote_scripts import probe_source
from tests.integration.test_probe_sh import FAKEBIN, PROBE, SHELLS, run_probe
from tests.support.sshd import SSHDServer

FAKE_SERVICES = ["broken.service", "cron.service", "nginx.service", "slow.service", "ssh.service", "sshd.service"]


def lib(script: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """Run `script` under dash after sourcing the probe as a library."""
    return subprocess.run(["/bin/dash", "-c", f"FLEETWATCH_PROBE_LIB=1 . {PROBE}; {script}"], capture_output=True,
                          env={"PATH": f"{FAKEBIN}:/usr/bin:/bin"}, timeout=timeout)


@pytest.mark.parametrize("shell", SHELLS)
def test_catalog_mode_prints_identical_output_under_each_shell(shell: str) -> None:
    reference = run_probe("dash", ["-U"])
    result = run_probe(shell, ["-U"])
    assert result.returncode == 0 and result.stderr == b""
    assert result.stdout == reference.stdout
    sections = split_sections(result.stdout.decode())
    assert list(sections) == ["units", "unit_files", "rc"]  # nothing else: no epoch, no df
    assert rc.parse(sections["rc"]).codes == (("units", 0), ("unit_files", 0))
    catalog = catalog_from_output("t", result.stdout)
    assert catalog.available and catalog.error is None
    assert [e.name for e in catalog.units] == FAKE_SERVICES
    nginx = catalog.units[2]
    assert (nginx.load_state, nginx.active_state, nginx.sub_state, nginx.file_state) == \
        ("loaded", "active", "running", "enabled")


def test_catalog_ignores_the_other_options() -> None:
    plain = run_probe("dash", ["-U"]).stdout
    assert run_probe("dash", ["-o", "-p", "-g", "-U", "-a", "--", "nginx.service"]).stdout == plain


def test_minified_and_source_catalog_output_match() -> None:
    full = run_probe("dash", [], script="set -- -U\n" + probe_source())
    assert full.stdout == run_probe("dash", ["-U"]).stdout


def test_shellcheck_is_clean_with_catalog_mode() -> None:
    assert shutil.which("shellcheck"), "shellcheck missing: .ci/run installs it"
    result = subprocess.run(["shellcheck", "-s", "sh", str(PROBE), str(FAKEBIN / "systemctl")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_no_systemctl_is_absent_not_a_failure() -> None:
    result = lib("PATH=/nonexistent; fw_main -U")
    assert result.returncode == 0
    assert result.stdout.decode() == "<<<units>>>\nabsent\n<<<unit_files>>>\nabsent\n<<<rc>>>\n"
    catalog = catalog_from_output("t", result.stdout)
    assert not catalog.available and catalog.units == [] and "systemctl not found" in catalog.error


def test_hanging_systemctl_is_cut_and_reported(tmp_path: Path) -> None:
    hang = tmp_path / "systemctl"
    hang.write_text('#!/bin/sh\n[ "$1" = list-units ] && exec sleep 60\necho "ssh.service enabled enabled"\n')
    hang.chmod(0o755)
    result = subprocess.run(["/bin/dash", "-c", f"FLEETWATCH_PROBE_LIB=1 . {PROBE}; FW_T_CATALOG=1; fw_main -U"],
                            capture_output=True, env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, timeout=20)
    sections = split_sections(result.stdout.decode())
    assert rc.parse(sections["rc"]).codes == (("units", 124), ("unit_files", 0))
    catalog = catalog_from_output("t", result.stdout)
    assert not catalog.available and catalog.error == "systemctl list-units timed out"
    assert [(e.name, e.file_state) for e in catalog.units] == [("ssh.service", "enabled")]


def test_systemctl_without_systemd_gives_its_own_words() -> None:
    # This machine has systemctl but no systemd as PID 1 (CI); a host running systemd lists units.
    result = run_probe("dash", ["-U"], path_prefix=None)
    assert result.returncode == 0
    catalog = catalog_from_output("t", result.stdout)
    if catalog.available:
        assert catalog.units and catalog.error is None
    elif shutil.which("systemctl"):
        assert "systemctl list-units" in catalog.error


def test_output_that_is_not_the_probe_is_a_probe_failure() -> None:
    with pytest.raises(HostError) as err:
        catalog_from_output("h", b"zsh: command not found: fw_main\n")
    assert err.value.failure.value == "probe_failed"


def test_truncated_catalog_says_so() -> None:
    out = run_probe("dash", ["-U"]).stdout
    cut = out[:out.index(b"<<<unit_files>>>") + 40]
    catalog = catalog_from_output("t", cut, truncated=True)
    assert catalog.available and "incomplete" in catalog.error


# --- over the real test sshd --------------------------------------------------------------------

def _conn(inventory_file, **overrides) -> HostConnection:
    return HostConnection(load_inventory(inventory_file(**overrides)).host("test-host"))


async def test_service_catalog_over_ssh(inventory_file) -> None:
    conn = _conn(inventory_file)
    try:
        catalog = await service_catalog(conn)
        assert catalog.available and catalog.error is None
        assert [e.name for e in catalog.units] == FAKE_SERVICES
        by_name = {e.name: e for e in catalog.units}
        assert by_name["broken.service"].active_state == "failed"
        assert by_name["slow.service"].file_state == "disabled"
        assert by_name["sshd.service"].load_state is None and by_name["sshd.service"].file_state == "alias"
        await probe_once(conn)
        assert conn.connects == 1  # same connection as the probes
    finally:
        await conn.close()


async def test_unit_state_override_flips_nginx_through_a_normal_probe(sshd: SSHDServer, inventory_file) -> None:
    conn = _conn(inventory_file, services=["nginx.service"])
    override = sshd.fakebin / "unit-state" / "nginx.service"

    async def snapshot() -> tuple[str, HostSnapshot]:
        reading = await probe_once(conn)
        report = build_report("test-host", (reading,))
        return report.services[0].active_state, HostSnapshot.from_report(report)

    try:
        before_state, before = await snapshot()
        assert before_state == "active"
        override.parent.mkdir(exist_ok=True)
        override.write_text("failed failed\n")
        failed_state, failed = await snapshot()
        assert failed_state == "failed"
        events = sample_events("test-host", before, failed, failed.ts)
        assert [(e.type, e.subject) for e in events] == [("service_failed", "nginx.service")]
        catalog = await service_catalog(conn)
        nginx = next(e for e in catalog.units if e.name == "nginx.service")
        assert (nginx.active_state, nginx.sub_state) == ("failed", "failed")
        override.unlink()
        recovered_state, recovered = await snapshot()
        assert recovered_state == "active"
        assert [e.type for e in sample_events("test-host", failed, recovered, recovered.ts)] == ["service_recovered"]
    finally:
        override.unlink(missing_ok=True)
        if override.parent.exists():
            override.parent.rmdir()
        await conn.close()
