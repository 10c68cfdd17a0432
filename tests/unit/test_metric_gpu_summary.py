"""The host's GPU summary hides no card (issue 17 item 9): beside the mean utilisation of the cards that answered
and the pooled memory, the fullest card's memory (gpu_mem_fullest_pct), the hottest card (gpu_temp_max_c) and
the cards that gave no utilisation (gpu_unanswered), from nvidia-smi output as the probe prints it."""
from __future__ import annotations

from pathlib import Path

import pytest

from collector.host_report import HostReport
from collector.metrics.catalogue import CATALOGUE
from collector.parsers import nvidia
from collector.reading import parse_output
from collector.recorder import rows_from_report
from collector.render_text import render
from collector.report import build_report

FIXTURES = Path(__file__).parent.parent / "fixtures"
NVIDIA = FIXTURES / "nvidia"
SUMMARY = ("gpu_util_pct", "gpu_unanswered", "gpu_mem_used_pct", "gpu_mem_fullest_pct", "gpu_temp_max_c")


def _report(text: str) -> HostReport:
    return HostReport("h", "up", 0.0, {}, gpus=nvidia.parse(text).gpus)


def _summary(report: HostReport) -> tuple:
    return tuple(CATALOGUE.get(name).value(report) for name in SUMMARY)


CASES = [
    # 10 %, 90 % and a card in MIG mode that says [N/A]: the mean of 50 % is of two cards of three, and the
    # pool's 60 % hides a card that is full
    ("valid: one card without utilisation", (NVIDIA / "mig_util_na.csv").read_text(),
     (50.0, 1, 60.0, 100.0, 67.0)),
    ("valid: 8 cards answer", (NVIDIA / "h100x8.csv").read_text(),
     (pytest.approx(74.25), 0, round(100 * 468393 / (8 * 81559), 2), round(100 * 78123 / 81559, 2), 64.0)),
    ("valid: power [N/A] is not utilisation", (NVIDIA / "two_gpus_power_na.csv").read_text(),
     (18.5, 0, round(100 * 2350 / 28672, 2), round(100 * 2345 / 24576, 2), 54.0)),
    ("valid: [Not Supported] utilisation", (NVIDIA / "not_supported.csv").read_text(),
     (None, 1, round(100 * 212 / 1998, 2), round(100 * 212 / 1998, 2), 40.0)),
    ("malformed: the driver failed, no card listed", (NVIDIA / "driver_error.txt").read_text(),
     (None, None, None, None, None)),
    ("truncated: the last row cut", (NVIDIA / "mig_util_na.csv").read_text()[:-40],
     (50.0, 0, 40.0, 40.0, 67.0)),
    ("empty: no nvidia-smi", "absent", (None, None, None, None, None)),
]


@pytest.mark.parametrize("case, text, expected", CASES, ids=[c[0] for c in CASES])
def test_gpu_summary(case, text, expected):
    assert _summary(_report(text)) == expected, case


def test_summary_metrics_are_stored_rolled_up_alertable_and_exported():
    fullest, unanswered = CATALOGUE.get("gpu_mem_fullest_pct"), CATALOGUE.get("gpu_unanswered")
    assert (fullest.column, fullest.rollup, fullest.alert) == ("float", ("avg", "max"), True)
    assert (unanswered.column, unanswered.rollup, unanswered.alert) == ("int", ("avg", "max"), True)
    assert (fullest.prom_name, unanswered.prom_name) == ("fleetwatch_gpu_memory_used_fullest_percent",
                                                         "fleetwatch_gpus_unanswered")
    assert (fullest.unit, unanswered.unit) == ("%", "count")


def _probe_report() -> HostReport:
    """Two real probe runs, the second with the MIG host's nvidia section."""
    probe = FIXTURES / "probe"
    gpu_csv = (NVIDIA / "mig_util_na.csv").read_bytes()
    first = (probe / "debian12_vm.txt").read_bytes()
    second = (probe / "debian12_vm_next.txt").read_bytes().replace(
        b"<<<rc>>>\n", b"<<<nvidia>>>\n" + gpu_csv + b"<<<rc>>>\n", 1)
    return build_report("mig", (parse_output(first, 0, 1.0), parse_output(second, 0, 6.0,
                                                                          asked=frozenset({"nvidia"}))))


def test_summary_reaches_the_report_json_the_sample_row_and_the_probe_text():
    report = _probe_report()
    assert report.gpu_count == 3
    doc, row = report.to_dict(), rows_from_report(report).sample
    for key, value in (("gpu_util_pct", 50.0), ("gpu_unanswered", 1), ("gpu_mem_used_pct", 60.0),
                       ("gpu_mem_fullest_pct", 100.0), ("gpu_temp_max_c", 67.0)):
        assert doc[key] == row[key] == value, key
    lines = render(doc).splitlines()
    [tile] = [line for line in lines if line.startswith("GPUs: mean util")]
    assert tile.split(None, 3)[3] == "50.0 % · fullest memory 100.0 % · hottest 67 °C · not answering 1"


def test_gpu_tile_only_on_a_host_with_gpus():
    from webapp.host_view import tiles
    doc = _probe_report().to_dict()
    gpus = {t["id"]: t for t in tiles(doc)}["gpus"]
    assert (gpus["title"], gpus["value"], gpus["unit"]) == ("GPUs: mean util", 50.0, "%")
    assert gpus["more"] == [("fullest memory", 100.0, "%"), ("hottest", 67.0, "°C"), ("not answering", 1, "count")]
    none = _report("absent").to_dict()
    assert "gpus" not in {t["id"] for t in tiles(none)}
    assert not [line for line in render(none).splitlines() if line.startswith("GPUs: mean util")]
