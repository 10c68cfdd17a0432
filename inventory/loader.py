"""Load and validate the inventory file, reporting every problem with its line.

``load_inventory(path)`` returns an :class:`Inventory` or raises
:class:`InventoryError` whose ``.problems`` lists *all* problems found (file,
line, host id, field, message).  No raw YAML or pydantic exception escapes.
"""

from __future__ import annotations

import difflib
import os
import types
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from .alerting import Alerting, parse_alerting
from .errors import InventoryError, Problem
from .models import HostEntry, Inventory
from .paths import expand_path
from .yaml_lines import TooComplexError, YamlPath, read_yaml_with_lines

__all__ = [
    "DEFAULT_INVENTORY",
    "ENV_INVENTORY",
    "default_inventory_path",
    "load_inventory",
    "load_inventory_text",
    "check_inventory",
]

DEFAULT_INVENTORY = Path("inventory/hosts.yaml")
ENV_INVENTORY = "FLEETWATCH_INVENTORY"
_SECRET_KEYS = {"password", "passwd", "pass", "passphrase", "secret", "private_key"}


def default_inventory_path() -> Path:
    """``$FLEETWATCH_INVENTORY`` when set (``~`` and variables expanded), else ``inventory/hosts.yaml``."""
    env = os.environ.get(ENV_INVENTORY, "").strip()
    return expand_path(env) if env else DEFAULT_INVENTORY


def load_inventory(path: str | os.PathLike[str] | None = None) -> Inventory:
    """Read and validate an inventory file (default: :func:`default_inventory_path`).

    Invalid alert rules and notifiers do not make it fail: they are left out of
    ``inventory.alerting`` and listed in ``inventory.alerting.problems``.
    """
    path = default_inventory_path() if path is None else Path(path)
    return load_inventory_text(_read_text(path), str(path))


def _read_text(path: Path) -> str:
    source = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InventoryError([Problem(source, None, None, "", "file not found")]) from None
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise InventoryError([Problem(source, None, None, "", f"cannot read file: {reason}")]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        msg = f"the file is not UTF-8 text (bad byte 0x{raw[exc.start]:02x})"
        raise InventoryError([Problem(source, line, None, "", msg)]) from None


def load_inventory_text(text: str, source: str = "<string>") -> Inventory:
    """Validate inventory YAML given as a string; ``source`` names it in problems."""
    inventory, problems, _alerting = _validate(text, source)
    if problems:
        raise InventoryError(problems)
    assert inventory is not None
    return inventory


def _validate(text: str, source: str) -> tuple[Inventory | None, list[Problem], Alerting]:
    """(inventory or None, the problems that stop it loading, the alerting part).

    Raises InventoryError only when the text is not a YAML mapping at all.
    """
    problem = lambda line, msg: InventoryError([Problem(source, line, None, "", msg)])  # noqa: E731
    text = text.lstrip("\ufeff")
    try:
        data, lines, issues = read_yaml_with_lines(text)
    except yaml.MarkedYAMLError as exc:
        raise problem(*_yaml_error(exc)) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character or "\0")
        raise problem(line, f"YAML error: control character U+{code:04X} is not allowed") from None
    except yaml.YAMLError as exc:  # pragma: no cover - other PyYAML errors carry no mark
        raise problem(None, f"YAML error: {exc}") from None
    except TooComplexError as exc:
        raise problem(None, f"YAML error: {exc}") from None
    except RecursionError:
        raise problem(None, "YAML error: the document is nested too deeply") from None

    if data is None:
        raise problem(None, "no hosts: the file is empty; add a 'hosts:' list")
    if not isinstance(data, dict):
        allowed = ", ".join(Inventory.model_fields)
        raise problem(lines.get((), 1), f"the top level must be a mapping with the keys {allowed}; got {_describe(data)}")
    if "hosts" not in data and not issues:
        raise problem(lines.get((), 1), "no hosts: add a 'hosts:' list")

    ctx = _Context(source, data, lines)
    # A duplicate key inside a rule or a notifier spoils that rule or notifier, not the file.
    in_alerting = [i for i in issues if i[0][:1] in (("alerts",), ("notifiers",))]
    issues = [i for i in issues if i not in in_alerting]
    alerting = parse_alerting(data.get("alerts"), data.get("notifiers"), source=source, line_of=ctx.line_of,
                              yaml_issues=in_alerting)
    problems = [ctx.problem(path, line, msg) for path, line, msg in issues]
    problems += _duplicate_ids(ctx)
    try:
        inventory = Inventory.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            if err["type"] == "duplicate_host_id":
                continue  # reported above, with both line numbers
            loc = tuple(p for p in err["loc"] if p != "[key]")
            problems.append(ctx.problem(loc, None, _message(err, tuple(err["loc"]))))
        inventory = None
    if inventory is not None:
        inventory.set_alerting(alerting)
    return (None if problems else inventory), _sorted_unique(problems), alerting


def check_inventory(path: str | os.PathLike[str] | None = None) -> list[Problem]:
    """Every problem in the file, including invalid alert rules and notifiers (which
    do not stop the hosts from loading); an empty list means it is all good."""
    path = default_inventory_path() if path is None else Path(path)
    try:
        _inventory, problems, alerting = _validate(_read_text(path), str(path))
    except InventoryError as exc:
        return exc.problems
    return _sorted_unique(problems + list(alerting.problems))


# --------------------------------------------------------------------------- helpers
class _Context:
    """Maps a data path to (line, host id, field) for problems."""

    def __init__(self, source: str, data: dict[Any, Any], lines: dict[YamlPath, int]):
        self.source, self.data, self.lines = source, data, lines

    def line_of(self, path: YamlPath) -> int | None:
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return None

    def host_of(self, path: YamlPath) -> str | None:
        if len(path) >= 2 and path[0] == "hosts" and isinstance(path[1], int):
            hosts = self.data.get("hosts")
            if isinstance(hosts, list) and 0 <= path[1] < len(hosts) and isinstance(hosts[path[1]], dict):
                host_id = hosts[path[1]].get("id")
                if isinstance(host_id, str) and host_id:
                    return host_id
        return None

    def problem(self, path: YamlPath, line: int | None, message: str) -> Problem:
        host = self.host_of(path)
        field = _format_path(path[2:] if host is not None else path)
        return Problem(self.source, line if line is not None else self.line_of(path), host, field, message)


def _format_path(path: YamlPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _duplicate_ids(ctx: _Context) -> list[Problem]:
    hosts = ctx.data.get("hosts")
    if not isinstance(hosts, list):
        return []
    first: dict[str, int] = {}
    problems = []
    for index, entry in enumerate(hosts):
        host_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(host_id, str):
            continue
        line = ctx.line_of(("hosts", index, "id"))
        if host_id in first:
            msg = f"duplicate host id {host_id!r}: first defined on line {first[host_id]}, again on line {line}"
            problems.append(Problem(ctx.source, line, host_id, "id", msg))
        else:
            first[host_id] = line or 0
    return problems


def _yaml_error(exc: yaml.MarkedYAMLError) -> tuple[int | None, str]:
    mark = exc.problem_mark or exc.context_mark
    kind = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
    msg = f"{kind}: {exc.problem or exc.context or 'cannot parse'}"
    if exc.context and exc.problem and exc.context_mark is not None:
        msg += f" ({exc.context} on line {exc.context_mark.line + 1})"
    if exc.problem and "'\\t'" in exc.problem:
        msg += "; indent with spaces, not tabs"
    return (mark.line + 1 if mark is not None else None), msg


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = repr(value) if len(value) <= 60 else repr(value[:57]) + "..."
        return f"the string {shown}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _model_at(loc: YamlPath) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` (for listing allowed keys)."""
    tp: Any = Inventory
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = tp.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) in (list, tuple) and isinstance(part, int):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _message(err: Any, loc: YamlPath) -> str:
    kind, msg, value = err["type"], err["msg"], err.get("input")
    if kind == "extra_forbidden":
        key = loc[-1]
        model = _model_at(loc[:-1])
        allowed = list(model.model_fields) if model else []
        if str(key).lower() in _SECRET_KEYS:
            return (f"{key!r} is not allowed: the inventory holds no secrets; fleetwatch uses key "
                    f"authentication only (set identity_file); allowed keys are: {', '.join(allowed)}")
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key {key!r}{hint}; allowed keys are: {', '.join(allowed)}"
    if kind == "missing":
        return "required, but missing"
    if kind in ("value_error", "assertion_error"):
        return msg.split(", ", 1)[1] if msg.startswith(("Value error, ", "Assertion failed, ")) else msg
    if kind == "string_type":
        return f"expected a string, got {_describe(value)}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, got {_describe(value)}"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        model = _model_at(loc)
        if model is HostEntry:
            return f"each host must be a mapping with at least 'id' and 'address', got {_describe(value)}"
        return f"expected a mapping (key: value), got {_describe(value)}"
    if kind.startswith("bool"):
        return f"expected true or false, got {_describe(value)}"
    return f"{msg}, got {_describe(value)}"


def _sorted_unique(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.line is None, p.line or 0))
