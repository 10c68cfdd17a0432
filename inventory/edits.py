"""Inventory edits as data: what the API and the Servers page change, applied by whoever owns the file.

On one machine the web applies an edit to the file itself. When members on
several machines share one inventory (`collector.inventory_share`), a web
process whose member does not own the file queues the edit in the database
and the owner applies it: so an edit, and how it failed, must travel as JSON.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .errors import HostExists, HostNotFound, InventoryConflict, InventoryError, Problem
from .models import Inventory
from .writer import InventoryWriter

OPS = ("add_host", "update_host", "delete_host")


@dataclass(frozen=True)
class Edit:
    """One change: `add_host(entry)`, `update_host(host_id, changes)` or `delete_host(host_id)`."""

    op: str
    args: tuple[Any, ...]

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown inventory edit {self.op!r}")

    def __call__(self, writer: InventoryWriter) -> Inventory:
        return getattr(writer, self.op)(*self.args)

    def to_json(self) -> str:
        return json.dumps({"op": self.op, "args": list(self.args)})

    @classmethod
    def from_json(cls, text: str) -> Edit:
        data = json.loads(text)
        return cls(data["op"], tuple(data["args"]))


def add_host(entry: dict[str, Any]) -> Edit:
    return Edit("add_host", (entry,))


def update_host(host_id: str, changes: dict[str, Any]) -> Edit:
    return Edit("update_host", (host_id, changes))


def delete_host(host_id: str) -> Edit:
    return Edit("delete_host", (host_id,))


def failure_doc(exc: Exception) -> dict[str, Any]:
    """How an edit failed, as JSON (`raise_failure` raises it again on the other side)."""
    if isinstance(exc, InventoryConflict):
        return {"kind": "conflict", "message": exc.problems[0].message}
    if isinstance(exc, InventoryError):
        return {"kind": "invalid", "problems": [p.to_dict() for p in exc.problems]}
    if isinstance(exc, HostExists):
        return {"kind": "exists", "host": exc.host_id}
    if isinstance(exc, HostNotFound):
        return {"kind": "not_found", "message": str(exc)}
    return {"kind": "error", "message": f"cannot write the inventory file: {exc}"}


class RemoteEditError(Exception):
    """The owner could not write the file (an OSError over there)."""


def raise_failure(doc: dict[str, Any]) -> None:
    kind = doc.get("kind")
    if kind == "conflict":
        raise InventoryConflict("<inventory>", None, "", doc.get("message"))
    if kind == "invalid":
        raise InventoryError([Problem(p["file"], p.get("line"), p.get("host"), p.get("field", ""), p["message"])
                              for p in doc.get("problems") or ()])
    if kind == "exists":
        raise HostExists(doc.get("host", "?"))
    if kind == "not_found":
        err = HostNotFound.__new__(HostNotFound)
        KeyError.__init__(err, doc.get("message", "unknown host"))
        raise err
    raise RemoteEditError(doc.get("message") or "the inventory's owner could not apply the edit")
