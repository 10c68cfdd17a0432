"""Files the hub reads for every connection, parsed once per change and shared.

A fleet's hosts share one known_hosts file and one identity file. Read and
parsed for each connection they cost O(N) each, so O(N^2) for the fleet, and
every connection kept its own copy (issue 15: 632 KB a host with 1,000 hosts in
known_hosts). Here a file is parsed again only when its size, mtime or inode
changes; the signature check is one stat().
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")


class ParsedFiles(Generic[T]):
    """`get(path)`: `parse(path)`'s result, cached until the file changes. A file that cannot be
    stat'ed (missing, unreadable) is handed to `parse` every time, uncached: it says what is wrong."""

    def __init__(self, parse: Callable[[Path], T]) -> None:
        self._parse = parse
        self._files: dict[str, tuple[tuple[int, int, int], T]] = {}
        self._loads: dict[str, int] = {}
        self._lock = threading.Lock()  # 2,000 connects at start: one parses, the others wait for it

    def get(self, path: Path) -> T:
        key = os.path.abspath(path)
        try:
            st = os.stat(key)
        except OSError:
            return self._parse(Path(path))
        signature = (st.st_size, st.st_mtime_ns, st.st_ino)
        hit = self._files.get(key)
        if hit is not None and hit[0] == signature:
            return hit[1]
        with self._lock:
            hit = self._files.get(key)
            if hit is not None and hit[0] == signature:
                return hit[1]
            parsed = self._parse(Path(key))
            self._files[key] = (signature, parsed)
            self._loads[key] = self._loads.get(key, 0) + 1
            return parsed

    def loads_of(self, path: Path) -> int:
        """How often this file was parsed (tests and benchmarks)."""
        return self._loads.get(os.path.abspath(path), 0)
