"""Round-trip writer for inventory edits made through the API (SPEC section 2).

A person may edit the same file while the API writes it. Each edit is made on the bytes read,
and the file is replaced only if it still holds them (guarded_write.py); if not, the edit is
redone on the new content (up to ``_TRIES`` times), or refused with :class:`InventoryConflict`
when it no longer applies (the host was deleted by hand, the file is now invalid): a change is
never dropped without saying so. Before, 23 to 35 of 36 hosts appended by hand vanished while
the API added 36 (five runs of tests/test_inventory_writer_race.py).
"""

from __future__ import annotations

import codecs
import contextlib
import difflib
import io
import os
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from .errors import InventoryError, Problem
from .guarded_write import (
    append_bytes,
    fsync_dir,
    replace_if_unchanged,
    replace_retrying,
    write_temp,
)
from .loader import load_inventory, load_inventory_text
from .models import Inventory
from .paths import KEY_FIELDS, KeyFolders
from .yaml_roundtrip import (
    assign,
    keep_anchors,
    make_yaml,
    put_following,
    replace_first_lead,
    same,
    take_end_comments,
    take_following,
    to_node,
)

__all__ = ["HostExists", "HostNotFound", "InventoryConflict", "InventoryWriter"]

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
_TRIES = 5  # redo an edit this often when the file keeps changing under it, then give up (409)
_MAX_DEPTH = 32
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


class InventoryConflict(InventoryError):
    """The file changed while an edit was being saved and the two could not be merged.

    An InventoryError, so that the Servers page shows it like the others; the API answers 409.
    """

    def __init__(self, source: str, host: str | None, reason: str, message: str | None = None):
        message = message or (f"the inventory file changed while saving and the edit no longer applies: "
                              f"{reason}; reload and try again")
        super().__init__([Problem(source, None, host, "", message)])


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

    def __init__(self, path: Path, key_folders: KeyFolders | None = None) -> None:
        """``key_folders``: where identity_file and known_hosts may point (edits from the web); None: anywhere."""
        self.path = Path(path)
        self.key_folders = key_folders
        self.backup_path = self.path.with_name(self.path.name + ".bak")
        self.last_written: bytes | None = None  # the bytes the last edit put in the file
        key = os.path.normcase(os.path.abspath(self.path))
        with _LOCKS_GUARD:  # one lock per file, shared by every writer in the process
            self._lock = _LOCKS.setdefault(key, threading.Lock())

    # ----------------------------------------------------------------- public
    def add_host(self, entry: dict) -> Inventory:
        """Append a host to ``hosts:``; :class:`HostExists` if its id is taken."""
        entry = _check_entry(entry, str(self.path))
        self._check_key_paths(entry["id"], entry)

        def edit(doc: _Doc) -> tuple[int | None, dict[str, Any]]:
            hosts = _hosts(doc, str(self.path), create=True)
            if _index(hosts, entry["id"]) is not None:
                raise HostExists(entry["id"])
            node = to_node({k: v for k, v in entry.items() if v is not None}, block=True)
            # Comments after the old last host stay at the end of the list.
            following = take_following(hosts[-1]) if len(hosts) else ""
            if not len(hosts):
                hosts.fa.set_block_style()
            hosts.append(node)
            put_following(node, following)
            return len(hosts) - 1, {k: v for k, v in entry.items() if v is not None}

        return self._edit(entry["id"], edit)

    def update_host(self, host_id: str, changes: dict) -> Inventory:
        """Set keys of one host; ``None`` removes a key; a free new ``id`` renames it."""
        changes = _check_changes(changes, host_id, str(self.path))

        def edit(doc: _Doc) -> tuple[int | None, dict[str, Any]]:
            hosts = _hosts(doc, str(self.path), create=False)
            index = self._find(hosts, host_id)
            new_id = changes.get("id", host_id)
            if new_id != host_id and _index(hosts, new_id) is not None:
                raise HostExists(new_id)
            item = hosts[index]
            # a path written by hand is trusted: only a value this edit changes is checked
            self._check_key_paths(host_id, {k: v for k, v in changes.items() if not same(item.get(k), v)})
            following = take_following(item)  # re-attached below: the next host's comments
            for key, value in changes.items():
                if value is None:
                    if key in dict(item.non_merged_items()):
                        del item[key]
                    if any(key in source for source in getattr(item, "merge", None) or []):
                        item[key] = None  # inherited through `<<: *anchor`: mask it with null
                else:
                    assign(item, key, value)
            put_following(item, following)
            return index, changes

        return self._edit(host_id, edit)

    def delete_host(self, host_id: str) -> Inventory:
        """Remove one host (and the comments just above it)."""
        def edit(doc: _Doc) -> tuple[int | None, dict[str, Any]]:
            hosts = _hosts(doc, str(self.path), create=False)
            index = self._find(hosts, host_id)
            following = take_following(hosts[index])
            if index > 0:
                take_following(hosts[index - 1])  # the deleted host's own leading comment
                put_following(hosts[index - 1], following)
            del hosts[index]
            if index == 0:
                if not len(hosts):  # `hosts: []` would drop the comments stored on the list's end
                    following += take_end_comments(hosts)
                    hosts.fa.set_flow_style()
                replace_first_lead(doc.data, following.lstrip("\n"))
            return None, {}

        return self._edit(host_id, edit)

    # ----------------------------------------------------------------- helpers
    def _edit(self, host_id: str, edit: Callable[[_Doc], tuple[int | None, dict[str, Any]]]) -> Inventory:
        """Read, edit, write; when the file changed meanwhile, redo the edit on what it holds now."""
        source = str(self.path)
        with self._lock:
            base = expected = self._read_raw()  # edit `base`; the file must still hold `expected`
            for attempt in range(_TRIES):
                try:
                    doc = self._read(base)
                    index, expect = edit(doc)
                    inventory, data = self._render(doc, index, expect)
                except (InventoryError, HostExists, HostNotFound) as exc:
                    if attempt == 0:
                        raise
                    raise InventoryConflict(source, host_id, _one_line(exc)) from None
                replaced, seen = self._write(data, base, expected)
                if not replaced:  # edited by someone else meanwhile: redo the edit on what it holds now
                    base = expected = seen
                    continue
                self.last_written = data  # what the watcher adopts: a hand edit after this is a change to load
                return inventory if seen is None else self._merge_late_write(host_id, seen, expected, inventory)
            raise InventoryConflict(source, host_id, f"it changed {_TRIES} times in a row while saving")

    def _merge_late_write(self, host_id: str, old: bytes, read: bytes | None, inventory: Inventory) -> Inventory:
        """The file holds the edit, but a write to the file it replaced, made during the replace, is not in it.

        An append (``cat >>``, an editor saving in place) is appended again, as its author did; the
        hub then applies the whole file. Anything else is kept beside the file and reported.
        """
        read = read or b""
        if old.startswith(read):
            append_bytes(self.path, old[len(read):])
            try:
                return load_inventory(self.path)
            except InventoryError:
                return inventory  # the appended text is broken: the watcher reports it, as for any hand edit
        aside = self.path.with_name(self.path.name + ".conflict")
        tmp = write_temp(self.path.parent, self.path.name, ".conflict.tmp", old)
        try:
            replace_retrying(tmp, aside)
        finally:
            Path(tmp).unlink(missing_ok=True)
        raise InventoryConflict(str(self.path), host_id, "", (
            f"the edit was saved, but another program rewrote the inventory file at the same moment and its "
            f"version could not be merged; it is kept in {aside}: merge it by hand"))

    def _check_key_paths(self, host_id: str, values: Mapping[str, Any]) -> None:
        if self.key_folders is None:
            return
        for field in KEY_FIELDS:
            problem = self.key_folders.problem(field, values.get(field))
            if problem:
                raise _bad(str(self.path), host_id, field, problem)

    def _find(self, hosts: CommentedSeq, host_id: str) -> int:
        index = _index(hosts, host_id)
        if index is None:
            known = [h.get("id") for h in hosts if isinstance(h, Mapping) and isinstance(h.get("id"), str)]
            raise HostNotFound(host_id, known)
        return index

    def _read_raw(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            raise InventoryError([Problem(str(self.path), None, None, "", f"cannot read file: {reason}")]) from None

    def _read(self, raw: bytes | None) -> _Doc:
        source = str(self.path)
        if raw is None:
            return _Doc(make_yaml(""), CommentedMap(), exists=False)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:  # as the loader says it
            line, bad = raw[: exc.start].count(b"\n") + 1, raw[exc.start]
            raise InventoryError([Problem(source, line, None, "", f"the file is not UTF-8 text (bad byte 0x{bad:02x})")]) from None
        crlf = "\r\n" in text
        text = text.replace("\r\n", "\n")
        ry = make_yaml(text)
        try:
            data = ry.load(text)
        except YAMLError as exc:
            load_inventory_text(text, source)  # the loader's messages are the ones users know
            raise InventoryError([Problem(source, None, None, "", f"YAML error: {exc}")]) from None
        prefix = ""
        if data is None:
            data, prefix = CommentedMap(), (text.rstrip("\n") + "\n" if text.strip() else "")
            ry.explicit_start = False  # a `---` is in the prefix already
        keep_anchors(data, set())
        if not isinstance(data, CommentedMap):
            load_inventory_text(text, source)
            raise InventoryError([Problem(source, 1, None, "", "the top level must be a mapping")])
        return _Doc(ry, data, exists=True, bom=raw.startswith(codecs.BOM_UTF8), crlf=crlf, prefix=prefix)

    def _render(self, doc: _Doc, index: int | None, expect: dict[str, Any]) -> tuple[Inventory, bytes]:
        out = io.StringIO()
        doc.yaml.dump(doc.data, out)
        text = doc.prefix + out.getvalue()
        inventory = load_inventory_text(text, str(self.path))  # raises: nothing written
        if index is not None:
            _check_faithful(text, index, expect, str(self.path))
        if doc.crlf:
            text = text.replace("\n", "\r\n")
        return inventory, (codecs.BOM_UTF8 if doc.bom else b"") + text.encode("utf-8")

    def _write(self, data: bytes, base: bytes | None, expected: bytes | None) -> tuple[bool, bytes | None]:
        """Replace the file with ``data`` if it still holds ``expected`` (None: no file); ``.bak`` gets ``base``.

        What :func:`~inventory.guarded_write.replace_if_unchanged` returns. The backup is written
        after the replace, so the check-to-replace span stays microseconds; a crash in between
        leaves the previous ``.bak``, never half of one.
        """
        parent = self.path.parent
        parent.mkdir(parents=True, exist_ok=True)
        tmp = write_temp(parent, self.path.name, ".tmp", data)
        try:
            if expected is not None:
                with contextlib.suppress(OSError):  # else keep mkstemp's private mode
                    shutil.copymode(self.path, tmp)
            replaced, seen = replace_if_unchanged(tmp, self.path, expected)
        finally:
            Path(tmp).unlink(missing_ok=True)  # gone already when it was moved into place
        if replaced and base is not None:
            bak = write_temp(parent, self.path.name, ".bak.tmp", base)
            try:
                with contextlib.suppress(OSError):
                    shutil.copymode(self.path, bak)
                replace_retrying(bak, self.backup_path)
            finally:
                Path(bak).unlink(missing_ok=True)
        if replaced:
            fsync_dir(parent)
        return replaced, seen


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
        if not same(host.get(key), value):
            raise _bad(source, str(host.get("id")), key, f"the value {value!r} would read back as {host.get(key)!r}")


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


def _index(hosts: CommentedSeq, host_id: str) -> int | None:
    for i, item in enumerate(hosts):
        if isinstance(item, Mapping) and item.get("id") == host_id:
            return i
    return None


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, InventoryError) and exc.problems:
        more = len(exc.problems) - 1
        return str(exc.problems[0]) + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")
    return str(exc)
