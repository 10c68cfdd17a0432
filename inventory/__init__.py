"""fleetwatch inventory: the hosts YAML, its models, loader and validator (SPEC section 2)."""

from .durations import duration_literal, parse_duration
from .errors import HostExists, HostNotFound, InventoryConflict, InventoryError, Problem
from .fields import DISK_MODES, DiskMode
from .loader import (
    DEFAULT_INVENTORY,
    ENV_INVENTORY,
    check_inventory,
    default_inventory_path,
    load_inventory,
    load_inventory_text,
)
from .models import GPU_MODES, Defaults, GpuMode, HostEntry, HostSpec, Inventory, ProxyConfig
from .paths import expand_path, expand_vars
from .patterns import (
    parse_host_port,
    validate_address,
    validate_host_id,
    validate_host_key,
    validate_label_key,
    validate_label_value,
    validate_mount,
    validate_unit,
    validate_user,
)
from .watch import InventoryStatus, InventoryWatcher
from .writer import InventoryWriter

__all__ = [
    "DEFAULT_INVENTORY",
    "ENV_INVENTORY",
    "DISK_MODES",
    "GPU_MODES",
    "Defaults",
    "DiskMode",
    "GpuMode",
    "HostEntry",
    "HostExists",
    "HostNotFound",
    "HostSpec",
    "Inventory",
    "InventoryError",
    "InventoryStatus",
    "InventoryWatcher",
    "InventoryConflict",
    "InventoryWriter",
    "Problem",
    "ProxyConfig",
    "check_inventory",
    "default_inventory_path",
    "duration_literal",
    "expand_path",
    "expand_vars",
    "load_inventory",
    "load_inventory_text",
    "parse_duration",
    "parse_host_port",
    "validate_address",
    "validate_host_id",
    "validate_host_key",
    "validate_label_key",
    "validate_label_value",
    "validate_mount",
    "validate_unit",
    "validate_user",
]
