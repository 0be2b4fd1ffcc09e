"""Files written whole or not at all: a temporary sibling renamed over the target.

A reader (another process, or the next run after a crash) never sees half a file.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def temporary_sibling(path: Path) -> Path:
    """A hidden name beside ``path``, unique to this process, for writing before the rename."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically; the temporary file is removed if anything fails."""
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically; the temporary file is removed if anything fails."""
    atomic_write_with(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_with(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` fills a temporary sibling of ``path``, which then replaces it (for writers that want a
    file name: numpy, matplotlib); the temporary file is removed if anything fails."""
    tmp = temporary_sibling(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
