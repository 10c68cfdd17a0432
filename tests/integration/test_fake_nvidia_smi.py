"""tests/fakebin/nvidia-smi under dash: any field list, in order, in the real tool's CSV; its modes."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from collector.parsers import nvidia

FAKE = Path(__file__).parent.parent / "fakebin" / "nvidia-smi"
CSV = "--format=csv,noheader,nounits"


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    """A copy of the fake, so that a test may write FAKE_NVIDIA_MODE and gpu0_temp beside it."""
    copy = tmp_path / "nvidia-smi"
    shutil.copy(FAKE, copy)
    return copy


def smi(fake: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["/bin/dash", str(fake), *args], capture_output=True, text=True, timeout=10,
                          env={"PATH": "/usr/bin:/bin"})


def rows(result: subprocess.CompletedProcess) -> list[list[str]]:
    assert result.returncode == 0, result.stdout + result.stderr
    return [line.split(", ") for line in result.stdout.splitlines()]


def test_the_probes_old_list_prints_todays_two_cards(fake: Path) -> None:
    old = ("index,uuid,name,pci.bus_id,utilization.gpu,utilization.memory,memory.used,memory.total,"
           "temperature.gpu,power.draw,power.limit,fan.speed")
    assert smi(fake, f"--query-gpu={old}", CSV).stdout == (
        "0, GPU-5a3c1e0b-8e1f-4f5e-9d4b-2f6a7c8d9e01, NVIDIA A100-SXM4-80GB, 00000000:07:00.0, 37, 12, 20480, "
        "81920, 45, 92.15, 400.00, [N/A]\n"
        "1, GPU-0b7d2c44-1a9e-4c3b-8f21-6e5d4c3b2a10, NVIDIA A100-SXM4-80GB, 00000000:0F:00.0, 0, 0, 4, "
        "81920, 31, [N/A], 400.00, [N/A]\n")


@pytest.mark.parametrize(("fields", "card0", "card1"), [
    ("pstate,index", ["P0", "0"], ["P0", "1"]),
    ("clocks.sm,clocks.mem", ["1410", "1593"], ["210", "1593"]),
    ("clocks_event_reasons.active,clocks_throttle_reasons.active",
     ["0x0000000000000004", "0x0000000000000004"], ["0x0000000000000001", "0x0000000000000001"]),
    ("persistence_mode,mig.mode.current,pcie.link.gen.current,pcie.link.width.current",
     ["Enabled", "Disabled", "4", "16"], ["Enabled", "Disabled", "4", "16"]),
    ("ecc.errors.corrected.volatile.total,ecc.errors.uncorrected.volatile.total,"
     "ecc.errors.corrected.aggregate.total,ecc.errors.uncorrected.aggregate.total",
     ["0", "0", "0", "0"], ["3", "0", "17", "0"]),
    ("retired_pages.pending,remapped_rows.pending,fan.speed", ["[N/A]", "No", "[N/A]"], ["[N/A]", "No", "[N/A]"]),
    ("name", ["NVIDIA A100-SXM4-80GB"], ["NVIDIA A100-SXM4-80GB"]),
])
def test_any_field_list_in_its_order(fake: Path, fields: str, card0: list[str], card1: list[str]) -> None:
    assert rows(smi(fake, f"--query-gpu={fields}", CSV)) == [card0, card1]


def test_a_header_without_noheader(fake: Path) -> None:
    assert smi(fake, "--query-gpu=index,pstate", "--format=csv,nounits").stdout.splitlines()[0] == "index, pstate"


def test_gpu0_temp_overrides_card_0s_temperature(fake: Path) -> None:
    (fake.parent / "gpu0_temp").write_text("91\n")
    assert rows(smi(fake, "--query-gpu=temperature.gpu", CSV)) == [["91"], ["31"]]


def test_an_unknown_field_is_the_real_tools_error(fake: Path) -> None:
    result = smi(fake, "--query-gpu=index,clocks.bogus,pstate", CSV)
    assert result.returncode == 2
    assert result.stdout.splitlines()[0] == 'Field "clocks.bogus" is not a valid field to query.'


def test_compute_apps(fake: Path) -> None:
    assert rows(smi(fake, "--query-compute-apps=pid,process_name,gpu_uuid,used_memory", CSV)) == [
        ["4242", "python3", "GPU-5a3c1e0b-8e1f-4f5e-9d4b-2f6a7c8d9e01", "20000"]]
    (fake.parent / "FAKE_NVIDIA_MODE").write_text("no-apps\n")
    assert rows(smi(fake, "--query-compute-apps=pid,used_memory", CSV)) == []


def test_no_devices(fake: Path) -> None:
    (fake.parent / "FAKE_NVIDIA_MODE").write_text("no-devices\n")
    result = smi(fake, "--query-gpu=index", CSV)
    assert (result.returncode, result.stdout) == (6, "No devices were found\n")


def test_driver_error(fake: Path) -> None:
    (fake.parent / "FAKE_NVIDIA_MODE").write_text("driver-error\n")
    result = smi(fake, "--query-gpu=index", CSV)
    assert result.returncode == 9
    assert result.stdout.startswith("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")


def test_unknown_error_card(fake: Path) -> None:
    (fake.parent / "FAKE_NVIDIA_MODE").write_text("unknown-error\n")
    card0, card1 = rows(smi(fake, "--query-gpu=index,pci.bus_id,utilization.gpu,temperature.gpu,pstate", CSV))
    assert card0 == ["0", "00000000:07:00.0", "37", "45", "P0"]
    assert card1 == ["1", "00000000:0F:00.0", "[Unknown Error]", "[Unknown Error]", "[Unknown Error]"]


def test_mig_card(fake: Path) -> None:
    (fake.parent / "FAKE_NVIDIA_MODE").write_text("mig\n")
    assert rows(smi(fake, "--query-gpu=index,mig.mode.current,utilization.gpu,memory.used", CSV)) == [
        ["0", "Enabled", "[N/A]", "20480"], ["1", "Disabled", "0", "4"]]


PROBE = Path(__file__).parent.parent.parent / "remote_scripts" / "probe.sh"


def probe_function(fake: Path, shell: list[str], function: str) -> tuple[str, str]:
    """What one of the probe's functions prints, and its rc lines, with the fake first on PATH."""
    script = f'FLEETWATCH_PROBE_LIB=1 . {PROBE}; fw_timeout=1; {function}; printf "<<<rc>>>\\n%s" "$fw_rc"'
    out = subprocess.run([*shell, "-c", script], capture_output=True, text=True, timeout=30,
                         env={"PATH": f"{fake.parent}:/usr/bin:/bin"}).stdout
    section, _, rc = out.partition("<<<rc>>>\n")
    return section, rc


SHELLS = [["/bin/dash"], ["/bin/bash", "--posix"], ["/bin/busybox", "ash"]]


@pytest.mark.parametrize("shell", SHELLS, ids=["dash", "bash", "ash"])
@pytest.mark.parametrize(("mode", "fields", "reasons"), [
    ("", len(nvidia.QUERY_FIELDS), True),  # today's driver: one call, every field
    ("driver-470", len(nvidia.QUERY_FIELDS), True),  # asked again with clocks_throttle_reasons
    ("driver-450", nvidia.BASE_FIELDS, False),  # no remapped_rows either: the base fields
])
def test_an_older_driver_is_asked_again_with_the_fields_it_knows(fake: Path, shell: list[str], mode: str,
                                                                 fields: int, reasons: bool) -> None:
    (fake.parent / "FAKE_NVIDIA_MODE").write_text(mode + "\n")
    section, rc = probe_function(fake, shell, "fw_nvidia")
    lines = section.splitlines()
    assert lines[0] == "<<<nvidia>>>"
    assert [len(line.split(", ")) for line in lines[1:]] == [fields, fields]
    assert rc == "nvidia 0\n"
    result = nvidia.parse("\n".join(lines[1:]))
    assert result.errors == ()
    assert [g.mem_used_mb for g in result.gpus] == [20480, 4]
    assert [g.reason_power_cap for g in result.gpus] == ([True, False] if reasons else [None, None])


@pytest.mark.parametrize("shell", SHELLS, ids=["dash", "bash", "ash"])
def test_a_driver_failure_reaches_the_hub_with_its_status(fake: Path, shell: list[str]) -> None:
    (fake.parent / "FAKE_NVIDIA_MODE").write_text("driver-error\n")
    section, rc = probe_function(fake, shell, "fw_nvidia")
    assert "couldn't communicate with the NVIDIA driver" in section
    assert rc == "nvidia 9\n"
    assert nvidia.parse(section.partition("\n")[2]).gpus == ()


@pytest.mark.parametrize("shell", SHELLS, ids=["dash", "bash", "ash"])
def test_the_probe_names_the_owner_of_each_gpu_process(fake: Path, shell: list[str]) -> None:
    import os

    from collector.parsers import gpu_apps, gpu_ps

    (fake.parent / "apps").write_text(f"0 {os.getpid()} 20000 python3\n1 1 512 init, the first\n")
    body, rc = probe_function(fake, shell, "fw_gpu_apps")
    apps_text, _, ps_text = body.partition("<<<gpu_ps>>>\n")
    assert apps_text.startswith("<<<gpu_apps>>>\n")
    apps = gpu_apps.parse_apps(apps_text.partition("\n")[2])
    assert [(a.pid, a.name) for a in apps.apps] == [(os.getpid(), "python3"), (1, "init, the first")]
    owners = gpu_ps.parse_owners(ps_text)
    assert owners.errors == () and set(owners.by_pid) == {os.getpid(), 1}
    assert owners.by_pid[os.getpid()].user == "root" and "pytest" in owners.by_pid[os.getpid()].command
    assert rc == "gpu_apps 0\ngpu_ps 0\n"


@pytest.mark.parametrize("shell", SHELLS, ids=["dash", "bash", "ash"])
def test_no_gpu_process_runs_no_ps(fake: Path, shell: list[str]) -> None:
    (fake.parent / "FAKE_NVIDIA_MODE").write_text("no-apps\n")
    body, rc = probe_function(fake, shell, "fw_gpu_apps")
    assert body == "<<<gpu_apps>>>\n<<<gpu_ps>>>\n"
    assert rc == "gpu_apps 0\n"


def test_eight_cards_and_their_processes(fake: Path) -> None:
    """The benchmark's host (benchmarks/probe_cost.py): 8 cards, each with its own uuid and bus id."""
    (fake.parent / "gpu_count").write_text("8\n")
    got = rows(smi(fake, "--query-gpu=index,uuid,pci.bus_id", CSV))
    assert [r[0] for r in got] == [str(i) for i in range(8)]
    assert len({r[1] for r in got}) == 8 and len({r[2] for r in got}) == 8
