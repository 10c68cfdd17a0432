"""Which collector worker polls which host: rendezvous (highest random weight) hashing of the host id.

Every live member of the hub (a `serve` process with its workers) is a set of
candidates `(member, slot)`. A host goes to the candidate with the highest
weight `hash(member, slot, host id)`, so
- every host has exactly one owner, worked out by anyone from the same member list
  (no coordinator, nothing to agree on but the list itself);
- when a member leaves, only its hosts move, spread over the others; when it
  comes back, only the hosts it wins move back (the fewest moves possible).
Pure functions: the member list comes from the database (`hub_processes`).
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

Candidate = tuple[str, int]  # (member, worker slot)


def candidates(members: Mapping[str, int]) -> list[Candidate]:
    """Every worker of every member: `members` maps a member id to its number of workers."""
    return [(member, slot) for member, workers in sorted(members.items()) for slot in range(max(1, workers))]


def weight(host_id: str, candidate: Candidate) -> int:
    member, slot = candidate
    digest = hashlib.blake2b(f"{member}\x00{slot}\x00{host_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(host_id: str, among: Iterable[Candidate]) -> Candidate | None:
    """The candidate that polls `host_id` (None when there is none)."""
    return max(among, key=lambda c: (weight(host_id, c), c), default=None)


def assign(host_ids: Iterable[str], among: Iterable[Candidate]) -> dict[str, Candidate]:
    """Every host's owner."""
    pool = list(among)
    if not pool:
        return {}
    return {h: owner(h, pool) for h in host_ids}  # type: ignore[misc]


def hosts_of(me: Candidate, host_ids: Iterable[str], among: Iterable[Candidate]) -> set[str]:
    """The hosts `me` polls."""
    pool = list(among)
    return {h for h in host_ids if owner(h, pool) == me}
