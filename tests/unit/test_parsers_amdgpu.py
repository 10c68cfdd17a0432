"""The amdgpu section (AMD cards from the driver's sysfs files, issue 17 item 4): parser tables over what the probe
prints for the fake sysfs trees of tests/fixtures/amdgpu (tests/integration/test_probe_amdgpu.py checks the probe
prints exactly these files), and the cards in the host report, its rows and its catalogue metrics."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from collector.metrics.catalogue import CATALOGUE
from collector.parsers import amdgpu, nvidia
from collector.reading import OPTIONAL, parse_output
from collector.recorder import rows_from_report
from collector.report import AMD_INDEX_BASE, build_report
from collector.sections import split_sections
from tests.unit.test_parsers import ERR, cases, check

FIXTURES = Path(__file__).parent.parent / "fixtures"
MIB = 2**20


def section(scenario: str) -> str:
    return split_sections((FIXTURES / "amdgpu" / f"{scenario}.txt").read_text())["amdgpu"]


MI210 = section("mi210x2")
RX7900 = section("rx7900xtx_igpu")
ASLEEP = section("rx6800_suspended")


TABLE = {
    "empty: amdgpu loaded, no card": ("", {"#gpus": 0, "cards": ()}),
    "truncated: cut inside card2": (MI210[:MI210.index("gpu_busy_percent 98") + 8], {
        "#gpus": 2, "gpus.0.util_pct": 0.0, "gpus.0.temperature_c": 34.0,
        "gpus.1.mem_used_mb": 61440.0, "gpus.1.util_pct": None, "gpus.1.temperature_c": None,
        "gpus.1.power_w": None,
    }),
    "malformed: a value before any card": ("gpu_busy_percent 37\ncard card0\n", ERR),
    "malformed: card line without a number": ("card cardX\ngpu_busy_percent 37\n", ERR),
    "malformed: card line naming no card": ("card renderD128\n", ERR),
    "malformed: the same card twice": ("card card1\ncard card1\n", ERR),
    "malformed values are None, never 0": (
        "card card0\ngpu_busy_percent abc\nmem_busy_percent 250\ntemp1_input -5000\npwm1 300\npwm1_max 255\n"
        "mem_info_vram_used 1e999\npower1_average \nPCI_SLOT_NAME \n", {
            "#gpus": 1, "gpus.0.util_pct": None, "gpus.0.mem_util_pct": None, "gpus.0.temperature_c": None,
            "gpus.0.fan_pct": None, "gpus.0.mem_used_mb": None, "gpus.0.power_w": None, "gpus.0.pci_bus_id": None,
            "gpus.0.name": None, "gpus.0.vendor": "amd",
        }),
    "valid: 2x MI210 behind a BMC's VGA": (MI210, {
        "#gpus": 2, "cards": (1, 2),
        "gpus.0.index": 0, "gpus.0.vendor": "amd", "gpus.0.name": "AMD Instinct MI210",
        "gpus.0.uuid": "2f3c4a5b6d7e8091", "gpus.0.pci_bus_id": "0000:63:00.0", "gpus.0.mem_total_mb": 65520.0,
        "gpus.0.mem_used_mb": 10.82, "gpus.0.fan_pct": None,
        "gpus.1.index": 1, "gpus.1.uuid": "83a1c0f4d2b5e617", "gpus.1.pci_bus_id": "0000:c3:00.0",
        "gpus.1.util_pct": 98.0, "gpus.1.mem_util_pct": 41.0, "gpus.1.mem_used_mb": 61440.0,
        "gpus.1.temperature_c": 71.0, "gpus.1.power_w": 289.0, "gpus.1.power_limit_w": 300.0,
        "gpus.1.sm_clock_mhz": 1700.0, "gpus.1.mem_clock_mhz": 1600.0, "gpus.1.lost": False,
        "gpus.1.pstate": None, "gpus.1.ecc_uncorrected_volatile": None,
    }),
    "valid: RX 7900 XTX (power1_input only) and an integrated GPU": (RX7900, {
        "#gpus": 2, "cards": (0, 1),
        "gpus.0.name": "AMD GPU 1002:744C", "gpus.0.uuid": None, "gpus.0.power_w": 27.0,
        "gpus.0.power_limit_w": 303.0, "gpus.0.fan_pct": 0.0, "gpus.0.temperature_c": 38.0,
        "gpus.0.mem_total_mb": round(25753026560 / MIB, 2), "gpus.0.util_pct": 3.0,
        "gpus.1.name": "AMD GPU 1002:164E", "gpus.1.mem_util_pct": None, "gpus.1.power_limit_w": None,
        "gpus.1.power_w": 15.0, "gpus.1.mem_total_mb": 512.0, "gpus.1.mem_clock_mhz": None,
    }),
    "valid: a sleeping card runs nothing, its sensors unread": (ASLEEP, {
        "#gpus": 1, "gpus.0.util_pct": 0.0, "gpus.0.temperature_c": None, "gpus.0.power_w": None,
        "gpus.0.mem_used_mb": 8.0, "gpus.0.uuid": "5d8b8a3f2c1e4b7a", "gpus.0.name": "AMD GPU 1002:73BF",
    }),
    "valid: cards in number order, not the glob's": ("card card10\ngpu_busy_percent 10\ncard card2\n"
                                                     "gpu_busy_percent 2\n", {
        "cards": (2, 10), "gpus.0.util_pct": 2.0, "gpus.1.util_pct": 10.0, "gpus.1.index": 1,
    }),
    "valid: junction temperature where there is no edge sensor (MI300)": (
        "card card1\ntemp2_input 61000\ntemp3_input 55000\n", {"gpus.0.temperature_c": 61.0}),
}


@cases(TABLE)
def test_amdgpu(text, expected):
    check(amdgpu.parse, text, expected)


def test_the_record_is_nvidias_gpu_record() -> None:
    result = amdgpu.parse(MI210)
    assert result.__dataclass_params__.frozen and not hasattr(result, "__dict__")
    assert all(type(g) is nvidia.Gpu for g in result.gpus)
    assert nvidia.parse("0, a, b, c" + ", 1" * 8).gpus[0].vendor == "nvidia"


def test_the_section_is_registered_and_optional() -> None:
    assert "amdgpu" in OPTIONAL
    assert dataclasses.is_dataclass(amdgpu.SECTION.parse(""))


# --- through the hub: reading, report, rows, catalogue --------------------------------------------------------

BASE = (FIXTURES / "probe" / "debian12_vm.txt").read_text()


def report_of(nvidia_body: str, amd_scenario: str | None):
    out = BASE + f"<<<nvidia>>>\n{nvidia_body}\n"
    if amd_scenario is not None:
        out += (FIXTURES / "amdgpu" / f"{amd_scenario}.txt").read_text()
    reading = parse_output(out.encode(), 0, 0.0, asked=frozenset({"nvidia", "os", "ps"}))
    assert "amdgpu" not in reading.errors
    return build_report("h", (reading,), disks="all")


def test_an_amd_host_reports_its_cards_numbered_from_0_with_vendor_amd() -> None:
    report = report_of("absent", "mi210x2")
    assert report.errors == {}
    assert [(g.index, g.vendor) for g in report.gpus] == [(0, "amd"), (1, "amd")]
    d = report.to_dict()
    assert d["gpu_count"] == 2
    assert [(g["vendor"], g["mem_used_pct"]) for g in d["gpus"]] == [
        ("amd", round(100 * 11341824 / 68702699520, 2)), ("amd", round(100 * 64424509440 / 68702699520, 2))]
    assert d["gpu_mem_fullest_pct"] == round(100 * 64424509440 / 68702699520, 2)
    assert d["gpu_temp_max_c"] == 71.0 and d["gpu_util_pct"] == 49.0 and d["gpu_unanswered"] == 0
    rows = rows_from_report(report).gpus
    assert [(r["gpu_index"], r["vendor"], r["uuid"], r["util_pct"]) for r in rows] == [
        (0, "amd", "2f3c4a5b6d7e8091", 0.0), (1, "amd", "83a1c0f4d2b5e617", 98.0)]
    assert CATALOGUE.get("gpu_power_w", "gpu").value(report, report.gpus[1]) == 289.0


def test_a_mixed_host_numbers_amd_cards_past_nvidias() -> None:
    report = report_of((FIXTURES / "nvidia" / "a100x2_full.csv").read_text(), "mi210x2")
    assert [(g.index, g.vendor) for g in report.gpus] == [
        (0, "nvidia"), (1, "nvidia"), (AMD_INDEX_BASE, "amd"), (AMD_INDEX_BASE + 1, "amd")]
    # nvidia-smi failing for a poll leaves the AMD cards where they were
    failed = report_of((FIXTURES / "nvidia" / "driver_error.txt").read_text(), "mi210x2")
    assert [g.index for g in failed.gpus] == [AMD_INDEX_BASE, AMD_INDEX_BASE + 1]
    assert set(failed.errors) == {"nvidia"}


def test_a_host_without_amd_cards_is_as_before() -> None:
    report = report_of((FIXTURES / "nvidia" / "a100x2_full.csv").read_text(), None)
    assert [(g.index, g.vendor) for g in report.gpus] == [(0, "nvidia"), (1, "nvidia")]
    assert report_of("absent", None).gpus == ()
