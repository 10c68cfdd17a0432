"""Atomic file replacement: a reader sees the old file or the new one, never half of either.

The new content goes to a temporary file in the same folder (a rename is atomic only within one file
system), is flushed to disk, gets its permission bits, and is moved onto the target with
``os.replace``; the folder is then flushed so that the rename survives a crash. On Windows a reader
that holds the target open makes ``os.replace`` fail with PermissionError for a moment: it is retried
for about 1.5 s. A temporary file is never left behind, whatever fails.

Used by the inventory writer (inventory/writer.py, and through guarded_write.py for the conditional
replace), host-key pinning (collector/hostkeys.py) and database backups (schema/backup.py). It lives
in ``schema``, whose package imports nothing, so that ``inventory`` and ``schema`` may both use it
without either importing the other's models: it imports only the standard library.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["REPLACE_TRIES", "atomic_write", "copy_mode", "fsync_dir", "replace_pause", "replace_retrying",
           "replacing", "write_temp"]

REPLACE_TRIES = 6  # os.replace on Windows while a reader holds the target: 50 ms doubling, 1.55 s in all


def replace_pause(attempt: int) -> float:
    """How long to wait after the ``attempt``-th PermissionError of ``os.replace`` (0-based)."""
    return 0.05 * 2**attempt


def write_temp(parent: Path, name: str, suffix: str, data: bytes) -> str:
    """``data`` in a new private (0600) file next to ``name`` (flushed to disk); its path."""
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{name}.", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def copy_mode(src: Path, dst: str | Path) -> None:
    """Give ``dst`` the permission bits of ``src``; nothing when ``src`` is missing or unreadable."""
    with contextlib.suppress(OSError):
        shutil.copymode(src, dst)


def replace_retrying(src: str | Path, dst: Path) -> None:
    """``os.replace``, retried for a moment on Windows while a reader holds ``dst`` open."""
    for attempt in range(REPLACE_TRIES):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if os.name != "nt" or attempt == REPLACE_TRIES - 1:
                raise
            time.sleep(replace_pause(attempt))


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable (POSIX; Windows cannot open a directory for it)."""
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def replacing(path: Path, *, suffix: str = ".tmp", mode: int | None = None,
              like: Path | None = None) -> Iterator[Path]:
    """A new private temporary file beside ``path`` for the block to fill (by name: a program may write it).

    When the block ends without an exception the file is flushed to disk and moved onto ``path``;
    otherwise it is removed and ``path`` is untouched. Permission bits: ``mode`` when given, else
    those of ``like`` or, by default, of the file being replaced; a new file stays private (0600).
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # what another program wrote there, on disk before the rename
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            copy_mode(like if like is not None else path, tmp)
        replace_retrying(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)  # gone already when it was moved into place


def atomic_write(path: Path, data: bytes, *, suffix: str = ".tmp", mode: int | None = None,
                 like: Path | None = None) -> None:
    """Replace ``path`` with ``data`` atomically; permission bits as :func:`replacing` says."""
    with replacing(path, suffix=suffix, mode=mode, like=like) as tmp:
        tmp.write_bytes(data)
