"""GPU health events (pure, explicit time): `gpu_lost`, `gpu_ecc_error`, `gpu_throttled`.

A card is followed from poll to poll by its UUID (by its index where nvidia-smi gives no UUID), so a card
that the driver numbers anew is the same card. The cards of a poll are only compared when nvidia-smi
answered for the host: a driver failure ("couldn't communicate with the NVIDIA driver"), "No devices were
found", a timed-out nvidia-smi or a host without it give no list of cards (`cards_from_report` -> None).
That is a section error and a degraded host already, not a `gpu_lost` for every card; the cards seen before
are kept (`carry_cards`) and compared with the next list that comes.

The snapshot kept for the next poll (`carry_cards`) counts each card's polls in a row with its clocks held
back, and keeps a card that vanished as a lost "ghost", so that a lost card that comes and goes from
nvidia-smi's list is reported once.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from collector.event_draft import EventDraft
from collector.reading import EXIT_MEANING

if TYPE_CHECKING:
    from collector.host_report import HostReport
    from collector.parsers.nvidia import Gpu

GPU_EVENT_TYPES = ("gpu_lost", "gpu_ecc_error", "gpu_throttled")
THROTTLED_POLLS = 2  # polls in a row with thermal or HW slowdown before gpu_throttled
# nvidia-smi's line for a card it cannot open while it answers for the others ("... GPU is lost. Reboot ...")
NO_HANDLE = "Unable to determine the device handle"
# the GPU columns a stored sample keeps besides the metrics (schema GpuSample, schema.samples.latest_sample)
_ROW_IDENTITY = frozenset({"vendor", "gpu_index", "uuid", "name", "host_id", "ts", "id"})


@dataclass(frozen=True, slots=True)
class Card:
    """What the GPU events need of one card in one poll (None: not reported)."""

    index: int
    uuid: str | None
    name: str | None
    lost: bool = False
    ecc_volatile: int | None = None  # uncorrected ECC errors since the driver loaded
    ecc_aggregate: int | None = None  # uncorrected ECC errors over the card's life
    thermal: bool | None = None
    hw_slowdown: bool | None = None
    temperature_c: float | None = None
    sm_clock_mhz: float | None = None
    mem_clock_mhz: float | None = None
    throttled_polls: int = 0  # polls in a row with thermal or HW slowdown, this one included (carry_cards
    # counts on from the poll before; a card of one poll alone has 1 or 0)
    gone: bool = False  # no longer listed by nvidia-smi: kept by carry_cards, already reported lost

    @classmethod
    def of(cls, g: Gpu) -> Card:
        card = cls(g.index, g.uuid, g.name, g.lost, g.ecc_uncorrected_volatile, g.ecc_uncorrected_aggregate,
                   g.reason_thermal, g.reason_hw_slowdown, g.temperature_c, g.sm_clock_mhz, g.mem_clock_mhz)
        return dataclasses.replace(card, throttled_polls=1) if card.throttled else card

    @property
    def throttled(self) -> bool | None:
        """Clocks held back by thermal or HW slowdown; None where neither reason is reported (a lost card)."""
        if self.lost or (self.thermal is None and self.hw_slowdown is None):
            return None
        return bool(self.thermal or self.hw_slowdown)

    def describe(self, host_id: str) -> str:
        return f"GPU {self.index} ({self.name or 'model unknown'}, {self.uuid or 'no UUID'}) on {host_id}"


def cards_from_report(report: HostReport) -> tuple[Card, ...] | None:
    """The cards of a probe, or None where nvidia-smi did not answer for the host (see the module doc)."""
    rc = report.section("rc")
    if rc is not None and rc.get("nvidia") in EXIT_MEANING:  # timed out or not run: the list may be cut short
        return None
    rec = report.section("nvidia")
    if rec is not None and (rec.absent or (not rec.gpus and not any(NO_HANDLE in e for e in rec.errors))):
        return None  # no nvidia-smi, or only its error text (driver failure, "No devices were found")
    if rec is None and not report.gpus:
        return None
    return tuple(Card.of(g) for g in report.gpus)


def cards_from_rows(rows: Iterable[Mapping[str, Any]]) -> tuple[Card, ...] | None:
    """The cards of a stored sample (schema.samples.latest_sample's "gpus"), when the hub starts again.

    A card stored with no metric at all was lost; clocks held back at the last sample count as already
    reported. No rows: not known (a stored sample does not tell "no cards" from "driver failure")."""
    def flag(v: Any) -> bool | None:
        return None if v is None else bool(v)
    cards = []
    for r in rows:
        lost = all(v is None for k, v in r.items() if k not in _ROW_IDENTITY)
        card = Card(int(r["gpu_index"]), r.get("uuid"), r.get("name"), lost, r.get("ecc_uncorrected_volatile"),
                    r.get("ecc_uncorrected_aggregate"), flag(r.get("throttle_thermal")),
                    flag(r.get("throttle_hw_slowdown")), r.get("temperature_c"), r.get("sm_clock_mhz"),
                    r.get("mem_clock_mhz"))
        cards.append(dataclasses.replace(card, throttled_polls=THROTTLED_POLLS if card.throttled else 0))
    return tuple(cards) or None


def match(prev: Iterable[Card], cur: Iterable[Card]) -> tuple[list[tuple[Card, Card]], list[Card], list[Card]]:
    """(pairs of the same card, cards of prev not in cur, cards of cur not in prev).

    The same UUID is the same card whatever its index; by index only where one of the two has no UUID
    (a lost card may answer [Unknown Error] for it too)."""
    left = list(prev)
    by_uuid = {p.uuid: p for p in left if p.uuid}
    pairs: list[tuple[Card, Card]] = []
    new: list[Card] = []
    rest: list[Card] = []
    for c in cur:
        p = by_uuid.pop(c.uuid, None) if c.uuid else None
        if p is not None:
            pairs.append((p, c))
            left.remove(p)
        else:
            rest.append(c)
    for c in rest:
        p = next((p for p in left if p.index == c.index and (p.uuid is None or c.uuid is None)), None)
        if p is None:
            new.append(c)
        else:
            pairs.append((p, c))
            left.remove(p)
    return pairs, left, new


def _streak(before: int, card: Card) -> int:
    """Polls in a row with clocks held back, this one included; a poll that does not say keeps the count."""
    throttled = card.throttled
    if throttled is None:
        return before
    return min(before + 1, THROTTLED_POLLS) if throttled else 0


def carry_cards(prev: tuple[Card, ...] | None, cur: tuple[Card, ...] | None) -> tuple[Card, ...] | None:
    """The cards to keep for the next poll: cur with its throttled-poll counts, plus the lost ones that
    vanished; prev again where this poll gave no list of cards."""
    if cur is None:
        return prev
    pairs, gone, new = match(prev or (), cur)
    kept = [dataclasses.replace(c, throttled_polls=_streak(p.throttled_polls, c)) for p, c in pairs]
    kept += [dataclasses.replace(c, throttled_polls=_streak(0, c)) for c in new]
    kept += [dataclasses.replace(p, lost=True, gone=True, throttled_polls=0) for p in gone]
    return tuple(sorted(kept, key=lambda c: (c.gone, c.index)))


_NEXT_LOST = ("Check `dmesg` on the host for NVIDIA Xid errors (79: fallen off the bus, 48: double-bit ECC); "
              "drain its jobs, then a reset (`nvidia-smi -r -i {index}`) or, usually, a reboot brings it back. "
              "If it keeps happening, check the card's seating, power and cooling, or replace it.")


def _lost_event(host_id: str, card: Card, now: float, how: str) -> EventDraft:
    if how == "gone":
        what = "is gone: nvidia-smi no longer lists it while it answers for the host"
    else:
        what = "is lost: nvidia-smi answers \"GPU is lost\" or [Unknown Error] for it"
    return EventDraft(now, host_id, "gpu_lost", str(card.index),
                      f"{card.describe(host_id)} {what}. {_NEXT_LOST.format(index=card.index)}",
                      {"index": card.index, "uuid": card.uuid, "name": card.name, "how": how})


def _ecc_counts(p: Card, c: Card) -> tuple[str, int, int] | None:
    """(counter, before, after) of the uncorrected ECC errors: volatile where both polls report it, else
    aggregate; None where neither is known in both."""
    if p.ecc_volatile is not None and c.ecc_volatile is not None:
        return "volatile", p.ecc_volatile, c.ecc_volatile
    if p.ecc_aggregate is not None and c.ecc_aggregate is not None:
        return "aggregate", p.ecc_aggregate, c.ecc_aggregate
    return None


def _ecc_event(host_id: str, p: Card, c: Card, now: float) -> EventDraft | None:
    counts = _ecc_counts(p, c)
    if counts is None or counts[2] <= counts[1]:
        return None
    counter, before, after = counts
    since = "since the driver loaded" if counter == "volatile" else "over the card's life"
    return EventDraft(now, host_id, "gpu_ecc_error", str(c.index),
                      f"{c.describe(host_id)}: uncorrected ECC errors rose from {before} to {after} ({since}). "
                      "Data in the card's memory was corrupted: jobs on it may have crashed or computed wrong "
                      "results. Drain the card, check `nvidia-smi -q -d ECC,ROW_REMAPPER,PAGE_RETIREMENT` for "
                      "pending row remaps or retired pages, and reset the GPU (or reboot) to apply them; replace "
                      "the card if the count keeps rising.",
                      {"index": c.index, "uuid": c.uuid, "name": c.name, "counter": counter, "before": before,
                       "after": after})


def _num(v: float) -> str:
    return f"{v:g}"


def _throttle_event(host_id: str, c: Card, now: float) -> EventDraft:
    reasons = [r for r, on in (("thermal", c.thermal), ("HW slowdown", c.hw_slowdown)) if on]
    known = [f"{_num(v)} {unit}" if label == "" else f"{label} {_num(v)} {unit}"
             for label, v, unit in (("", c.temperature_c, "°C"), ("SM clock", c.sm_clock_mhz, "MHz"),
                                    ("memory clock", c.mem_clock_mhz, "MHz")) if v is not None]
    now_at = f" (now {', '.join(known)})" if known else ""
    advice = []
    if c.thermal:
        advice.append("Check its cooling: fans, airflow, inlet temperature, dust")
    if c.hw_slowdown:
        advice.append("HW slowdown is the board's own brake (over-temperature or power): check the power "
                      "supply and cables, and the cooling")
    return EventDraft(now, host_id, "gpu_throttled", str(c.index),
                      f"{c.describe(host_id)} has its clocks held back by {' and '.join(reasons)} for "
                      f"{THROTTLED_POLLS} polls in a row{now_at}: jobs on it run slower. "
                      f"{'; '.join(advice)}; `nvidia-smi -q -d PERFORMANCE` shows the reasons.",
                      {"index": c.index, "uuid": c.uuid, "name": c.name, "thermal": c.thermal,
                       "hw_slowdown": c.hw_slowdown, "temperature_c": c.temperature_c,
                       "sm_clock_mhz": c.sm_clock_mhz, "mem_clock_mhz": c.mem_clock_mhz})


def gpu_health_events(host_id: str, prev: tuple[Card, ...] | None, cur: tuple[Card, ...] | None,
                      now: float) -> list[EventDraft]:
    """gpu_lost, gpu_ecc_error and gpu_throttled between the kept cards (`carry_cards`) and this poll's."""
    if cur is None:  # nvidia-smi did not answer for the host: nothing to compare
        return []
    pairs, gone, new = match(prev or (), cur)
    out: list[EventDraft] = []
    for p, c in pairs:
        if c.lost and not p.lost:
            out.append(_lost_event(host_id, c, now, "lost"))
        ecc = _ecc_event(host_id, p, c, now)
        if ecc is not None:
            out.append(ecc)
        if _streak(p.throttled_polls, c) == THROTTLED_POLLS > p.throttled_polls:
            out.append(_throttle_event(host_id, c, now))
    out += [_lost_event(host_id, p, now, "gone") for p in gone if not p.lost]
    out += [_lost_event(host_id, c, now, "lost") for c in new if c.lost]
    return sorted(out, key=lambda e: (int(e.subject or 0), e.type))
