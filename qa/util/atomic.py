"""Files and folders written whole or not at all: built beside the target, then renamed onto it.

A reader (another process, or the next run after a crash) never sees half a file or half a folder.
"""

from __future__ import annotations

import os
import shutil
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
    file name: numpy, matplotlib, torch); the temporary file is removed if anything fails."""
    tmp = temporary_sibling(path)
    try:
        write(tmp)
        publish(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_folder(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` fills a fresh temporary folder beside ``path``, which then takes its place
    (``swap_folder``); the temporary folder is removed if anything fails."""
    tmp = temporary_sibling(path)
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        write(tmp)
        swap_folder(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def publish(built: Path, target: Path) -> None:
    """Rename the finished file or folder ``built`` onto ``target`` in one step (both on one file system).

    A file replaces the file there. A folder cannot replace a non-empty folder: that raises OSError and
    the folder already there stays (the first of two concurrent builders wins).
    """
    os.replace(built, target)


def swap_folder(built: Path, target: Path) -> None:
    """Put the finished folder ``built`` at ``target``, replacing the folder there.

    The old folder is renamed aside to ``<target>.old`` and removed only once the new one is in place, so
    a crash in between leaves it there rather than no folder at all.
    """
    old = target.with_name(target.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        publish(target, old)
    publish(built, target)
    shutil.rmtree(old, ignore_errors=True)
