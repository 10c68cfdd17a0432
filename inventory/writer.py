"""Round-trip writer for inventory edits made through the API (SPEC section 2).

A person may edit the same file while the API writes it. Each edit is made on the bytes read,
and the file is replaced only if it still holds them (guarded_write.py); if not, the edit is
redone on the new content (up to ``_TRIES`` times), or refused with :class:`InventoryConflict`
when it no longer applies (the host was deleted by hand, the file is now invalid): a change is
never dropped without saying so. Before, 23 to 35 of 36 hosts appended by hand vanished while
the API added 36 (five runs of tests/integration/test_inventory_writer_race.py).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedSeq

from schema.atomic_file import atomic_write, copy_mode, fsync_dir, write_temp

from .edit_checks import check_changes, check_entry, check_faithful, entry_problems
from .errors import HostExists, HostNotFound, InventoryConflict, InventoryError, Problem
from .guarded_write import append_bytes, replace_if_unchanged
from .loader import load_inventory, load_inventory_text
from .models import Inventory
from .paths import KEY_FIELDS, KeyFolders
from .yaml_document import YamlDocument, host_index
from .yaml_roundtrip import (
    assign,
    put_following,
    replace_first_lead,
    same,
    take_end_comments,
    take_following,
    to_node,
)

__all__ = ["InventoryWriter"]

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
_TRIES = 5  # redo an edit this often when the file keeps changing under it, then give up (409)


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
        host = entry.get("id") if isinstance(entry, Mapping) and isinstance(entry.get("id"), str) else None
        also = self.key_problems(host, entry) if isinstance(entry, Mapping) else []
        entry = check_entry(entry, str(self.path), also=also)  # every problem at once, the key paths' too

        def edit(doc: YamlDocument) -> tuple[int | None, dict[str, Any]]:
            hosts = doc.hosts(str(self.path), create=True)
            if host_index(hosts, entry["id"]) is not None:
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
        changes = check_changes(changes, host_id, str(self.path))

        def edit(doc: YamlDocument) -> tuple[int | None, dict[str, Any]]:
            hosts = doc.hosts(str(self.path), create=False)
            index = self._find(hosts, host_id)
            new_id = changes.get("id", host_id)
            if new_id != host_id and host_index(hosts, new_id) is not None:
                raise HostExists(new_id)
            item = hosts[index]
            # a path written by hand is trusted: only a value this edit changes is checked
            problems = self.key_problems(host_id, {k: v for k, v in changes.items() if not same(item.get(k), v)})
            if problems:  # with the entry's other problems, so that all are told at once
                edited = {**{k: v for k, v in item.items() if k not in changes},
                          **{k: v for k, v in changes.items() if v is not None}}
                raise InventoryError(problems + [p for p in entry_problems(edited, str(self.path), host_id)
                                                 if p.field not in KEY_FIELDS])
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
        def edit(doc: YamlDocument) -> tuple[int | None, dict[str, Any]]:
            hosts = doc.hosts(str(self.path), create=False)
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
    def _edit(self, host_id: str, edit: Callable[[YamlDocument], tuple[int | None, dict[str, Any]]]) -> Inventory:
        """Read, edit, write; when the file changed meanwhile, redo the edit on what it holds now."""
        source = str(self.path)
        with self._lock:
            base = expected = self._read_raw()  # edit `base`; the file must still hold `expected`
            for attempt in range(_TRIES):
                try:
                    doc = YamlDocument.parse(base, source)
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
        atomic_write(aside, old, suffix=".conflict.tmp", mode=0o600)
        raise InventoryConflict(str(self.path), host_id, "", (
            f"the edit was saved, but another program rewrote the inventory file at the same moment and its "
            f"version could not be merged; it is kept in {aside}: merge it by hand"))

    def key_problems(self, host_id: str | None, values: Mapping[str, Any]) -> list[Problem]:
        """identity_file and known_hosts of ``values`` that point outside the allowed folders (web edits)."""
        if self.key_folders is None:
            return []
        found = ((field, self.key_folders.problem(field, values.get(field))) for field in KEY_FIELDS)
        return [Problem(str(self.path), None, host_id, field, problem) for field, problem in found if problem]

    def _find(self, hosts: CommentedSeq, host_id: str) -> int:
        index = host_index(hosts, host_id)
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

    def _render(self, doc: YamlDocument, index: int | None, expect: dict[str, Any]) -> tuple[Inventory, bytes]:
        text = doc.text()
        inventory = load_inventory_text(text, str(self.path))  # raises: nothing written
        if index is not None:
            check_faithful(text, index, expect, str(self.path))
        return inventory, doc.encode(text)

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
                copy_mode(self.path, tmp)  # else keep mkstemp's private mode
            replaced, seen = replace_if_unchanged(tmp, self.path, expected)
        finally:
            Path(tmp).unlink(missing_ok=True)  # gone already when it was moved into place
        if replaced and base is not None:  # its folder flush makes the replace above durable too
            atomic_write(self.backup_path, base, suffix=".bak.tmp", like=self.path)
        elif replaced:
            fsync_dir(parent)
        return replaced, seen


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, InventoryError) and exc.problems:
        more = len(exc.problems) - 1
        return str(exc.problems[0]) + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")
    return str(exc)
