"""Round-trip writer for inventory edits made through the API (SPEC section 2)."""

from __future__ import annotations

import codecs
import contextlib
import difflib
import io
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from .errors import InventoryError, Problem
from .loader import load_inventory, load_inventory_text
from .models import Inventory

__all__ = ["HostExists", "HostNotFound", "InventoryWriter"]

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
_MAX_DEPTH = 32
_PLAIN_OK = re.compile(r"[A-Za-z0-9_./~+][A-Za-z0-9_./~+@ -]*")
_PYYAML_RESOLVER = yaml.resolver.Resolver()
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class HostNotFound(KeyError):
    """No host with that id; the message lists close matches and known ids."""

    def __init__(self, host_id: str, known: list[str]):
        host_id = str(host_id)
        close = difflib.get_close_matches(host_id, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        shown = ", ".join(known[:20]) + (f", ... ({len(known) - 20} more)" if len(known) > 20 else "")
        super().__init__(f"unknown host {host_id!r}{hint}; known hosts: {shown or '(none)'}")
        self.host_id = host_id

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class HostExists(ValueError):
    """A host with that id is already in the inventory."""

    def __init__(self, host_id: str):
        super().__init__(f"a host with id {host_id!r} already exists")
        self.host_id = host_id


@dataclass
class _Doc:
    """The parsed file plus what is needed to write it back the same way."""

    yaml: YAML
    data: CommentedMap
    exists: bool
    bom: bool = False
    crlf: bool = False
    prefix: str = ""  # a file of comments only: ruamel keeps none of them, so keep the text


class InventoryWriter:
    """Applies host edits to the inventory file, keeping comments, order and one ``.bak``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.backup_path = self.path.with_name(self.path.name + ".bak")
        key = os.path.normcase(os.path.abspath(self.path))
        with _LOCKS_GUARD:  # one lock per file, shared by every writer in the process
            self._lock = _LOCKS.setdefault(key, threading.Lock())

    # ----------------------------------------------------------------- public
    def add_host(self, entry: dict) -> Inventory:
        """Append a host to ``hosts:``; :class:`HostExists` if its id is taken."""
        entry = _check_entry(entry, str(self.path))
        with self._lock:
            doc = self._read()
            hosts = _hosts(doc, str(self.path), create=True)
            if _index(hosts, entry["id"]) is not None:
                raise HostExists(entry["id"])
            node = _to_node({k: v for k, v in entry.items() if v is not None}, block=True)
            # Comments after the old last host stay at the end of the list.
            following = _take_following(hosts[-1]) if len(hosts) else ""
            if not len(hosts):
                hosts.fa.set_block_style()
            hosts.append(node)
            _put_following(node, following)
            expect = {k: v for k, v in entry.items() if v is not None}
            return self._commit(doc, len(hosts) - 1, expect)

    def update_host(self, host_id: str, changes: dict) -> Inventory:
        """Set keys of one host; ``None`` removes a key; a free new ``id`` renames it."""
        changes = _check_changes(changes, host_id, str(self.path))
        with self._lock:
            doc = self._read()
            hosts = _hosts(doc, str(self.path), create=False)
            index = self._find(hosts, host_id)
            new_id = changes.get("id", host_id)
            if new_id != host_id and _index(hosts, new_id) is not None:
                raise HostExists(new_id)
            item = hosts[index]
            following = _take_following(item)  # re-attached below: the next host's comments
            for key, value in changes.items():
                if value is None:
                    if key in dict(item.non_merged_items()):
                        del item[key]
                    if any(key in source for source in getattr(item, "merge", None) or []):
                        item[key] = None  # inherited through `<<: *anchor`: mask it with null
                else:
                    _assign(item, key, value)
            _put_following(item, following)
            return self._commit(doc, index, changes)

    def delete_host(self, host_id: str) -> Inventory:
        """Remove one host (and the comments just above it)."""
        with self._lock:
            doc = self._read()
            hosts = _hosts(doc, str(self.path), create=False)
            index = self._find(hosts, host_id)
            following = _take_following(hosts[index])
            if index > 0:
                _take_following(hosts[index - 1])  # the deleted host's own leading comment
                _put_following(hosts[index - 1], following)
            del hosts[index]
            if index == 0:
                if not len(hosts):  # `hosts: []` would drop the comments stored on the list's end
                    following += _take_end_comments(hosts)
                    hosts.fa.set_flow_style()
                _replace_first_lead(doc.data, following.lstrip("\n"))
            return self._commit(doc, None, {})

    # ----------------------------------------------------------------- helpers
    def _find(self, hosts: CommentedSeq, host_id: str) -> int:
        index = _index(hosts, host_id)
        if index is None:
            known = [h.get("id") for h in hosts if isinstance(h, Mapping) and isinstance(h.get("id"), str)]
            raise HostNotFound(host_id, known)
        return index

    def _read(self) -> _Doc:
        source = str(self.path)
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return _Doc(_make_yaml(""), CommentedMap(), exists=False)
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            raise InventoryError([Problem(source, None, None, "", f"cannot read file: {reason}")]) from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            load_inventory(self.path)  # raises with the line of the bad byte
            raise
        crlf = "\r\n" in text
        text = text.replace("\r\n", "\n")
        ry = _make_yaml(text)
        try:
            data = ry.load(text)
        except YAMLError as exc:
            load_inventory_text(text, source)  # the loader's messages are the ones users know
            raise InventoryError([Problem(source, None, None, "", f"YAML error: {exc}")]) from None
        prefix = ""
        if data is None:
            data, prefix = CommentedMap(), (text.rstrip("\n") + "\n" if text.strip() else "")
            ry.explicit_start = False  # a `---` is in the prefix already
        _keep_anchors(data, set())
        if not isinstance(data, CommentedMap):
            load_inventory_text(text, source)
            raise InventoryError([Problem(source, 1, None, "", "the top level must be a mapping")])
        return _Doc(ry, data, exists=True, bom=raw.startswith(codecs.BOM_UTF8), crlf=crlf, prefix=prefix)

    def _commit(self, doc: _Doc, index: int | None, expect: dict[str, Any]) -> Inventory:
        out = io.StringIO()
        doc.yaml.dump(doc.data, out)
        text = doc.prefix + out.getvalue()
        inventory = load_inventory_text(text, str(self.path))  # raises: nothing written
        if index is not None:
            _check_faithful(text, index, expect, str(self.path))
        if doc.crlf:
            text = text.replace("\n", "\r\n")
        data = (codecs.BOM_UTF8 if doc.bom else b"") + text.encode("utf-8")
        self._write(data, doc.exists)
        return inventory

    def _write(self, data: bytes, exists: bool) -> None:
        parent = self.path.parent
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if exists:
                with contextlib.suppress(OSError):  # else keep mkstemp's private mode
                    shutil.copymode(self.path, tmp)
                self._backup()
            _replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(parent)

    def _backup(self) -> None:
        # Copy then rename, so that a crash never leaves a half-written .bak.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".bak.tmp")
        os.close(fd)
        try:
            shutil.copy2(self.path, tmp)
            _replace(tmp, self.backup_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


# --------------------------------------------------------------------------- input checks
def _bad(source: str, host: str | None, field: str, message: str) -> InventoryError:
    return InventoryError([Problem(source, None, host, field, message)])


def _check_value(value: Any, source: str, host: str | None, field: str, depth: int = 0) -> None:
    if depth > _MAX_DEPTH:
        raise _bad(source, host, field, "the value is nested too deeply")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise _bad(source, host, field, f"mapping keys must be strings, got {key!r}")
            _check_value(item, source, host, f"{field}.{key}", depth + 1)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_value(item, source, host, f"{field}[{i}]", depth + 1)
    elif value is not None and not isinstance(value, (str, int, float, bool)):
        raise _bad(source, host, field, f"unsupported value of type {type(value).__name__}")


def _check_id(value: Any, source: str, host: str | None) -> str:
    if value is None:
        raise _bad(source, host, "id", "required, but missing")
    if not isinstance(value, str) or not value:
        raise _bad(source, host, "id", f"expected a non-empty string, got {value!r}")
    return value


def _check_entry(entry: Any, source: str) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        kind = "a list" if isinstance(entry, (list, tuple)) else type(entry).__name__
        raise _bad(source, None, "", f"a host must be a mapping with at least 'id' and 'address', got {kind}")
    host_id = _check_id(entry.get("id"), source, None)
    _check_value(entry, source, host_id, "")
    return {"id": host_id, **{k: v for k, v in entry.items() if k != "id"}}  # id first


def _check_changes(changes: Any, host_id: str, source: str) -> dict[str, Any]:
    if not isinstance(changes, Mapping):
        raise _bad(source, host_id, "", f"changes must be a mapping of keys to values, got {type(changes).__name__}")
    if "id" in changes:
        _check_id(changes["id"], source, host_id)
    _check_value(changes, source, host_id, "")
    return dict(changes)


def _check_faithful(text: str, index: int, expect: dict[str, Any], source: str) -> None:
    # Catch YAML 1.1 (PyYAML, the loader) vs 1.2 (ruamel) differences, e.g. `yes` or `12:30`.
    host = yaml.load(text, Loader=_SAFE_LOADER)["hosts"][index]
    for key, value in expect.items():
        if not _same(host.get(key), value):
            raise _bad(source, str(host.get("id")), key, f"the value {value!r} would read back as {host.get(key)!r}")


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same kind (``True`` is not ``1``; ruamel's string subclasses are strings)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and str(a) == str(b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return a is None and b is None


# --------------------------------------------------------------------------- document edits
def _hosts(doc: _Doc, source: str, create: bool) -> CommentedSeq:
    hosts = doc.data.get("hosts")
    if hosts is None:
        if not create:
            return CommentedSeq()
        hosts = CommentedSeq()
        hosts.fa.set_block_style()
        doc.data["hosts"] = hosts
    if not isinstance(hosts, CommentedSeq):
        line = doc.data.lc.key("hosts")[0] + 1 if "hosts" in doc.data else None
        raise InventoryError([Problem(source, line, None, "hosts", "expected a list of hosts")])
    return hosts


def _keep_anchors(node: Any, seen: set[int]) -> None:
    # ruamel drops an anchor once nothing refers to it; the user wrote it, so keep it.
    if id(node) in seen:
        return
    seen.add(id(node))
    anchor = getattr(node, "anchor", None)
    if anchor is not None and getattr(anchor, "value", None):
        anchor.always_dump = True
    if isinstance(node, CommentedMap):
        for value in node.values():
            _keep_anchors(value, seen)
    elif isinstance(node, CommentedSeq):
        for value in node:
            _keep_anchors(value, seen)


def _index(hosts: CommentedSeq, host_id: str) -> int | None:
    for i, item in enumerate(hosts):
        if isinstance(item, Mapping) and item.get("id") == host_id:
            return i
    return None


def _assign(node: CommentedMap, key: str, value: Any) -> None:
    """Set ``node[key]``; unchanged values keep their quoting, mappings are edited in place."""
    own = dict(node.non_merged_items())
    old = own.get(key)
    if key in own and _same(old, value):
        return
    if isinstance(old, CommentedMap) and isinstance(value, Mapping):
        for k in [k for k, _ in old.non_merged_items() if k not in value]:
            del old[k]
        for k, v in value.items():
            _assign(old, k, v)
        return
    node[key] = _to_node(value, like=old)


def _to_node(value: Any, like: Any = None, block: bool = False) -> Any:
    """JSON value -> ruamel node; scalar-only collections in flow style like the SPEC's examples."""
    if isinstance(value, Mapping):
        node: Any = CommentedMap((_scalar(k), _to_node(v)) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        node = CommentedSeq(_to_node(v) for v in value)
    elif isinstance(value, str):
        return _scalar(value)
    else:
        return value
    simple = all(not isinstance(v, (Mapping, list, tuple)) for v in (value.values() if isinstance(value, Mapping) else value))
    if isinstance(like, (CommentedMap, CommentedSeq)) and like.fa.flow_style() is False:
        simple = False  # the user wrote this one in block style
    if simple and not block:
        node.fa.set_flow_style()
    else:
        node.fa.set_block_style()
    return node


def _scalar(text: str) -> str:
    """Quote strings that PyYAML (YAML 1.1, used by the loader) would read as something else."""
    tag = _PYYAML_RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    if tag == "tag:yaml.org,2002:str" and _PLAIN_OK.fullmatch(text) and not text.endswith(" "):
        return text
    return DoubleQuotedScalarString(text)


# --------------------------------------------------------------------------- comments
# ruamel stores the comment lines *after* a node on the end-of-line comment of its last
# scalar; so the lines just above host N+1 hang off host N. These helpers move them.
def _spine(node: Any) -> list[tuple[dict[Any, Any], Any, int]]:
    out: list[tuple[dict[Any, Any], Any, int]] = []
    while isinstance(node, (CommentedMap, CommentedSeq)) and len(node):
        if isinstance(node, CommentedMap):
            keys = [k for k, _ in node.non_merged_items()]
            if not keys:
                break
            key, slot = keys[-1], 2
        else:
            key, slot = len(node) - 1, 0
        out.append((node.ca.items, key, slot))
        child = node[key]
        if not isinstance(child, (CommentedMap, CommentedSeq)) or child.fa.flow_style():
            break
        node = child
    return out


def _take_following(node: Any) -> str:
    """Cut and return the comment lines that follow ``node`` (its end-of-line comment stays)."""
    taken = ""
    for items, key, slot in _spine(node):
        entry = items.get(key)
        token = entry[slot] if entry and len(entry) > slot else None
        if not isinstance(token, CommentToken):
            continue
        head, sep, rest = token.value.partition("\n")
        if rest:
            taken += rest
            if head.strip():
                token.value = head + sep
            else:
                entry[slot] = None
    return taken


def _put_following(node: Any, text: str) -> None:
    spine = _spine(node)
    if not text or not spine:
        return
    items, key, slot = spine[-1]
    entry = items.setdefault(key, [None, None, None, None])
    token = entry[slot] if len(entry) > slot else None
    if isinstance(token, CommentToken):
        token.value = token.value.partition("\n")[0] + "\n" + text
    else:
        entry[slot] = CommentToken("\n" + text, CommentMark(0))


def _replace_first_lead(data: CommentedMap, text: str) -> None:
    """The comment above the first host belongs to the ``hosts:`` key; swap in ``text``."""
    entry = data.ca.items.setdefault("hosts", [None, None, None, None])
    hosts = data.get("hosts")
    entry[3] = None
    if isinstance(hosts, CommentedSeq) and hosts.ca.comment and len(hosts.ca.comment) > 1:
        hosts.ca.comment[1] = None  # a copy of entry[3]; setting .comment to None would drop .end
    token = entry[2] if isinstance(entry[2], CommentToken) else None
    head = token.value.partition("\n")[0] if token else ""
    if head.strip() or text:
        entry[2] = CommentToken(head + "\n" + text, CommentMark(token.column if token else 0))
    else:
        entry[2] = None


def _take_end_comments(hosts: CommentedSeq) -> str:
    end = getattr(hosts.ca, "end", None) or []
    hosts.ca.end = []
    return "".join(" " * (t.column or 0) + t.value if t.value.strip() else t.value for t in end)


# --------------------------------------------------------------------------- YAML setup and files
def _make_yaml(text: str) -> YAML:
    ry = YAML(typ="rt")
    ry.preserve_quotes = True
    ry.width = 4096  # never re-fold the user's long lines
    ry.indent(**_guess_indent(text))
    first = next((s for s in (ln.strip() for ln in text.splitlines()) if s and not s.startswith("#")), "")
    ry.explicit_start = first.startswith("---")
    return ry


def _guess_indent(text: str) -> dict[str, int]:
    """Mapping indent and list dash offset as the file uses them (default: the example's 2/4/2)."""
    mapping = offset = sequence = None
    prev: tuple[int, bool] | None = None  # (column of the key, line opens a block)
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        col = len(raw) - len(raw.lstrip(" "))
        inner, inner_col = raw.lstrip(" "), col
        while inner == "-" or inner.startswith("- "):
            rest = inner[1:].lstrip(" ")
            inner_col += len(inner) - len(rest)
            inner = rest
        if prev is not None and prev[1]:
            if stripped == "-" or stripped.startswith("- "):
                if offset is None and col >= prev[0] and inner:
                    offset, sequence = col - prev[0], inner_col - prev[0]
            elif mapping is None and col > prev[0]:
                mapping = col - prev[0]
        if mapping is not None and offset is not None:
            break
        opens = re.sub(r"\s+#.*$", "", inner).endswith(":")
        prev = (inner_col, opens)
    if offset is None or sequence is None or sequence < offset + 2:
        offset, sequence = 2, 4
    return {"mapping": mapping or 2, "sequence": sequence, "offset": offset}


def _replace(src: str, dst: Path) -> None:
    # On Windows a reader holding the file open makes os.replace fail for a moment.
    for attempt in range(6):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if os.name != "nt" or attempt == 5:
                raise
            time.sleep(0.05 * 2**attempt)


def _fsync_dir(directory: Path) -> None:
    if os.name == "nt":
        return  # directories cannot be opened for fsync on Windows
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
