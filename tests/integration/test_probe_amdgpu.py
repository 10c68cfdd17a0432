"""probe.sh's amdgpu section over fake sysfs trees (tests/fixtures/amdgpu/*/), under dash, bash and busybox ash.

Each tree follows the kernel's layout (class/drm/cardN/device/..., the card's hwmon below it) with the driver's
value formats; `<tree>.txt` beside it is what the probe prints for it, and the unit tests parse those files.
The function runs with an empty PATH: it must start no process (each one costs a host ~1 ms every 5 s).
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from collector.reading import parse_output
from collector.report import build_report
from collector.sections import split_sections
from remote_scripts import probe_command

PROBE = Path(__file__).parent.parent.parent / "remote_scripts" / "probe.sh"
TREES = Path(__file__).parent.parent / "fixtures" / "amdgpu"
SHELLS = {
    "dash": ["/bin/dash", "-c"],
    "bash": ["/bin/bash", "--posix", "-c"],
    "busybox-ash": ["/bin/busybox", "sh", "-c"],
}
SCENARIOS = sorted(p.name for p in TREES.iterdir() if p.is_dir())


def amdgpu(shell: str, sys_root: Path) -> subprocess.CompletedProcess:
    """fw_amdgpu alone, sourced from probe.sh, with FW_SYS pointing at the tree and no PATH to find tools on."""
    script = f"FLEETWATCH_PROBE_LIB=1 . '{PROBE}'; fw_amdgpu"
    return subprocess.run([*SHELLS[shell], script], capture_output=True, timeout=10,
                          env={"PATH": "/nonexistent", "FW_SYS": str(sys_root)})


def test_there_are_trees() -> None:
    assert SCENARIOS == ["mi210x2", "rx6800_suspended", "rx7900xtx_igpu"]


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("shell", SHELLS)
def test_each_tree_prints_its_fixture_without_a_process(shell: str, scenario: str) -> None:
    result = amdgpu(shell, TREES / scenario)
    assert result.stderr == b""
    assert result.returncode == 0
    assert result.stdout.decode() == (TREES / f"{scenario}.txt").read_text()


@pytest.mark.parametrize("shell", SHELLS)
def test_connectors_other_vendors_and_render_nodes_are_skipped(shell: str) -> None:
    text = amdgpu(shell, TREES / "mi210x2").stdout.decode()
    assert [line for line in text.splitlines() if line.startswith("card ")] == ["card card1", "card card2"]
    assert "1A03" not in text  # card0 is the BMC's ASPEED VGA


@pytest.mark.parametrize("shell", SHELLS)
def test_a_sleeping_card_is_not_woken(shell: str) -> None:
    text = amdgpu(shell, TREES / "rx6800_suspended").stdout.decode()
    assert "runtime_status suspended" in text.splitlines()
    assert "temp1_input" not in text and "gpu_busy_percent" not in text  # reading them would wake the card


@pytest.mark.parametrize("shell", SHELLS)
def test_without_the_amdgpu_module_nothing_is_read_or_printed(shell: str, tmp_path: Path) -> None:
    tree = tmp_path / "sys"
    shutil.copytree(TREES / "mi210x2", tree)
    shutil.rmtree(tree / "module")
    result = amdgpu(shell, tree)
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")


@pytest.mark.parametrize("shell", SHELLS)
def test_files_missing_or_refused_are_left_out_silently(shell: str, tmp_path: Path) -> None:
    tree = tmp_path / "sys"
    shutil.copytree(TREES / "mi210x2", tree)
    device = tree / "class/drm/card2/device"
    for name in ("mem_busy_percent", "hwmon/hwmon4/power1_average"):  # a read the driver refuses fails like this
        (device / name).unlink()
        (device / name).mkdir()
    (device / "product_name").unlink()
    (device / "uevent").unlink()
    shutil.rmtree(tree / "class/drm/card1/device/hwmon")
    result = amdgpu(shell, tree)
    assert result.stderr == b""
    cards = split_sections(result.stdout.decode())["amdgpu"].split("card card")[1:]
    assert [c.splitlines()[0] for c in cards] == ["1", "2"]
    assert "temp1_input" not in cards[0] and "gpu_busy_percent 0" in cards[0]
    for gone in ("mem_busy_percent", "power1_average", "product_name", "PCI_SLOT_NAME"):
        assert gone not in cards[1]
    assert "gpu_busy_percent 98\n" in cards[1] and "power1_cap 300000000\n" in cards[1]


@pytest.mark.parametrize("shell", SHELLS)
def test_the_probe_reads_amd_cards_with_g_only(shell: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "FW_SYS": str(TREES / "mi210x2")}
    with_g = subprocess.run([*SHELLS[shell], probe_command(["-g", "-m", "/"])], capture_output=True, env=env,
                            timeout=30)
    without = subprocess.run([*SHELLS[shell], probe_command(["-m", "/"])], capture_output=True, env=env, timeout=30)
    names = list(split_sections(with_g.stdout.decode()))
    assert names.index("amdgpu") == names.index("nvidia") + 1
    assert "amdgpu" not in split_sections(without.stdout.decode())
    reading = parse_output(with_g.stdout, with_g.returncode, 0.0, asked=frozenset({"nvidia"}))
    assert "amdgpu" not in reading.errors
    report = build_report("mi-01", (reading,))
    assert [(g.vendor, g.index, g.name, g.pci_bus_id) for g in report.gpus] == [
        ("amd", 0, "AMD Instinct MI210", "0000:63:00.0"), ("amd", 1, "AMD Instinct MI210", "0000:c3:00.0")]
    assert report.to_dict()["gpus"][1]["util_pct"] == 98.0
