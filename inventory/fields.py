"""Annotated field types shared by the inventory models (validation lives in patterns.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema, WrapValidator

from .durations import DURATION_HINT, parse_duration
from .patterns import (
    _shown,
    validate_address,
    validate_host_id,
    validate_host_key,
    validate_interface,
    validate_label_key,
    validate_label_value,
    validate_mount,
    validate_unit,
    validate_user,
)

GpuMode = Literal["auto", "off", "nvidia"]
GPU_MODES: tuple[str, ...] = ("auto", "off", "nvidia")
# `disks:` as a word instead of a list: every local filesystem that holds data, and with tmpfs too
DiskMode = Literal["all", "all+tmpfs"]
DISK_MODES: tuple[str, ...] = ("all", "all+tmpfs")


def _port(value: Any) -> Any:
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"port must be a whole number from 1 to 65535, got {_shown(value)}")
    return value


def _interval(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds < 1:
        raise ValueError(f"interval must be at least 1s, got {value!r}")
    return seconds


def _timeout(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError(f"timeout must be greater than 0, got {value!r}")
    return seconds


# The GPU processes cost a second nvidia-smi call (tens of ms of a real host's CPU): every 30 s, not every probe
GPU_PROCESSES_EVERY_S = 30.0


def _gpu_processes(value: Any) -> float:
    """How often the GPU processes are read: a duration of at least 5s, or off (0)."""
    if value is False or (isinstance(value, str) and value.strip().lower() == "off"):  # YAML reads a bare off
        return 0.0
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ValueError(f'gpu_processes must be a duration like "30s" or "2m", or off; {exc}') from None
    if seconds < 5:
        raise ValueError(f"gpu_processes must be at least 5s (each read is one more nvidia-smi call, tens of ms "
                         f"of the host's CPU), or off; got {value!r}")
    return seconds


def _gpu(value: Any) -> Any:
    if value is False:  # YAML 1.1 reads a bare `off` / `no` as false
        return "off"
    if isinstance(value, str) and value.strip().lower() in GPU_MODES:
        return value.strip().lower()
    hint = " (YAML reads a bare on/yes/true as a boolean)" if value is True else ""
    raise ValueError(f'gpu must be "auto", "off" or "nvidia", got {_shown(value)}{hint}')


def _file_path(value: Any) -> Any:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("path must not be empty")
        if any(ord(c) < 32 for c in value):
            raise ValueError("path must not contain control characters (newline, tab, ...)")
    return value


def _identity_file(value: Any) -> Any:
    if isinstance(value, str) and value.strip().endswith(".pub"):
        raise ValueError(f"identity_file must be the private key, not the public key {_shown(value)}")
    return value


def _disks(value: Any, handler: Any) -> Any:
    if isinstance(value, str):
        if value.strip().lower() in DISK_MODES:
            return value.strip().lower()
        raise ValueError(f'disks must be "all", "all+tmpfs" or a list of mount points like ["/", "/data"], '
                         f'got {_shown(value)}')
    return handler(value)


def _interfaces(value: Any) -> Any:
    example = 'a list of interface names or globs like [eth0, "en*"]'
    if isinstance(value, (str, dict)) or (value is not None and not isinstance(value, (list, tuple))):
        raise ValueError(f"interfaces must be {example}, got {_shown(value)}")
    if value is not None and not value:
        raise ValueError(f"interfaces must be {example}; leave it out to let the hub choose (empty counts nothing)")
    return value


def none_as(default: Any) -> BeforeValidator:
    return BeforeValidator(lambda v: default() if v is None else v)


Port = Annotated[int, Field(ge=1, le=65535), BeforeValidator(_port)]
User = Annotated[str, AfterValidator(validate_user)]
HostId = Annotated[str, AfterValidator(validate_host_id)]
Address = Annotated[str, AfterValidator(validate_address)]
FilePath = Annotated[str, AfterValidator(_file_path)]
KeyPath = Annotated[str, AfterValidator(_identity_file), AfterValidator(_file_path)]
HostKey = Annotated[str, AfterValidator(validate_host_key)]
Unit = Annotated[str, AfterValidator(validate_unit)]
MountPoint = Annotated[str, AfterValidator(validate_mount)]
_DURATION_SCHEMA = {"anyOf": [{"type": "string"}, {"type": "number"}], "description": DURATION_HINT}
Interval = Annotated[float, BeforeValidator(_interval), WithJsonSchema(_DURATION_SCHEMA)]
Timeout = Annotated[float, BeforeValidator(_timeout), WithJsonSchema(_DURATION_SCHEMA)]
Gpu = Annotated[GpuMode, BeforeValidator(_gpu)]
GpuProcesses = Annotated[float, BeforeValidator(_gpu_processes), WithJsonSchema(_DURATION_SCHEMA)]
# Either a DiskMode ("all", "all+tmpfs") or a list of mount points.
Disks = Annotated[
    list[MountPoint],
    WrapValidator(_disks),
    PlainSerializer(lambda v: v if isinstance(v, str) else list(v)),
    WithJsonSchema({"anyOf": [{"enum": list(DISK_MODES)}, {"type": "array", "items": {"type": "string"}}]}),
]
Interface = Annotated[str, AfterValidator(validate_interface)]
# The interfaces the network totals count, by name or glob (unset: the hub chooses; collector/net_counting.py).
Interfaces = Annotated[list[Interface], BeforeValidator(_interfaces)]
LabelKey = Annotated[str, AfterValidator(validate_label_key)]
LabelValue = Annotated[str, BeforeValidator(validate_label_value)]
