"""What the overview shows: a card (or a table row) per host from its inventory entry and what the collectors
last wrote (`schema.fleet.HostNow`: state row and newest report), the host's conditions worst first, and
totals over the fleet."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from collector.host_state import FAILING_STATES
from schema.units_format import format_duration
from webapp.access_hint import access_hint
from webapp.host_words import translate_host_message
from webapp.i18n import N_, current, gettext, word as state_word

MAX_GPU_BARS = 16  # GPUs shown on a card; the others are "+N"
GPU_ROW = 8  # GPUs per row of a card's GPU grid (app.css: .gg has 8 columns)
# thresholds of the conditions (`conditions`)
GPU_HOT_C = 80.0  # a card at or above this is hot
DISK_FULL_PCT = 90.0  # a filesystem at or above this is full
MEM_FULL_PCT = 90.0
STALE_INTERVALS = 3  # data older than this many of the host's poll intervals is stale...
STALE_MIN_S = 15.0  # ...and never younger than this (a 1 s interval with a 2 s poll is not stale)
SEVERITIES = ("bad", "warn", "wait", "ok")  # worst first: the card's class and the "problems first" order
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
STATE_WORDS = {"auth_failed": N_("auth failed"), "host_key_mismatch": N_("host key mismatch")}
STATE_CLASS = {"up": "ok", "degraded": "warn", "connecting": "wait"}  # every failing state is "bad"
DEFAULT_SORT = "state"
VIEWS = (N_("cards"), N_("table"))  # also words of the page (the view switch)


class Condition(NamedTuple):
    """One thing wrong with a host (or "connecting"), in words; `title`: the longer story (an error text)."""

    severity: str  # bad, warn or wait
    text: str
    title: str | None = None


class GpuCell(NamedTuple):
    """One GPU of a card: what the card's GPU grid shows (a tuple: 16,000 of them per refresh of a big fleet)."""

    index: int
    util_pct: float | None
    mem_pct: float | None
    temperature_c: float | None
    hot: bool
    lost: bool


GpuBar = GpuCell  # its old name


def _gpu_mem_pct(g: dict[str, Any]) -> float | None:
    used, total = g.get("mem_used_mb"), g.get("mem_total_mb")
    return used / total * 100 if used is not None and total else None


def _gpu_cell(i: int, g: dict[str, Any]) -> GpuCell:
    temp = g.get("temperature_c")
    return GpuCell(g.get("index", i), g.get("util_pct"), _gpu_mem_pct(g), temp,
                   temp is not None and temp >= GPU_HOT_C, bool(g.get("lost")))


def _service_name(name: str) -> str:
    return name.removesuffix(".service")


def conditions(state: str, report: dict[str, Any] | None, *, last_error: str | None = None,
               last_seen_at: float | None = None, interval_s: float | None = None, now: float | None = None,
               firing: Iterable[tuple[str, str]] = ()) -> tuple[Condition, ...]:
    """Everything wrong with a host, worst first (bad, then warn, then wait; within a severity, in the order
    below); empty for a healthy host. `firing`: (rule, severity) of its alerts firing; `now` None: no stale
    check. A value that was not reported (None) is never a condition.

    bad:  a failing state (down, unreachable, auth failed, host key mismatch), an alert firing with severity
          critical, a failed service, a GPU lost, a GPU with uncorrected ECC errors, a GPU at GPU_HOT_C or more
    warn: degraded, another alert firing, a GPU throttled (thermal or hardware slowdown), a disk at
          DISK_FULL_PCT or more, memory at MEM_FULL_PCT or more, stale data (last seen longer ago than
          STALE_INTERVALS polls), the last poll failed (the host keeps its state for a miss or two)
    wait: connecting
    """
    report = report or {}
    found: list[Condition] = []
    failing = state in FAILING_STATES
    if failing:
        text = gettext(STATE_WORDS[state]) if state in STATE_WORDS else state_word(state)
        found.append(Condition("bad", text, last_error))
    for rule, severity in dict.fromkeys(firing):
        found.append(Condition("bad" if severity == "critical" else "warn", gettext("alert firing: %(rule)s") % {"rule": rule}))
    found += [Condition("bad", gettext("failed service: %(unit)s") % {"unit": _service_name(s['name'])})
              for s in report.get("services") or () if s.get("active_state") == "failed"]
    lost, ecc, hot, throttled = [], [], [], []  # one pass over the GPUs (16,000 of them per refresh)
    for i, g in enumerate(report.get("gpus") or ()):
        index = g.get("index", i)
        if g.get("lost"):
            lost.append(Condition("bad", gettext("GPU %(index)s lost") % {"index": index}))
            continue  # what a lost card still says is noise
        errors = g.get("ecc_uncorrected_volatile")
        if errors:
            ecc.append(Condition("bad", gettext("GPU %(index)s ECC errors") % {"index": index},
                                 gettext("%(count)s uncorrected ECC errors") % {"count": errors}))
        temp = g.get("temperature_c")
        if temp is not None and temp >= GPU_HOT_C:
            hot.append((-temp, index, Condition("bad", gettext("GPU %(index)s hot %(temp)s °C")
                                                % {"index": index, "temp": f"{temp:.0f}"})))
        if g.get("reason_thermal") or g.get("reason_hw_slowdown"):
            why = [gettext(w) for w, key in ((N_("thermal"), "reason_thermal"),
                                             (N_("hardware slowdown"), "reason_hw_slowdown"))
                   if g.get(key)]
            throttled.append(Condition("warn", gettext("GPU %(index)s throttled") % {"index": index},
                                       gettext("clocks slowed: %(why)s") % {"why": ", ".join(why)}))
    found += lost + ecc + [c for *_, c in sorted(hot, key=lambda h: h[:2])]
    if state == "degraded":
        found.append(Condition("warn", state_word("degraded"), last_error))
    found += throttled
    disks = [d for d in report.get("disks") or () if d.get("used_pct") is not None
             and d["used_pct"] >= DISK_FULL_PCT]
    found += [Condition("warn", gettext("disk %(mount)s %(pct)s %%") % {"mount": d.get("mount") or "?",
                                                                   "pct": f"{d['used_pct']:.0f}"})
              for d in sorted(disks, key=lambda d: (-d["used_pct"], d.get("mount") or ""))]
    mem = _mem_pct(report)
    if mem is not None and mem >= MEM_FULL_PCT:
        found.append(Condition("warn", gettext("memory %(pct)s %%") % {"pct": f"{mem:.0f}"}))
    if not failing and now is not None and last_seen_at is not None and interval_s:
        age = now - last_seen_at
        if age > max(STALE_INTERVALS * interval_s, STALE_MIN_S):
            found.append(Condition("warn", gettext("stale data: last seen %(age)s ago")
                                   % {"age": format_duration(age, lang=current())}))
    if last_error is not None and state in ("up", "connecting"):
        found.append(Condition("warn", gettext("last poll failed, retrying"), last_error))
    if state == "connecting":
        found.append(Condition("wait", state_word("connecting")))
    found.sort(key=lambda c: SEVERITY_RANK[c.severity])  # stable: the order above within a severity
    return tuple(found)


@dataclass(frozen=True)
class HostCard:
    id: str
    state: str
    address: str
    last_seen_at: float | None
    last_error: str | None
    cpu_pct: float | None
    mem_pct: float | None
    disk_pct: float | None
    disk_mount: str | None
    gpus: tuple[GpuCell, ...]
    gpu_count: int
    gpu_unanswered: int | None  # cards without a utilisation (left out of the mean)
    gpu_mem_fullest_pct: float | None  # the fullest card's memory
    failed_services: tuple[str, ...]
    labels: dict[str, str]
    access_hint: str | None = None  # what to do when the hub cannot log in (webapp/access_hint.py)
    conditions: tuple[Condition, ...] = ()  # worst first (`conditions`); empty: healthy
    gpu_util_mean: float | None = None  # over the cards that report one
    gpu_temp_max: float | None = None
    net_rx_bps: float | None = None
    net_tx_bps: float | None = None

    @property
    def worst(self) -> Condition:
        return self.conditions[0] if self.conditions else Condition("ok", state_word(self.state))

    @property
    def severity(self) -> str:
        """bad, warn, wait or ok: the card's border and tint."""
        return self.worst.severity

    @property
    def others(self) -> tuple[Condition, ...]:
        return self.conditions[1:]

    @property
    def state_class(self) -> str:
        return STATE_CLASS.get(self.state, "bad")

    @property
    def troubled(self) -> bool:
        """Something bad or worth a warning (`conditions`)."""
        return self.severity in ("bad", "warn")

    @property
    def gpu_more(self) -> int:
        return max(0, self.gpu_count - MAX_GPU_BARS)

    @property
    def gpu_rows(self) -> list[tuple[GpuCell, ...]]:
        return [self.gpus[i:i + GPU_ROW] for i in range(0, len(self.gpus), GPU_ROW)]

    @property
    def labels_text(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.labels.items())


@dataclass(frozen=True)
class FleetTotals:
    hosts: int
    up: int
    degraded: int
    down: int
    connecting: int
    failed_services: int
    gpus: int


def _mem_pct(report: dict[str, Any]) -> float | None:
    used, total = report.get("mem_used_bytes"), report.get("mem_total_bytes")
    return used / total * 100 if used is not None and total else None


def _fullest_disk(report: dict[str, Any]) -> tuple[float | None, str | None]:
    disks = [d for d in report.get("disks") or () if d.get("used_pct") is not None]
    if not disks:
        return None, None
    top = max(disks, key=lambda d: d["used_pct"])
    return top["used_pct"], top.get("mount")


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def host_card(spec, status, *, now: float | None = None, firing: Iterable[tuple[str, str]] = ()) -> HostCard:
    """One host's card from its inventory entry and what the hub last saw (`schema.fleet.HostNow`);
    `firing`: (rule, severity) of the host's alerts firing; `now`: for the stale-data check."""
    report = status.report or {}
    gpus = report.get("gpus") or ()
    cells = tuple(_gpu_cell(i, g) for i, g in enumerate(gpus))
    disk_pct, disk_mount = _fullest_disk(report)
    temps = [c.temperature_c for c in cells if c.temperature_c is not None]
    error = translate_host_message(status.last_error)  # in the card's language (the hint reads the English)
    return HostCard(
        id=spec.id, state=status.state, address=spec.address, last_seen_at=status.last_seen_at,
        last_error=error, cpu_pct=report.get("cpu_pct"), mem_pct=_mem_pct(report),
        disk_pct=disk_pct, disk_mount=disk_mount, gpus=cells[:MAX_GPU_BARS],
        gpu_count=len(gpus), gpu_unanswered=report.get("gpu_unanswered"),
        gpu_mem_fullest_pct=report.get("gpu_mem_fullest_pct"),
        failed_services=tuple(s["name"] for s in report.get("services") or () if s.get("active_state") == "failed"),
        labels=dict(spec.labels),
        access_hint=access_hint(spec, status.state, status.last_error),
        conditions=conditions(status.state, report, last_error=error,
                              last_seen_at=status.last_seen_at, interval_s=getattr(spec, "interval_s", None),
                              now=now, firing=firing),
        gpu_util_mean=_mean([c.util_pct for c in cells if c.util_pct is not None]),
        gpu_temp_max=max(temps) if temps else None,
        net_rx_bps=report.get("net_rx_bps"), net_tx_bps=report.get("net_tx_bps"),
    )


def _matches(card: HostCard, query: str) -> bool:
    text = " ".join([card.id, card.address, *(f"{k}={v}" for k, v in card.labels.items())]).lower()
    return all(word in text for word in query.lower().split())


# sort key -> (what the sort menu says, the table's heading, its first order, the value it sorts on);
# `-key`: the other order. Hosts without the value (None) come last either way, by name.
SORT_COLUMNS: dict[str, tuple[str, str, str, Any]] = {
    "state": (N_("problems first"), N_("State"), "ascending", lambda c: SEVERITY_RANK[c.severity]),
    "name": (N_("name"), N_("Host"), "ascending", lambda c: c.id),
    "labels": (N_("labels"), N_("Labels"), "ascending", lambda c: c.labels_text or None),
    "cpu": (N_("busiest CPU first"), N_("CPU"), "descending", lambda c: c.cpu_pct),
    "mem": (N_("fullest memory first"), N_("Memory"), "descending", lambda c: c.mem_pct),
    "disk": (N_("fullest disk first"), N_("Fullest disk"), "descending", lambda c: c.disk_pct),
    "gpus": (N_("most GPUs first"), N_("GPUs"), "descending", lambda c: c.gpu_count or None),
    "gpu_util": (N_("busiest GPUs first"), N_("GPU util"), "descending", lambda c: c.gpu_util_mean),
    "gpu_temp": (N_("hottest GPU first"), N_("Hottest GPU"), "descending", lambda c: c.gpu_temp_max),
    "net_in": (N_("most network in first"), N_("Net in"), "descending", lambda c: c.net_rx_bps),
    "net_out": (N_("most network out first"), N_("Net out"), "descending", lambda c: c.net_tx_bps),
    "seen": (N_("longest unseen first"), N_("Last seen"), "ascending", lambda c: c.last_seen_at),
}
SORTS = {key: col[0] for key, col in SORT_COLUMNS.items()}  # the sort menu


def check_sort(sort: str) -> tuple[str, bool]:
    """(column, reversed) of a sort parameter (`cpu`, `-cpu`); ValueError for an unknown column."""
    column = sort.removeprefix("-")
    if column not in SORT_COLUMNS:
        raise ValueError(f"unknown sort {sort!r}: one of {', '.join(SORT_COLUMNS)} (a leading - reverses it)")
    return column, sort.startswith("-")


def sort_cards(cards: list[HostCard], sort: str) -> list[HostCard]:
    """The cards in the order `sort` asks for: by its value (severity for `state`), ties and hosts without the
    value by name."""
    column, flipped = check_sort(sort)
    value = SORT_COLUMNS[column][3]
    descending = (SORT_COLUMNS[column][2] == "descending") != flipped
    known = [(v, c) for c in cards if (v := value(c)) is not None]
    unknown = sorted((c for c in cards if value(c) is None), key=lambda c: c.id)
    known.sort(key=lambda vc: vc[1].id)  # ties by name, whichever the order
    known.sort(key=lambda vc: vc[0], reverse=descending)
    return [c for _, c in known] + unknown


def fleet(specs, now, *, query: str = "", state: str = "", sort: str = DEFAULT_SORT,
          firing: dict[str, list[tuple[str, str]]] | None = None,
          at: float | None = None) -> tuple[FleetTotals, list[HostCard]]:
    """Totals over the whole fleet, and the cards that match the filter, sorted (`now`: HostNow by id;
    `firing`: each host's (rule, severity) alerts firing; `at`: the time, for stale data). ValueError for
    an unknown sort."""
    check_sort(sort)
    firing = firing or {}
    cards = [host_card(spec, now[host_id], now=at, firing=firing.get(host_id, ()))
             for host_id, spec in specs.items()]
    totals = FleetTotals(
        hosts=len(cards),
        up=sum(c.state == "up" for c in cards),
        degraded=sum(c.state == "degraded" for c in cards),
        down=sum(c.state in FAILING_STATES for c in cards),
        connecting=sum(c.state == "connecting" for c in cards),
        failed_services=sum(len(c.failed_services) for c in cards),
        gpus=sum(c.gpu_count for c in cards),
    )
    if query.strip():
        cards = [c for c in cards if _matches(c, query)]
    if state == "problems":
        cards = [c for c in cards if c.troubled]
    elif state:
        cards = [c for c in cards if c.state == state]
    return totals, sort_cards(cards, sort)
