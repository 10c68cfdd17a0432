"""What an edit from the API may hold, checked before it touches the file, and after it is rendered.

Before: a host entry or a set of changes is plain JSON-like data (strings as keys, no objects,
at most ``MAX_DEPTH`` deep) with a usable ``id``. After: the edited text, read back the way the
loader reads it (YAML 1.1, PyYAML), still holds the values that were asked for (ruamel writes
YAML 1.2, where e.g. ``yes`` or ``12:30`` mean something else).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from .errors import InventoryError, Problem
from .yaml_roundtrip import same

__all__ = ["MAX_DEPTH", "check_changes", "check_entry", "check_faithful", "field_error"]

MAX_DEPTH = 32
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def field_error(source: str, host: str | None, field: str, message: str) -> InventoryError:
    """One problem with one field of one host, as the Servers page and the API show it."""
    return InventoryError([Problem(source, None, host, field, message)])


def _check_value(value: Any, source: str, host: str | None, field: str, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise field_error(source, host, field, "the value is nested too deeply")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise field_error(source, host, field, f"mapping keys must be strings, got {key!r}")
            _check_value(item, source, host, f"{field}.{key}", depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_value(item, source, host, f"{field}[{i}]", depth + 1)
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise field_error(source, host, field, f"unsupported value of type {type(value).__name__}")


def _check_id(value: Any, source: str, host: str | None) -> str:
    if value is None:
        raise field_error(source, host, "id", "required, but missing")
    if not isinstance(value, str) or not value:
        raise field_error(source, host, "id", f"expected a non-empty string, got {value!r}")
    return value


def check_entry(entry: Any, source: str) -> dict[str, Any]:
    """A new host: a mapping with a string ``id`` (returned first) and plain values."""
    if not isinstance(entry, Mapping):
        kind = "a list" if isinstance(entry, (list, tuple)) else type(entry).__name__
        raise field_error(source, None, "", f"a host must be a mapping with at least 'id' and 'address', got {kind}")
    host_id = _check_id(entry.get("id"), source, None)
    _check_value(entry, source, host_id, "")
    return {"id": host_id, **{k: v for k, v in entry.items() if k != "id"}}  # id first


def check_changes(changes: Any, host_id: str, source: str) -> dict[str, Any]:
    """Changes to a host: a mapping of keys to plain values (``None`` removes a key)."""
    if not isinstance(changes, Mapping):
        raise field_error(source, host_id, "",
                          f"changes must be a mapping of keys to values, got {type(changes).__name__}")
    if "id" in changes:
        _check_id(changes["id"], source, host_id)
    _check_value(changes, source, host_id, "")
    return dict(changes)


def check_faithful(text: str, index: int, expect: dict[str, Any], source: str) -> None:
    """Host ``index`` of the rendered ``text`` reads back (YAML 1.1, as the loader does) as ``expect``."""
    host = yaml.load(text, Loader=_SAFE_LOADER)["hosts"][index]
    for key, value in expect.items():
        if not same(host.get(key), value):
            raise field_error(source, str(host.get("id")), key,
                              f"the value {value!r} would read back as {host.get(key)!r}")
