"""Parse the ``amdgpu`` section: AMD cards read from the amdgpu driver's sysfs files, no tool on the host.

The probe (fw_amdgpu in remote_scripts/probe.sh) prints, for each /sys/class/drm/cardN whose PCI vendor is
0x1002 and that has gpu_busy_percent, a ``card cardN`` line and then raw ``FILE VALUE`` lines for the files it
could read::

    card card1
    PCI_ID 1002:740F                      (device/uevent)
    PCI_SLOT_NAME 0000:63:00.0            (device/uevent)
    product_name AMD Instinct MI210       (the board's FRU; server and workstation cards)
    unique_id 2f3c4a5b6d7e8091            (some cards; the hub's uuid)
    mem_info_vram_total 68702699520       (bytes)
    mem_info_vram_used 11341824           (bytes)
    runtime_status active                 (power/; "suspended": the card sleeps, and nothing below was read)
    gpu_busy_percent 0
    mem_busy_percent 0                    (memory controller; not on APUs)
    temp1_input 34000                     (hwmon: millidegrees C, edge; temp2 junction, temp3 memory)
    power1_average 42000000               (hwmon: microwatts; newer kernels have power1_input instead)
    power1_cap 300000000                  (microwatts)
    freq1_input 800000000                 (hwmon: Hz, shader clock; freq2 memory clock)
    pwm1 81 / pwm1_max 255                (hwmon: fan duty; passively cooled cards have none)

Each card becomes the `Gpu` record the nvidia parser gives (vendor "amd"), numbered 0.. in card-number order
(collector/report.py moves them past the NVIDIA cards of a mixed host). A file the probe could not read is
None, never 0. The card's temperature is its edge sensor, or its junction sensor where the card has no edge
sensor (MI300). A card asleep (runtime PM) runs nothing: its utilisation is 0 and its sensors None.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import ParseError, clean, clip, to_float, to_int
from .nvidia import Gpu
from .registry import Section

MIB = 2**20
MAX_CARDS = 1024  # a host has a few dozen DRM cards at most; more is output to refuse


@dataclass(frozen=True, slots=True)
class AmdgpuResult:
    """The AMD cards, in card-number order, with the DRM card number of each."""

    gpus: tuple[Gpu, ...]
    cards: tuple[int, ...]


def _scaled(values: dict[str, str], key: str, scale: float, nd: int = 2) -> float | None:
    v = to_float(values.get(key, ""))
    return None if v is None else round(v / scale, nd)


def _first(values: dict[str, str], keys: tuple[str, ...], scale: float) -> float | None:
    for key in keys:
        v = _scaled(values, key, scale)
        if v is not None:
            return v
    return None


def _text(values: dict[str, str], key: str, limit: int) -> str | None:
    v = values.get(key, "").strip()
    return clean(v, limit) if v else None


def _fan_pct(values: dict[str, str]) -> float | None:
    pwm, top = to_float(values.get("pwm1", "")), to_float(values.get("pwm1_max", ""))
    return round(100.0 * pwm / top, 1) if pwm is not None and top and pwm <= top else None


def _pct(values: dict[str, str], key: str) -> float | None:
    v = to_float(values.get(key, ""))
    return v if v is not None and v <= 100 else None


def _gpu(index: int, v: dict[str, str]) -> Gpu:
    asleep = v.get("runtime_status") == "suspended"
    pci_id = _text(v, "PCI_ID", 16)
    return Gpu(
        index=index,
        uuid=_text(v, "unique_id", 128),
        name=_text(v, "product_name", 255) or (f"AMD GPU {pci_id}" if pci_id else None),
        pci_bus_id=_text(v, "PCI_SLOT_NAME", 64),
        util_pct=0.0 if asleep else _pct(v, "gpu_busy_percent"),
        mem_util_pct=_pct(v, "mem_busy_percent"),
        mem_used_mb=_scaled(v, "mem_info_vram_used", MIB),
        mem_total_mb=_scaled(v, "mem_info_vram_total", MIB),
        temperature_c=_first(v, ("temp1_input", "temp2_input"), 1000),
        power_w=_first(v, ("power1_average", "power1_input"), 1e6),
        power_limit_w=_scaled(v, "power1_cap", 1e6),
        fan_pct=_fan_pct(v),
        sm_clock_mhz=_scaled(v, "freq1_input", 1e6),
        mem_clock_mhz=_scaled(v, "freq2_input", 1e6),
        vendor="amd",
    )


def parse(text: str) -> AmdgpuResult:
    """One Gpu per ``card`` line; a value line before the first card, or a card line that does not name a
    DRM card (or names one twice), is a ParseError. Unknown files are ignored (a newer probe may read more)."""
    cards: dict[int, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if not line.strip():
            continue
        key, _, value = line.partition(" ")
        if key == "card":
            number = to_int(value[4:]) if value.startswith("card") else None
            if number is None or number in cards or len(cards) >= MAX_CARDS:
                raise ParseError(f"amdgpu: bad card line {clip(line)}")
            current = cards[number] = {}
        elif current is None:
            raise ParseError(f"amdgpu: value before the first card: {clip(line)}")
        else:
            current.setdefault(key, value)
    order = sorted(cards)
    return AmdgpuResult(tuple(_gpu(i, cards[n]) for i, n in enumerate(order)), tuple(order))


SECTION = Section("amdgpu", parse)
