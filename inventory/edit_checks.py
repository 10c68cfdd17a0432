"""What an edit from the API may hold, checked before it touches the file, and after it is rendered.

Before: a host entry or a set of changes is plain JSON-like data (strings as keys, no objects,
at most ``MAX_DEPTH`` deep) with a usable ``id``. After: the edited text, read back the way the
loader reads it (YAML 1.1, PyYAML), still holds the values that were asked for (ruamel writes
YAML 1.2, where e.g. ``yes`` or ``12:30`` mean something else).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from pydantic import ValidationError

from .errors import InventoryError, Problem
from .models import HostEntry
from .yaml_roundtrip import same

__all__ = ["MAX_DEPTH", "check_changes", "check_entry", "check_faithful", "entry_problems", "field_error"]

MAX_DEPTH = 32
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def field_error(source: str, host: str | None, field: str, message: str) -> InventoryError:
    """One problem with one field of one host, as the Servers page and the API show it."""
    return InventoryError([Problem(source, None, host, field, message)])


def _value_problems(value: Any, source: str, host: str | None, field: str, out: list[Problem],
                    depth: int = 0) -> list[Problem]:
    """Every value that is not plain JSON-like data (each mapping key and list item looked at)."""
    if depth > MAX_DEPTH:
        out.append(Problem(source, None, host, field, "the value is nested too deeply"))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                out.append(Problem(source, None, host, field, f"mapping keys must be strings, got {key!r}"))
            else:
                _value_problems(item, source, host, f"{field}.{key}" if field else key, out, depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _value_problems(item, source, host, f"{field}[{i}]", out, depth + 1)
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        out.append(Problem(source, None, host, field, f"unsupported value of type {type(value).__name__}"))
    return out


def _id_problem(value: Any, source: str, host: str | None) -> Problem | None:
    if value is None:
        return Problem(source, None, host, "id", "required, but missing")
    if not isinstance(value, str) or not value:
        return Problem(source, None, host, "id", f"expected a non-empty string, got {value!r}")
    return None


def _host_of(entry: Mapping) -> str | None:
    host_id = entry.get("id")
    return host_id if isinstance(host_id, str) and host_id else None


def entry_problems(entry: Mapping[str, Any], source: str, host: str | None = None) -> list[Problem]:
    """Every problem of one host entry at once (pydantic checks all its fields in one pass), worded
    as the loader words them; ``host`` names the host in them (default: the entry's own id)."""
    from .loader import _format_path, _message  # the loader's wording (imported late: it imports much)

    host = _host_of(entry) if host is None else host
    try:
        HostEntry.model_validate(dict(entry))
    except ValidationError as exc:
        out = []
        for err in exc.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if p != "[key]")
            out.append(Problem(source, None, host, _format_path(loc), _message(err, ("hosts", 0, *err["loc"]))))
        return list(dict.fromkeys(out))
    return []


def check_entry(entry: Any, source: str, also: Sequence[Problem] = ()) -> dict[str, Any]:
    """A new host: a mapping with a string ``id`` (returned first) and plain values. Raises one
    InventoryError with every problem found and those in ``also`` (and then the model's own)."""
    if not isinstance(entry, Mapping):
        kind = "a list" if isinstance(entry, (list, tuple)) else type(entry).__name__
        raise field_error(source, None, "", f"a host must be a mapping with at least 'id' and 'address', got {kind}")
    host = _host_of(entry)
    problems = _value_problems(entry, source, host, "", [])
    id_problem = _id_problem(entry.get("id"), source, None)
    if id_problem is not None and not any(p.field == "id" for p in problems):
        problems.insert(0, id_problem)
    problems += also
    if problems and not any(p.field not in ("id", *(a.field for a in also)) for p in problems):
        # refused before the entry is written (where the loader would find the rest, with line numbers):
        # the model's own checks too, so that every problem is told at once
        problems += [p for p in entry_problems(entry, source, host) if p.field != "id" or id_problem is None]
    if problems:
        raise InventoryError(list(dict.fromkeys(problems)))
    return {"id": host, **{k: v for k, v in entry.items() if k != "id"}}  # id first


def check_changes(changes: Any, host_id: str, source: str) -> dict[str, Any]:
    """Changes to a host: a mapping of keys to plain values (``None`` removes a key); every problem at once."""
    if not isinstance(changes, Mapping):
        raise field_error(source, host_id, "",
                          f"changes must be a mapping of keys to values, got {type(changes).__name__}")
    problems = []
    if "id" in changes:
        problem = _id_problem(changes["id"], source, host_id)
        problems += [problem] if problem is not None else []
    problems += _value_problems(changes, source, host_id, "", [])
    if problems:
        raise InventoryError(list(dict.fromkeys(problems)))
    return dict(changes)


def check_faithful(text: str, index: int, expect: dict[str, Any], source: str) -> None:
    """Host ``index`` of the rendered ``text`` reads back (YAML 1.1, as the loader does) as ``expect``."""
    host = yaml.load(text, Loader=_SAFE_LOADER)["hosts"][index]
    for key, value in expect.items():
        if not same(host.get(key), value):
            raise field_error(source, str(host.get("id")), key,
                              f"the value {value!r} would read back as {host.get(key)!r}")
