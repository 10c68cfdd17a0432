"""Problems found in an inventory file, and the exception that carries them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem", "InventoryError"]


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
