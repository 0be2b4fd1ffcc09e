"""Article files dropped into the chat: checked, given safe names, saved into the uploads folder.

The folder is ``Settings.uploads`` (``QA_UPLOADS``, by default in the user's data folder, outside
any checkout); the chat indexes it with the corpus.

Nothing about an upload's name is trusted: directories, ``..``, drive letters, NUL and control
characters are stripped, so a file can only land directly in the uploads folder, under a plain
name that keeps its (supported) extension. An existing file is never overwritten: a different
file with the same name is saved as ``name-1.txt``, ``name-2.txt``…; the very same bytes are
recognised and not saved twice. Oversized, empty, unsupported and broken-gzip files are
rejected, each with a reason the user can act on.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import unicodedata
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from qa.ingest import SUPPORTED_SUFFIXES

if TYPE_CHECKING:
    from qa.config import Settings

# Limits for one upload (per file / per drop). Kept here rather than in qa/config.py: they only
# guard the chat's upload box; `qa index` reads any file it is pointed at.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # 20 MB per file as uploaded
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024  # a .gz must not expand beyond this
MAX_UPLOAD_FILES = 20  # files per drop
MAX_NAME_CHARS = 120  # length of a saved file name, extension included

_UNSAFE = re.compile(r"[^\w.\- ]+", re.UNICODE)  # anything but letters, digits, _ . - space


@dataclass
class UploadReport:
    """What happened to each uploaded file."""

    saved: list[Path] = field(default_factory=list)  # newly written into the uploads folder
    unchanged: list[Path] = field(default_factory=list)  # already there with the same bytes
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (file name as given, reason)

    @property
    def stored(self) -> list[Path]:
        """Every accepted file, new or already present."""
        return self.saved + self.unchanged

    def summary(self) -> str:
        parts = []
        if self.saved:
            parts.append(f"Added {_count(len(self.saved), 'file')}: " + ", ".join(p.name for p in self.saved) + ".")
        if self.unchanged:
            parts.append("Already uploaded: " + ", ".join(p.name for p in self.unchanged) + ".")
        if self.rejected:
            parts.append("Not added: " + "; ".join(f"{name} ({reason})" for name, reason in self.rejected) + ".")
        return " ".join(parts) or "No files received."


def upload_dir(settings: Settings) -> Path:
    """Where uploads go: ``QA_UPLOADS``, by default in the user's data folder, outside any checkout
    (created on the first upload; indexed with the corpus from then on)."""
    return Path(settings.uploads)


def suffix_of(name: str) -> str:
    """The format suffix, lower-cased, with ``.jsonl.gz``/``.json.gz`` as one suffix ('' if none)."""
    low = name.lower()
    for double in (".jsonl.gz", ".json.gz"):
        if low.endswith(double) and len(low) > len(double):
            return double
    stem, dot, ext = low.rpartition(".")
    return "." + ext if dot and stem.strip(". ") and ext else ""


def safe_name(name: str) -> str:
    """A plain file name for ``name``: no folders, no traversal, no control characters.

    The extension is kept (lower-cased); the rest is reduced to letters, digits, ``_``, ``-``,
    ``.`` and single spaces, never starting with a dot (hidden files are not indexed).
    Returns '' when nothing usable is left (the caller then rejects or renames it).
    """
    name = unicodedata.normalize("NFC", str(name))
    name = "".join(ch for ch in name if ch.isprintable() and ch != "\x00")
    name = re.split(r"[\\/]", name)[-1]  # folders of either kind of path: '../', '/etc/', 'C:\\'
    suffix = suffix_of(name)
    stem = name[: len(name) - len(suffix)] if suffix else name
    stem = _UNSAFE.sub("_", stem)
    stem = re.sub(r"_{2,}", "_", re.sub(r"\s+", " ", stem))
    stem = stem.strip(" ._-")
    stem = re.sub(r"\.{2,}", ".", stem)  # no '..' left anywhere
    if not stem:
        return ""
    stem = stem[: MAX_NAME_CHARS - len(suffix)].rstrip(" ._-")
    return stem + suffix


def save_uploads(
    files: Iterable,
    corpus_dir: str | Path,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_files: int = MAX_UPLOAD_FILES,
    max_uncompressed: int = MAX_UNCOMPRESSED_BYTES,
) -> UploadReport:
    """Copy uploaded files into ``corpus_dir`` (the uploads folder) under safe, non-clobbering names.

    ``files`` holds paths (the upload's temporary file, whose base name is the name the user
    gave it, as Gradio stores them), ``(name, path)`` pairs, or objects with ``path`` and
    ``orig_name``/``name`` attributes.
    """
    report = UploadReport()
    corpus = Path(corpus_dir)
    items = [f for f in (files or []) if f is not None]
    for i, item in enumerate(items):
        name, path = _name_and_path(item)
        shown = _shown(name)
        if i >= max_files:
            report.rejected.append((shown, f"too many files at once: at most {max_files} per upload"))
            continue
        reason = _check(name, path, max_bytes, max_uncompressed)
        if reason:
            report.rejected.append((shown, reason))
            continue
        try:
            corpus.mkdir(parents=True, exist_ok=True)
            target, new = _store(path, corpus, safe_name(name))
        except OSError as exc:
            report.rejected.append((shown, f"could not be saved: {exc.strerror or 'write error'}"))
            continue
        (report.saved if new else report.unchanged).append(target)
    return report


# --------------------------------------------------------------------------------------------


def _name_and_path(item) -> tuple[str, Path]:
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return str(item[0]), Path(item[1])
    if isinstance(item, (str, os.PathLike)):
        path = Path(item)
        return path.name, path
    path = Path(getattr(item, "path", None) or item.name)
    return str(getattr(item, "orig_name", None) or path.name), path


def _shown(name: str) -> str:
    """The name as given, made safe to print (the chat escapes it again)."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in name.replace("\x00", ""))
    clean = re.split(r"[\\/]", clean)[-1] or clean
    return clean[:80] + ("…" if len(clean) > 80 else "") or "(unnamed)"


def _check(name: str, path: Path, max_bytes: int, max_uncompressed: int) -> str:
    """Why the file cannot be added ('' when it can)."""
    safe = safe_name(name)
    suffix = suffix_of(safe or re.split(r"[\\/]", name)[-1])  # the extension it would be saved with
    if suffix not in SUPPORTED_SUFFIXES:
        kinds = ", ".join(SUPPORTED_SUFFIXES)
        return f"unsupported file type {suffix or '(no extension)'}; supported: {kinds}"
    if not safe:
        return "the file name has no usable characters"
    try:
        size = path.stat().st_size
    except OSError:
        return "the upload could not be read"
    if size > max_bytes:
        return f"too large: {_mb(size)}, the limit is {_mb(max_bytes)}"
    if size == 0:
        return "empty file"
    if suffix.endswith(".gz"):
        return _check_gzip(path, max_uncompressed)
    return ""


def _check_gzip(path: Path, limit: int) -> str:
    """A gzip file must decompress cleanly and stay under ``limit`` bytes."""
    total = 0
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                total += len(chunk)
                if total > limit:
                    return f"too large once decompressed: over {_mb(limit)}"
    except (OSError, EOFError, zlib.error):
        return "not a valid gzip file"
    return ""


def _store(src: Path, corpus: Path, name: str) -> tuple[Path, bool]:
    """Copy ``src`` to ``corpus/name`` or the first free ``name-N``; (path, newly written)."""
    suffix = suffix_of(name)
    stem = name[: len(name) - len(suffix)]
    digest = _digest(src)
    for n in range(10_000):
        target = corpus / (name if n == 0 else f"{stem}-{n}{suffix}")
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if target.is_file() and _digest(target) == digest:
                return target, False
            continue
        try:
            with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
                shutil.copyfileobj(f, out)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        return target, True
    raise OSError(0, "no free file name")


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n < 10 * 1024 * 1024 else f"{n // (1024 * 1024)} MB"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"
