"""GPU health events (collector/gpu_events.py): gpu_lost, gpu_ecc_error, gpu_throttled, poll by poll as the
poller feeds them (sample_events, then carry_over for the next poll), from nvidia-smi's own lines."""
from __future__ import annotations

from pathlib import Path

import pytest

from collector.events import HostSnapshot, carry_over, sample_events
from collector.gpu_events import Card, cards_from_report, cards_from_rows, match
from collector.host_report import HostReport
from collector.parsers import nvidia, rc

NOW = 1_700_000_000.0
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "nvidia"
UUID = {0: "GPU-aaaa0000", 1: "GPU-bbbb1111", 2: "GPU-cccc2222"}
DRIVER_ERROR = (FIXTURES / "driver_error.txt").read_text()
NO_DEVICES = "No devices were found"
NO_HANDLE = "Unable to determine the device handle for GPU0000:0F:00.0: Unknown Error"
THERMAL, HW_SLOWDOWN, POWER_CAP, IDLE = "0x0000000000000040", "0x0000000000000008", "0x0000000000000004", "0x1"


def row(index: int, uuid: str | None = "", *, temp: str = "45", reasons: str = POWER_CAP, ecc: str = "0",
        ecc_life: str = "0", sm: str = "1410") -> str:
    """One line of the probe's nvidia-smi query (QUERY_FIELDS); uuid "" -> the card's own, None -> [N/A]."""
    u = UUID[index] if uuid == "" else (uuid or "[N/A]")
    return (f"{index}, {u}, NVIDIA A100-SXM4-80GB, 00000000:0{index}:00.0, 37, 12, 20480, 81920, {temp}, 92.15, "
            f"400.00, [N/A], {sm}, 1593, P0, 4, 16, Enabled, Disabled, {reasons}, 0, {ecc}, 0, {ecc_life}, [N/A], No")


def lost(index: int, word: str = "[Unknown Error]", uuid: str | None = "") -> str:
    u = UUID[index] if uuid == "" else (uuid or word)
    return f"{index}, {u}, NVIDIA A100-SXM4-80GB, 00000000:0{index}:00.0" + f", {word}" * 22


def report(text: str, ts: float = NOW, status: int = 0) -> HostReport:
    """A report as build_report gives it: the parsed nvidia and rc sections, their GPUs."""
    rec = nvidia.parse(text)
    errors = {"nvidia": "; ".join(rec.errors)} if rec.errors else {}
    return HostReport("gpu-box", "degraded" if errors else "up", ts, errors, uptime_s=1000.0 + ts - NOW,
                      gpus=rec.gpus, sections={"nvidia": rec, "rc": rc.parse(f"nvidia {status}")})


def run(*polls: str | tuple[str, int]) -> list[list[tuple[str, str | None]]]:
    """Each poll's nvidia-smi output (or (output, exit status)) through the poller's path; each poll's events."""
    prev, out = None, []
    for i, poll in enumerate(polls):
        text, status = poll if isinstance(poll, tuple) else (poll, 0)
        cur = HostSnapshot.from_report(report(text, NOW + 5 * i, status))
        out.append([(e.type, e.subject) for e in sample_events("gpu-box", prev, cur, cur.ts)
                    if e.type.startswith("gpu_") and e.type != "gpu_hot"])
        prev = carry_over(prev, cur)
    return out


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


TWO = lines(row(0), row(1))
LOST = [("gpu_lost", "1")]

TABLE = {
    # name: (polls, events per poll)
    # -- gpu_lost: a card that says it is lost
    "lost_appears": ([TWO, lines(row(0), lost(1))], [[], LOST]),
    "lost_stays": ([TWO, lines(row(0), lost(1)), lines(row(0), lost(1)), lines(row(0), lost(1))],
                   [[], LOST, [], []]),
    "lost_recovers_then_again": ([TWO, lines(row(0), lost(1)), TWO, lines(row(0), lost(1))],
                                 [[], LOST, [], LOST]),
    "gpu_is_lost_text": ([TWO, lines(row(0), lost(1, "[GPU is lost]"))], [[], LOST]),
    "lost_card_without_uuid": ([TWO, lines(row(0), lost(1, uuid=None))], [[], LOST]),
    "lost_at_first_poll": ([lines(row(0), lost(1))], [LOST]),
    # -- gpu_lost: a card that vanishes while nvidia-smi answers for the others
    "card_gone": ([TWO, lines(row(0))], [[], LOST]),
    "card_gone_stays_gone": ([TWO, lines(row(0)), lines(row(0)), lines(row(0))], [[], LOST, [], []]),
    "card_gone_with_no_handle_line": ([TWO, lines(row(0), NO_HANDLE)], [[], LOST]),
    "only_card_gone_with_no_handle_line": ([lines(row(0)), lines(NO_HANDLE)], [[], [("gpu_lost", "0")]]),
    "card_comes_back": ([TWO, lines(row(0)), TWO, TWO], [[], LOST, [], []]),
    "card_comes_back_then_gone_again": ([TWO, lines(row(0)), TWO, lines(row(0))], [[], LOST, [], LOST]),
    "lost_then_gone_then_lost": ([TWO, lines(row(0), lost(1)), lines(row(0)), lines(row(0), lost(1))],
                                 [[], LOST, [], []]),
    "gone_then_back_lost": ([TWO, lines(row(0)), lines(row(0), lost(1))], [[], LOST, []]),
    "renumbered_same_uuid": ([TWO, lines(row(0, UUID[1]), row(1, UUID[0]))], [[], []]),
    "renumbered_one_gone": ([TWO, lines(row(0, UUID[1]))], [[], [("gpu_lost", "0")]]),
    "no_uuids_by_index": ([lines(row(0, None), row(1, None)), lines(row(0, None))], [[], LOST]),
    "card_swapped_new_uuid": ([TWO, lines(row(0), row(1, "GPU-new"))], [[], LOST]),
    "card_added": ([lines(row(0)), TWO], [[], []]),
    # -- no list of cards: no gpu_lost storm, and the cards before are compared with the next list
    "driver_failure_no_storm": ([TWO, (DRIVER_ERROR, 9), (DRIVER_ERROR, 9), TWO], [[], [], [], []]),
    "no_devices_no_storm": ([TWO, (NO_DEVICES, 6), TWO], [[], [], []]),
    "timed_out_half_list": ([TWO, (lines(row(0)), 124)], [[], []]),
    "empty_output": ([TWO, ""], [[], []]),
    "absent": ([TWO, "absent\n"], [[], []]),
    "gone_across_driver_failure": ([TWO, (DRIVER_ERROR, 9), lines(row(0))], [[], [], LOST]),
    "driver_failure_at_start": ([(DRIVER_ERROR, 9), TWO, TWO], [[], [], []]),
    # -- gpu_ecc_error: the uncorrected count rises
    "ecc_rises": ([TWO, lines(row(0, ecc="2"), row(1))], [[], [("gpu_ecc_error", "0")]]),
    "ecc_stays": ([lines(row(0, ecc="2")), lines(row(0, ecc="2"))], [[], []]),
    "ecc_rises_twice": ([lines(row(0)), lines(row(0, ecc="1")), lines(row(0, ecc="3"))],
                        [[], [("gpu_ecc_error", "0")], [("gpu_ecc_error", "0")]]),
    "ecc_reset_by_driver_reload": ([lines(row(0, ecc="5")), lines(row(0, ecc="0"))], [[], []]),
    "ecc_none_then_value": ([lines(row(0, ecc="[N/A]", ecc_life="[N/A]")), lines(row(0, ecc="4"))], [[], []]),
    "ecc_value_then_none": ([lines(row(0, ecc="4")), lines(row(0, ecc="[N/A]", ecc_life="[N/A]"))], [[], []]),
    "ecc_aggregate_fallback": ([lines(row(0, ecc="[N/A]", ecc_life="7")), lines(row(0, ecc="[N/A]", ecc_life="9"))],
                               [[], [("gpu_ecc_error", "0")]]),
    "ecc_first_poll": ([lines(row(0, ecc="9"))], [[]]),
    "ecc_renumbered_card": ([TWO, lines(row(0, UUID[1], ecc="1"), row(1, UUID[0]))], [[], [("gpu_ecc_error", "0")]]),
    "ecc_new_card_is_not_a_rise": ([lines(row(0)), lines(row(0), row(1, ecc="3"))], [[], []]),
    # -- gpu_throttled: thermal or HW slowdown two polls in a row
    "throttle_one_poll": ([TWO, lines(row(0, reasons=THERMAL), row(1)), TWO], [[], [], []]),
    "throttle_two_polls": ([TWO, lines(row(0, reasons=THERMAL), row(1)), lines(row(0, reasons=THERMAL), row(1))],
                           [[], [], [("gpu_throttled", "0")]]),
    "throttle_stays": ([lines(row(0, reasons=HW_SLOWDOWN))] * 5, [[], [("gpu_throttled", "0")], [], [], []]),
    "throttle_clears_and_again": ([lines(row(0, reasons=THERMAL))] * 2 + [lines(row(0))]
                                  + [lines(row(0, reasons=THERMAL))] * 2,
                                  [[], [("gpu_throttled", "0")], [], [], [("gpu_throttled", "0")]]),
    "throttle_reason_changes": ([lines(row(0, reasons=THERMAL)), lines(row(0, reasons=HW_SLOWDOWN)),
                                 lines(row(0, reasons="0x48"))], [[], [("gpu_throttled", "0")], []]),
    "power_cap_is_not_throttle": ([lines(row(0, reasons=POWER_CAP))] * 3, [[], [], []]),
    "idle_is_not_throttle": ([lines(row(0, reasons=IDLE))] * 3, [[], [], []]),
    "throttle_unknown_keeps_count": ([lines(row(0, reasons=THERMAL)), lines(row(0, reasons="[N/A]")),
                                      lines(row(0, reasons=THERMAL))], [[], [], [("gpu_throttled", "0")]]),
    "throttle_across_driver_failure": ([lines(row(0, reasons=THERMAL)), (DRIVER_ERROR, 9),
                                        lines(row(0, reasons=THERMAL))], [[], [], [("gpu_throttled", "0")]]),
    "throttle_renumbered": ([TWO, lines(row(0, reasons=THERMAL), row(1)),
                             lines(row(0, UUID[1]), row(1, UUID[0], reasons=THERMAL))],
                            [[], [], [("gpu_throttled", "1")]]),
    "throttle_old_driver_none": ([lines(row(0).rsplit(", ", 14)[0])] * 3, [[], [], []]),
    # -- all at once, in card order
    "three_at_once": ([lines(row(0, reasons=THERMAL), row(1), row(2)),
                       lines(row(0, reasons=THERMAL, ecc="1"), lost(1))],
                      [[], [("gpu_ecc_error", "0"), ("gpu_throttled", "0"), ("gpu_lost", "1"), ("gpu_lost", "2")]]),
}


@pytest.mark.parametrize("polls,expected", list(TABLE.values()), ids=list(TABLE))
def test_gpu_events_poll_by_poll(polls, expected):
    assert run(*polls) == expected


def events_of(*texts: str) -> list:
    prev, out = None, []
    for i, text in enumerate(texts):
        cur = HostSnapshot.from_report(report(text, NOW + 5 * i))
        out = sample_events("gpu-box", prev, cur, cur.ts)
        prev = carry_over(prev, cur)
    return [e for e in out if e.type != "gpu_hot"]


def test_gpu_lost_message_names_the_card_and_what_to_do():
    (e,) = events_of((FIXTURES / "a100x2_full.csv").read_text(), (FIXTURES / "unknown_error_full.csv").read_text())
    assert e.type == "gpu_lost" and e.subject == "1" and e.host_id == "gpu-box"
    assert e.message.startswith("GPU 1 (NVIDIA A100-SXM4-80GB, GPU-0b7d2c44-1a9e-4c3b-8f21-6e5d4c3b2a10) on gpu-box"
                                " is lost")
    assert "dmesg" in e.message and "Xid" in e.message and "reboot" in e.message and "nvidia-smi -r -i 1" in e.message
    assert e.details == {"index": 1, "uuid": "GPU-0b7d2c44-1a9e-4c3b-8f21-6e5d4c3b2a10",
                         "name": "NVIDIA A100-SXM4-80GB", "how": "lost"}
    (gone,) = events_of(TWO, lines(row(0)))
    assert "is gone: nvidia-smi no longer lists it" in gone.message and gone.details["how"] == "gone"
    assert gone.details["uuid"] == UUID[1] and "dmesg" in gone.message


def test_gpu_ecc_message_has_before_and_after():
    (e,) = events_of(lines(row(0, ecc="1")), lines(row(0, ecc="4")))
    assert e.type == "gpu_ecc_error" and "rose from 1 to 4 (since the driver loaded)" in e.message
    assert "Drain the card" in e.message and "ROW_REMAPPER" in e.message
    assert e.details == {"index": 0, "uuid": UUID[0], "name": "NVIDIA A100-SXM4-80GB", "counter": "volatile",
                         "before": 1, "after": 4}
    (life,) = events_of(lines(row(0, ecc="[N/A]", ecc_life="7")), lines(row(0, ecc="[N/A]", ecc_life="9")))
    assert "over the card's life" in life.message and (life.details["before"], life.details["after"]) == (7, 9)


@pytest.mark.parametrize("reasons,said,advice", [
    (THERMAL, "held back by thermal for 2 polls", "Check its cooling"),
    (HW_SLOWDOWN, "held back by HW slowdown for 2 polls", "HW slowdown is the board's own brake"),
    ("0x48", "held back by thermal and HW slowdown for 2 polls", "dust; HW slowdown is the board's own brake"),
])
def test_gpu_throttled_message_says_which_reason(reasons, said, advice):
    text = lines(row(0, reasons=reasons, temp="91", sm="1005"))
    (e,) = events_of(text, text)
    assert e.type == "gpu_throttled" and said in e.message and advice in e.message
    assert "(now 91 °C, SM clock 1005 MHz, memory clock 1593 MHz)" in e.message
    assert e.details["temperature_c"] == 91.0 and e.details["sm_clock_mhz"] == 1005.0


def test_gpu_throttled_message_without_temperature_or_clocks():
    text = lines(row(0, reasons=THERMAL, temp="[N/A]", sm="[N/A]").replace(", 1593,", ", [N/A],"))
    (e,) = events_of(text, text)
    assert "polls in a row: jobs on it run slower" in e.message and "now" not in e.message


def test_cards_from_report():
    cards = cards_from_report(report((FIXTURES / "throttled_full.csv").read_text()))
    assert [(c.index, c.lost, c.thermal, c.hw_slowdown, c.ecc_volatile, c.throttled_polls) for c in cards] == [
        (0, False, True, False, 2, 1), (1, False, False, True, 0, 1), (2, False, None, None, None, 0),
        (3, True, None, None, None, 0)]
    assert cards_from_report(report(DRIVER_ERROR, status=9)) is None
    assert cards_from_report(HostReport("h", "up", NOW, {})) is None  # no nvidia section (gpu: off)


def test_cards_from_stored_rows():
    """After a restart: a stored card with no metric was lost; held-back clocks count as reported."""
    rows = [{"gpu_index": 0, "uuid": UUID[0], "name": "A100", "temperature_c": 90.0, "throttle_thermal": 1,
             "throttle_hw_slowdown": 0, "ecc_uncorrected_volatile": 2, "ecc_uncorrected_aggregate": 2},
            {"gpu_index": 1, "uuid": UUID[1], "name": "A100", "temperature_c": None, "throttle_thermal": None,
             "ecc_uncorrected_volatile": None}]
    restored = cards_from_rows(rows)
    assert [(c.index, c.lost, c.throttled_polls, c.ecc_volatile) for c in restored] == [(0, False, 2, 2),
                                                                                        (1, True, 0, None)]
    assert cards_from_rows([]) is None
    prev = HostSnapshot.of(NOW, 1000.0, {}, {}, restored)
    cur = HostSnapshot.from_report(report(lines(row(0, reasons=THERMAL, ecc="2"), lost(1)), NOW + 5))
    assert [e.type for e in sample_events("gpu-box", prev, cur, NOW + 5)] == []  # nothing new since the restart
    cur = HostSnapshot.from_report(report(lines(row(0, reasons=THERMAL, ecc="3"), row(1)), NOW + 5))
    assert [e.type for e in sample_events("gpu-box", prev, cur, NOW + 5)] == ["gpu_ecc_error"]


def test_cards_from_the_rows_the_recorder_stores():
    """The stored columns (rows_from_report) give back what the events compare."""
    from collector.recorder import rows_from_report

    rows = rows_from_report(report((FIXTURES / "throttled_full.csv").read_text())).gpus
    kept = [(c.index, c.uuid, c.lost, c.thermal, c.hw_slowdown, c.ecc_volatile, c.ecc_aggregate, c.temperature_c)
            for c in cards_from_rows(rows)]
    live = [(c.index, c.uuid, c.lost, c.thermal, c.hw_slowdown, c.ecc_volatile, c.ecc_aggregate, c.temperature_c)
            for c in cards_from_report(report((FIXTURES / "throttled_full.csv").read_text()))]
    assert kept == live and [k[2] for k in kept] == [False, False, False, True]


def test_match_prefers_uuid_over_index():
    a, b = Card(0, "GPU-a", None), Card(1, "GPU-b", None)
    pairs, gone, new = match([a, b], [Card(0, None, None), Card(1, "GPU-b", None), Card(2, "GPU-c", None)])
    assert [(p.uuid, c.index) for p, c in pairs] == [("GPU-b", 1), ("GPU-a", 0)]
    assert gone == [] and [c.uuid for c in new] == ["GPU-c"]
    # both with a UUID, different ones: another card in the same slot
    pairs, gone, new = match([a], [Card(0, "GPU-x", None)])
    assert pairs == [] and gone == [a] and [c.uuid for c in new] == ["GPU-x"]


def test_the_first_snapshot_after_start_raises_only_lost_cards():
    cur = HostSnapshot.from_report(report(lines(row(0, reasons=THERMAL, ecc="5"), lost(1))))
    assert [(e.type, e.subject) for e in sample_events("gpu-box", None, cur, NOW)] == [("gpu_lost", "1")]


def test_the_new_types_are_known_wherever_event_types_are_checked():
    """The database's list (API and page filters), the alert rules' event list and the events page's colours."""
    from collector.gpu_events import GPU_EVENT_TYPES
    from inventory.alert_models import EVENTS
    from schema.models import EVENT_TYPES
    from webapp.pages.events import SEVERITY

    assert GPU_EVENT_TYPES == ("gpu_lost", "gpu_ecc_error", "gpu_throttled")
    assert set(GPU_EVENT_TYPES) <= set(EVENT_TYPES) and set(SEVERITY) == set(EVENT_TYPES)
    assert all(EVENTS[t] is None for t in GPU_EVENT_TYPES)  # one-shot: fire and resolve at once
    assert set(EVENTS) | {r for r in EVENTS.values() if r} <= set(EVENT_TYPES)
