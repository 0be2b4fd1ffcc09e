"""One writer at a time per index: ``fcntl.flock`` on ``index.lock`` in the index root.

A writer holds the lock for its whole run; a second writer gets ``IndexBusy`` (an ``OSError``) at
once, naming the holder's pid. The kernel releases the lock when its holder dies, so a killed run
never leaves a stale lock. flock is advisory and may not work on network file systems.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: writers are not serialised
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "index.lock"


class IndexBusy(OSError):
    """Another indexing run holds the index's write lock (or replaced the index under this one)."""


class WriteLock:
    """The write lock of the index at ``root``, re-entrant in the thread that holds it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._owner: int | None = None  # thread holding the lock
        self._depth = 0

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the lock; ``IndexBusy`` at once if taken. Another thread, or another process, gets
        ``IndexBusy``: flock conflicts between separate opens of the file."""
        me = threading.get_ident()
        if self._owner == me:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        if fcntl is None:
            yield
            return
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd)
                who = "another indexing run in this process" if holder == os.getpid() else "another `qa index`"
                raise IndexBusy(f"{who} is updating {self.root} (pid {holder or 'unknown'}); "
                                "try again when it finishes") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._owner, self._depth = me, 1
            try:
                yield
            finally:
                self._owner, self._depth = None, 0
        finally:
            os.close(fd)  # releases the flock


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None
