"""The Servers page's host form: browser fields to an inventory entry, and problems back to fields.

Pure functions, so the mapping is tested without a browser. An empty field means
"inherit from defaults": left out when adding, set back to the default when editing.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inventory import DISK_MODES
from inventory.edit_checks import entry_problems
from webapp.i18n import N_, gettext
from webapp.inventory_words import translate_problem

TEXT_FIELDS = ("address", "user", "identity_file", "known_hosts", "host_key", "interval", "timeout")
GPU_MODES = ("auto", "off", "nvidia")
_FIELD = re.compile(r"[a-z_]+")
# the form's fields in the order the page shows them, with their labels (the error summary names them so)
LABELS = {"id": N_("Id"), "address": N_("Address"), "port": N_("SSH port"), "user": N_("User"), "identity_file": N_("Private key file"),
          "known_hosts": N_("known_hosts file"), "host_key": N_("Pinned host key"), "interval": N_("Probe interval"),
          "timeout": N_("Probe timeout"), "disks": N_("Disks"), "gpu": N_("GPU"), "labels": N_("Labels"), "services": N_("Services")}


@dataclass
class HostForm:
    """What the user typed (to show again) plus the entry built from it and the problems found."""

    values: dict[str, Any]
    entry: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.general

    def summary(self) -> list[tuple[str, str, str]]:
        """(field, label, message) of every field in error, in the page's order (the list at the top)."""
        order = [name for name in LABELS if name in self.errors] + [n for n in self.errors if n not in LABELS]
        return [(name, gettext(LABELS[name]) if name in LABELS else name, self.errors[name]) for name in order]

    def add_problems(self, problems) -> None:
        """Inventory problems beside their fields; a field keeps the first problem it was given."""
        errors, general = problem_fields(problems)
        for name, message in errors.items():
            self.errors.setdefault(name, message)
        self.general += [g for g in general if g not in self.general]


def _one(form: Mapping[str, Sequence[str]], name: str) -> str:
    values = form.get(name) or []
    return values[-1].strip() if values else ""


def _port(text: str, out: HostForm) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        out.errors["port"] = gettext("a port is a whole number from 1 to 65535, not %(text)s") % {"text": repr(text)}
        return None
    return int(text)


def _labels(text: str, out: HostForm) -> dict[str, str]:
    labels: dict[str, str] = {}
    bad: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            bad.append(gettext("line %(n)s (%(text)s)") % {"n": n, "text": repr(line[:40])})
            continue
        labels[key.strip()] = value.strip()
    if bad:
        out.errors["labels"] = gettext("write labels as key=value, one a line: %(lines)s") % {"lines": ", ".join(bad)}
    return labels


def _services(form: Mapping[str, Sequence[str]]) -> list[str]:
    chosen = [s.strip() for s in form.get("services") or [] if s.strip()]
    chosen += re.split(r"[\s,]+", _one(form, "services_extra"))
    return list(dict.fromkeys(s for s in chosen if s))


def parse_host_form(form: Mapping[str, Sequence[str]], *, editing: bool, host_id: str | None = None) -> HostForm:
    """The entry to write (add) or the changes to apply (edit, to host `host_id`), with every field's
    problem at once: the form's own checks, then the inventory's (the model checks all its fields in
    one pass) for the fields the form found nothing wrong with."""
    values = {name: _one(form, name) for name in ("id", "port", "disks", "gpu", "labels", *TEXT_FIELDS)}
    values["services"] = _services(form)
    out = HostForm(values=values)
    entry: dict[str, Any] = {}
    if not editing:
        if not values["id"]:
            out.errors["id"] = gettext("a host needs an id (letters, digits, . _ -)")
        entry["id"] = values["id"]
    if not values["address"]:
        out.errors["address"] = gettext("a host needs an address: an IP address or a DNS name")
    for name in TEXT_FIELDS:
        entry[name] = values[name] or None
    entry["port"] = _port(values["port"], out)
    disks = values["disks"]
    entry["disks"] = (None if not disks else disks.lower() if disks.lower() in DISK_MODES
                      else [d for d in re.split(r"[\s,]+", disks) if d])
    if values["gpu"] and values["gpu"] not in GPU_MODES:
        out.errors["gpu"] = gettext("pick one of %(modes)s") % {"modes": ", ".join(GPU_MODES)}
    entry["gpu"] = values["gpu"] or None
    entry["services"] = values["services"] if (values["services"] or editing) else None
    entry["labels"] = _labels(values["labels"], out) or None
    # adding: unset fields are left out (inherit); editing: None puts a field back to the default
    out.entry = entry if editing else {k: v for k, v in entry.items() if v is not None}
    checked = {k: v for k, v in entry.items() if v is not None and k not in out.errors}
    if editing:
        checked["id"] = host_id or "host"
    out.add_problems(entry_problems(checked, "form", host_id))
    return out


def entry_values(entry) -> dict[str, Any]:
    """A HostEntry (as written in the file) as form values, for the edit form."""
    disks = entry.disks
    return {
        "id": entry.id, "address": entry.address, "port": "" if entry.port is None else str(entry.port),
        "user": entry.user or "", "identity_file": entry.identity_file or "", "known_hosts": entry.known_hosts or "",
        "host_key": entry.host_key or "",
        "interval": "" if entry.interval is None else f"{entry.interval:g}s",
        "timeout": "" if entry.timeout is None else f"{entry.timeout:g}s",
        "disks": "" if disks is None else disks if isinstance(disks, str) else " ".join(disks),
        "gpu": entry.gpu or "", "services": list(entry.services or []),
        "labels": "\n".join(f"{k}={v}" for k, v in (entry.labels or {}).items()),
    }


def problem_fields(problems) -> tuple[dict[str, str], list[str]]:
    """Inventory problems as {form field: message}, and those that belong to no field."""
    errors: dict[str, str] = {}
    general: list[str] = []
    for p in problems:
        match = _FIELD.match(p.field or "")
        name = match.group(0) if match else ""
        message = translate_problem(p.message)  # in the page's language (English: as the inventory words it)
        if name in ("id", "port", "disks", "gpu", "labels", "services", *TEXT_FIELDS):
            errors.setdefault(name, message)
        else:
            general.append(message if not p.field else f"{p.field}: {message}")
    return errors, general
