"""probe.sh itself: POSIX shells, shellcheck, sourceable functions, timeouts, quoting."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from collector.reading import parse_output
from collector.sections import split_sections
from remote_scripts import probe_command, probe_minified, probe_source

PROBE = Path(__file__).parent.parent.parent / "remote_scripts" / "probe.sh"
FAKEBIN = Path(__file__).parent.parent / "fakebin"
SHELLS = {
    "dash": ["/bin/dash", "-c"],
    "bash": ["/bin/bash", "--posix", "-c"],
    "busybox-ash": ["/bin/busybox", "sh", "-c"],
}
ARGS = ["-o", "-p", "-g", "-m", "/", "--", "nginx.service", "broken.service", "slow.service", "nope.service"]


def run_probe(shell: str, args: list[str], path_prefix: Path | None = FAKEBIN, script: str | None = None,
              timeout: float = 30) -> subprocess.CompletedProcess:
    env = {"PATH": f"{path_prefix}:/usr/bin:/bin" if path_prefix else "/usr/bin:/bin", "HOME": "/tmp"}
    cmd = probe_command(args) if script is None else script
    return subprocess.run([*SHELLS[shell], cmd], capture_output=True, env=env, timeout=timeout)


def section_names(output: bytes) -> list[str]:
    return list(split_sections(output.decode()))


@pytest.mark.parametrize("shell", SHELLS)
def test_probe_runs_under_each_posix_shell_with_identical_sections(shell: str) -> None:
    assert Path(SHELLS[shell][0]).exists(), f"{SHELLS[shell][0]} missing: .ci/run installs it"
    reference = run_probe("dash", ARGS)
    result = run_probe(shell, ARGS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == b""
    assert section_names(result.stdout) == section_names(reference.stdout)
    assert section_names(result.stdout)[0] == "epoch"
    reading = parse_output(result.stdout, result.returncode, 0.0,
                           asked=frozenset({"os", "ps", "nvidia", "systemd"}))
    assert dict(reading.errors) == {}
    assert len(reading.get("nvidia").gpus) == 2
    assert [u.active_state for u in reading.get("systemd").units] == ["active", "failed", "activating", "inactive"]


def test_minified_probe_prints_the_same_sections_as_the_source() -> None:
    full = run_probe("dash", ARGS, script="set -- " + " ".join(ARGS[:5]) + "\n" + probe_source())
    small = run_probe("dash", ARGS[:5])
    assert section_names(full.stdout) == section_names(small.stdout)
    assert len(probe_minified()) < len(probe_source()) * 0.6


@pytest.mark.parametrize("args", [
    ["-m", "/"],  # a default 5 s probe with gpu off: no GPU, os, ps or catalog code sent
    ["-g", "-m", "/"],
    ["-g", "-c", "-o", "-p", "-a"],
    ["-U"],
    ARGS,
], ids=["default", "gpu", "everything", "catalog", "services"])
def test_a_probe_sent_without_the_parts_it_does_not_use_prints_what_the_whole_script_prints(args) -> None:
    from remote_scripts import probe_for, probe_minified

    asked = probe_command(args)
    whole = "set -- " + " ".join(f"'{a}'" for a in args) + "\n" + probe_minified()
    trimmed, full = run_probe("dash", args), run_probe("dash", args, script=whole)
    assert trimmed.returncode == full.returncode and trimmed.stderr == full.stderr == b""
    assert section_names(trimmed.stdout) == section_names(full.stdout)
    if args == ["-m", "/"]:
        assert len(asked) < 0.5 * len(whole) and "fw_nvidia()" not in asked and "fw_main()" in asked
    assert len(probe_for(frozenset({"-g", "-c", "-o", "-p", "-U"}))) == len(probe_minified())


def test_every_function_of_the_probe_is_a_part_of_its_own() -> None:
    """remote_scripts._parts finds each `name() {` ... `}` of probe.sh, and the parts make the whole script."""
    import re

    from remote_scripts import OPTIONAL_PARTS, _parts, probe_minified

    functions = re.findall(r"^([a-z_]+)\(\) \{$", probe_source(), re.M)
    names = [name for name, _ in _parts()]
    assert [n for n in names if n and n.islower()] == functions
    assert "".join(text for _, text in _parts()) == probe_minified()
    assert {n for parts in OPTIONAL_PARTS.values() for n in parts} <= set(names)


def test_shellcheck_is_clean() -> None:
    assert shutil.which("shellcheck"), "shellcheck missing: .ci/run installs it"
    files = [PROBE, *sorted(FAKEBIN.iterdir())]
    result = subprocess.run(["shellcheck", "-s", "sh", *map(str, files)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_probe_is_sourceable_and_its_functions_callable() -> None:
    script = f"FLEETWATCH_PROBE_LIB=1 . {PROBE}; fw_timeout=; fw_counters; fw_nvidia"
    out = subprocess.run(["/bin/dash", "-c", script], capture_output=True,
                         env={"PATH": "/usr/bin:/bin"}, timeout=10).stdout.decode()
    sections = split_sections(out)
    assert set(sections) == {"uptime", "stat", "loadavg", "meminfo", "diskstats", "net", "nvidia"}
    assert sections["nvidia"] == "absent"  # no nvidia-smi on this PATH


def test_missing_tools_are_reported_as_absent_not_as_failure() -> None:
    result = run_probe("dash", ["-g", "--", "nginx.service"], path_prefix=None)
    sections = split_sections(result.stdout.decode())
    assert result.returncode == 0
    assert sections["nvidia"] == "absent"
    # this machine has a systemctl binary but no systemd as PID 1: the tool's own words come back
    assert sections["systemd"]


def test_hanging_df_is_cut_by_the_timeout_and_reported(tmp_path: Path) -> None:
    slow = tmp_path / "df"
    slow.write_text("#!/bin/sh\nexec sleep 60\n")
    slow.chmod(0o755)
    started = time.monotonic()
    result = run_probe("dash", ["-m", "/"], path_prefix=tmp_path, timeout=20)
    took = time.monotonic() - started
    assert result.returncode == 124
    assert took < 6, f"probe took {took:.1f} s; df's limit is 3 s"
    reading = parse_output(result.stdout, result.returncode, 0.0)
    assert reading.errors["df"] == "df timed out"
    assert "meminfo" in reading.parsed  # the other sections are intact


def test_hostile_unit_and_mount_arguments_never_reach_a_shell(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    hostile = [f"x; touch {canary}", f"$(touch {canary})", f"`touch {canary}`", f"a'; touch {canary}; '",
               f"x\ntouch {canary}", f"--output={canary}"]
    for value in hostile:
        for args in (["-m", value], ["--", value]):
            run_probe("dash", args)
    assert not canary.exists()


def test_probe_output_stays_small_on_this_machine() -> None:
    result = run_probe("dash", ["-m", "/", "--", "nginx.service"])
    assert len(result.stdout) < 8 * 1024


def test_empty_disk_list_runs_no_df(tmp_path: Path) -> None:
    trap = tmp_path / "df"
    trap.write_text(f"#!/bin/sh\ntouch {tmp_path}/df-ran\n")
    trap.chmod(0o755)
    result = run_probe("dash", ["-m", ""], path_prefix=tmp_path)
    assert result.returncode == 0
    assert split_sections(result.stdout.decode())["df"] == ""
    assert not (tmp_path / "df-ran").exists()
