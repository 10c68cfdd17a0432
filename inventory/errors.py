"""Problems found in an inventory file, the exception that carries them, and the edits' refusals."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

__all__ = ["HostExists", "HostNotFound", "InventoryConflict", "InventoryError", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an inventory file.

    ``str(problem)`` reads like a compiler message::

        hosts.yaml:14: host 'gpu-01': field 'services[1]': invalid systemd unit name ...
    """

    file: str
    line: int | None
    host: str | None
    field: str
    message: str

    def __str__(self) -> str:
        out = f"{self.file}:{self.line}: " if self.line is not None else f"{self.file}: "
        if self.host is not None:
            out += f"host {self.host!r}: "
        if self.field:
            out += f"field {self.field!r}: "
        return out + self.message

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form (for ``/api/inventory/status`` and the UI)."""
        return {
            "file": self.file,
            "line": self.line,
            "host": self.host,
            "field": self.field,
            "message": self.message,
            "text": str(self),
        }


class InventoryError(ValueError):
    """The inventory file could not be loaded; ``.problems`` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(self._summary())

    def _summary(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        files = sorted({p.file for p in self.problems})
        head = f"{len(self.problems)} problems in {', '.join(files)}:"
        return "\n".join([head, *("  " + str(p) for p in self.problems)])


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
