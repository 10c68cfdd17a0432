"""Pydantic models of the inventory file (SPEC section 2).

``Inventory`` mirrors the YAML as written (host entries with optional
overrides); ``Inventory.resolved_hosts()`` turns each entry into a frozen
``HostSpec`` where every field is filled from the entry or from ``defaults``.
"""

from __future__ import annotations

import difflib
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .fields import (
    GPU_MODES,
    GPU_PROCESSES_EVERY_S,
    Address,
    DiskMode,
    Disks,
    FilePath,
    Gpu,
    GpuMode,
    GpuProcesses,
    HostId,
    HostKey,
    Interfaces,
    Interval,
    KeyPath,
    LabelKey,
    LabelValue,
    Port,
    Timeout,
    Unit,
    User,
    none_as,
)
from .alerting import Alerting, parse_alerting
from .allowlist import Allowlist, parse_allowlist
from .paths import expand_path
from .patterns import parse_host_port

__all__ = ["Defaults", "ProxyConfig", "HostEntry", "Inventory", "HostSpec", "GpuMode", "GPU_MODES"]

BUILTIN_TARGET = "builtin"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --------------------------------------------------------------------------- models
class ProxyConfig(_Strict):
    """Reverse port forward held on the host's SSH connection (SPEC section 4)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = False
    remote_listen: str = "127.0.0.1:8080"
    target: str = "127.0.0.1:7879"
    auto_start: bool = True
    # Destinations the builtin proxy may reach ("example.com:443", "*.corp", "*:80");
    # unset: any, except loopback, link-local and the hub's own web port, which only a rule
    # naming them without a wildcard opens. An external target gets raw TCP, so it cannot be
    # filtered here.
    allow: tuple[str, ...] | None = None

    @field_validator("remote_listen")
    @classmethod
    def _check_listen(cls, v: str) -> str:
        parse_host_port(v, "remote_listen")
        return v

    @field_validator("target")
    @classmethod
    def _check_target(cls, v: str) -> str:
        if v == BUILTIN_TARGET:
            return v
        try:
            parse_host_port(v, "target")
        except ValueError as exc:
            raise ValueError(f'{exc} (or "builtin" for the hub\'s own HTTP CONNECT proxy)') from None
        return v

    @field_validator("allow", mode="before")
    @classmethod
    def _check_allow(cls, v: Any) -> Any:
        if v is None:
            return v
        if isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple)):
            raise ValueError('allow must be a list like ["pypi.org:443", "*.example.com"]')
        parse_allowlist(v)
        return tuple(item.strip().lower() for item in v)

    @model_validator(mode="after")
    def _allow_needs_builtin(self) -> "ProxyConfig":
        if self.allow is not None and not self.builtin_target:
            raise ValueError('allow applies only to target "builtin" (an external target receives raw TCP, '
                             "so restrict destinations there)")
        return self

    @property
    def allowlist(self) -> Allowlist | None:
        return None if self.allow is None else parse_allowlist(self.allow)

    @property
    def listen_host(self) -> str:
        return parse_host_port(self.remote_listen)[0]

    @property
    def listen_port(self) -> int:
        return parse_host_port(self.remote_listen)[1]

    @property
    def builtin_target(self) -> bool:
        return self.target == BUILTIN_TARGET

    @property
    def target_host(self) -> str | None:
        return None if self.builtin_target else parse_host_port(self.target)[0]

    @property
    def target_port(self) -> int | None:
        return None if self.builtin_target else parse_host_port(self.target)[1]


class Defaults(_Strict):
    """The ``defaults:`` section; every host inherits what it does not set itself."""

    user: User = "monitor"
    port: Port = 22
    identity_file: KeyPath = "~/.ssh/id_ed25519"
    known_hosts: FilePath = "~/.ssh/known_hosts"
    interval: Interval = 5.0
    timeout: Timeout = 10.0
    disks: Disks = Field(default_factory=lambda: ["/"])
    services: Annotated[list[Unit], none_as(list)] = Field(default_factory=list)
    gpu: Gpu = "auto"
    gpu_processes: GpuProcesses = GPU_PROCESSES_EVERY_S
    interfaces: Interfaces | None = None  # unset: the hub chooses (physical ones; collector/net_counting.py)


class HostEntry(_Strict):
    """One item of ``hosts:`` as written; ``None`` means "inherit from defaults"."""

    id: HostId
    address: Address
    port: Port | None = None
    user: User | None = None
    identity_file: KeyPath | None = None
    known_hosts: FilePath | None = None
    host_key: HostKey | None = None
    interval: Interval | None = None
    timeout: Timeout | None = None
    disks: Disks | None = None
    services: list[Unit] | None = None
    gpu: Gpu | None = None
    gpu_processes: GpuProcesses | None = None
    interfaces: Interfaces | None = None
    labels: Annotated[dict[LabelKey, LabelValue], none_as(dict)] = Field(default_factory=dict)
    proxy: Annotated[ProxyConfig, none_as(ProxyConfig)] = Field(default_factory=ProxyConfig)

    def resolve(self, defaults: Defaults) -> HostSpec:
        def pick(name: str) -> Any:
            own = getattr(self, name)
            return getattr(defaults, name) if own is None else own

        disks, interfaces = pick("disks"), pick("interfaces")
        return HostSpec(
            id=self.id,
            address=self.address,
            port=pick("port"),
            user=pick("user"),
            identity_file=expand_path(pick("identity_file")),
            known_hosts=expand_path(pick("known_hosts")),
            host_key=self.host_key,
            interval_s=pick("interval"),
            timeout_s=pick("timeout"),
            disks=disks if isinstance(disks, str) else tuple(dict.fromkeys(disks)),
            services=tuple(dict.fromkeys(pick("services"))),
            gpu=pick("gpu"),
            gpu_processes_s=pick("gpu_processes"),
            interfaces=None if interfaces is None else tuple(dict.fromkeys(interfaces)),
            labels=dict(self.labels),
            proxy=self.proxy,
        )


class HostSpec(BaseModel):
    """A host with every setting resolved; what the collector works from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    address: str
    port: int
    user: str
    identity_file: Path
    known_hosts: Path
    host_key: str | None
    interval_s: float
    timeout_s: float
    disks: Union[DiskMode, tuple[str, ...]]  # a DiskMode: every local filesystem (df -PTkl), each once
    services: tuple[str, ...]
    gpu: GpuMode
    gpu_processes_s: float = GPU_PROCESSES_EVERY_S  # how often the GPU processes are read; 0: never
    interfaces: tuple[str, ...] | None = None  # names or globs the network totals count; None: the hub chooses
    labels: dict[str, str]
    proxy: ProxyConfig


class Inventory(_Strict):
    """The whole inventory file.

    ``alerts`` and ``notifiers`` are kept raw, exactly as written (any shape: a
    bad rule must not stop the hosts from loading); ``inventory.alerting`` is
    their validated form (:class:`~inventory.alerting.Alerting`: the valid rules
    and notifiers, and a problem for each invalid one).

    Top-level keys starting with ``x-`` are ignored, so that they can hold YAML
    anchors shared by several hosts (``<<: *anchor``).
    """

    defaults: Annotated[Defaults, none_as(Defaults)] = Field(default_factory=Defaults)
    hosts: Annotated[list[HostEntry], none_as(list)] = Field(default_factory=list)
    alerts: Annotated[Any, none_as(list)] = Field(default_factory=list)
    notifiers: Annotated[Any, none_as(dict)] = Field(default_factory=dict)

    @cached_property
    def alerting(self) -> Alerting:
        """Validated rules and notifiers. The loader sets it with file and line numbers;
        an inventory built otherwise (``Inventory.model_validate(data)``) parses it on
        first use, without lines. Not a field: it takes no part in ``==`` or dumps."""
        return parse_alerting(self.alerts, self.notifiers, source="<inventory>")

    def set_alerting(self, alerting: Alerting) -> None:
        """Used by the loader: the same rules, with the file name and line numbers in problems."""
        self.__dict__["alerting"] = alerting

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: Any) -> Any:
        # Top-level keys starting with "x-" are free for YAML anchors (`x-base: &base {...}`).
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
        return data

    @model_validator(mode="after")
    def _unique_ids(self) -> Inventory:
        seen: set[str] = set()
        for entry in self.hosts:
            if entry.id in seen:
                raise PydanticCustomError(
                    "duplicate_host_id", "duplicate host id {host_id!r}", {"host_id": entry.id}
                )
            seen.add(entry.id)
        return self

    @property
    def host_ids(self) -> list[str]:
        return [h.id for h in self.hosts]

    def resolved_hosts(self) -> list[HostSpec]:
        return [h.resolve(self.defaults) for h in self.hosts]

    def host(self, host_id: str) -> HostSpec:
        for entry in self.hosts:
            if entry.id == host_id:
                return entry.resolve(self.defaults)
        ids = self.host_ids
        close = difflib.get_close_matches(host_id, ids, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        shown = ", ".join(ids[:20]) + (f", ... ({len(ids) - 20} more)" if len(ids) > 20 else "")
        raise KeyError(f"unknown host {host_id!r}{hint}; known hosts: {shown or '(none)'}")
