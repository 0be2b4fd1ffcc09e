"""Reading files safely: only regular files, only up to a size cap, gzip inflated in bounded
steps, text decoded strictly; and finding the input files under folders.

Everything that can go wrong with a whole file (a FIFO, a symlink loop, a gzip bomb, bytes that
are not UTF-8) becomes ``Unreadable`` with the reason, which the loader turns into a skip.
"""

from __future__ import annotations

import codecs
import logging
import os
import stat
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from qa.ingest import limits

log = logging.getLogger("qa.ingest")

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl", ".jsonl.gz", ".json.gz")


class Unreadable(Exception):
    """A whole file that cannot be read; the message is the skip reason."""


def suffix(path: Path) -> str:
    """The format suffix, treating ``.jsonl.gz``/``.json.gz`` as one suffix."""
    name = path.name.lower()
    for double in (".jsonl.gz", ".json.gz"):
        if name.endswith(double):
            return double
    return path.suffix.lower()


def mb(n: int) -> str:
    """'256 MB', '50.3 MB': sizes in skip reasons."""
    return f"{n // limits.MB} MB" if n % limits.MB == 0 else f"{n / limits.MB:.1f} MB"


def _file_kind(mode: int) -> str:
    """What a directory entry that is not a regular file is, for the skip reason."""
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a plain file"


def read_bytes(path: Path, limit: int | None = None,
               limit_name: str = "MAX_INPUT_BYTES") -> tuple[bytes, str | None]:
    """All bytes of a file (gunzipped for ``.gz``), plus an error if a gzip stream broke off.

    A truncated gzip keeps everything decompressed before the break, so the records that
    were complete still load. Only a regular file is read (opened non-blocking: a FIFO must not
    hang the run, nor a symlink to ``/dev/zero`` fill memory), and at most ``limit`` bytes of it,
    before and after gunzip (default ``MAX_INPUT_BYTES``); more is ``Unreadable`` with the size in the reason.
    """
    limit = limits.MAX_INPUT_BYTES if limit is None else limit
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise Unreadable(f"cannot read file: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable(f"not a regular file ({_file_kind(info.st_mode)})")
        if info.st_size > limit:
            raise Unreadable(f"file is {mb(info.st_size)}, over the {mb(limit)} limit ({limit_name})")
        with open(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise Unreadable(f"cannot read file: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew while we read it
        raise Unreadable(f"file is over the {mb(limit)} limit ({limit_name})")
    return gunzip(data, limit, limit_name) if path.name.lower().endswith(".gz") else (data, None)


def gunzip(data: bytes, limit: int | None = None,
           limit_name: str = "MAX_INPUT_BYTES") -> tuple[bytes, str | None]:
    """Decompress gzip member by member with zlib, keeping whatever came out before a break.

    Output is produced in bounded steps and counted, so a gzip bomb stops at ``limit`` bytes
    (``Unreadable``) instead of being inflated whole into memory.
    """
    limit = limits.MAX_INPUT_BYTES if limit is None else limit
    out = bytearray()
    while data:
        inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        pending = data
        try:
            while not inflater.eof:
                piece = inflater.decompress(pending, limit + 1 - len(out))
                out += piece
                if len(out) > limit:
                    raise Unreadable(f"gzip decompresses past {mb(limit)} ({limit_name}): "
                                     "a gzip bomb, or a file to split into smaller ones")
                pending = inflater.unconsumed_tail
                if not piece and not pending:
                    break  # input used up before the end of the stream
        except zlib.error as exc:
            return bytes(out), f"truncated or corrupt gzip: {exc}"
        if not inflater.eof:
            return bytes(out), "truncated or corrupt gzip: the compressed data ends mid-stream"
        data = inflater.unused_data.lstrip(b"\0")  # a next member, or trailing zero padding
    return bytes(out), None


# Byte-order marks that say the text is not UTF-8 (UTF-32 first: its LE mark starts like UTF-16's).
UNICODE_BOMS = ((codecs.BOM_UTF32_LE, "utf-32", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
                (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"), (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"))


def decode(data: bytes, partial: bool = False) -> str:
    """UTF-8 (with or without BOM), or UTF-16/32 when a BOM says so; ``Unreadable`` otherwise.

    With ``partial`` a multi-byte character cut off at the end (a truncated gzip) is dropped.
    """
    encoding, name = "utf-8-sig", "UTF-8"
    for bom, codec, label in UNICODE_BOMS:
        if data.startswith(bom):
            encoding, name = codec, label
            break
    try:
        if partial:
            return codecs.getincrementaldecoder(encoding)().decode(data, final=False)
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise Unreadable(f"not {name} (invalid byte at offset {exc.start})") from exc


def read_text(path: Path) -> str:
    """A small text file as a string, or ``Unreadable`` with the reason (too big for one article)."""
    data, _ = read_bytes(path, limits.MAX_ARTICLE_FILE_BYTES, "MAX_ARTICLE_FILE_BYTES")
    return decode(data)


def iter_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Input files from files and folders.

    Folders are walked recursively in sorted order, skipping hidden files and folders and
    files with unsupported suffixes; an explicitly named file is always yielded (an
    unsupported one is then reported as skipped by ``load_articles``). Each file once.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"article path not found: {path} (give files or folders of articles)")
        candidates = [path] if path.is_file() else walk(path)
        for file in candidates:
            try:
                key = file.resolve()
            except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
                key = Path(os.path.abspath(file))  # load_articles reports it as unreadable
            if key not in seen:
                seen.add(key)
                yield file


def walk(folder: Path) -> list[Path]:
    """Supported, non-hidden files under ``folder``, sorted by their path inside it."""
    def unreadable(exc: OSError) -> None:  # os.walk would skip an unreadable folder silently
        log.warning("cannot read folder %s: %s", exc.filename, exc.strerror or exc)

    found = []
    for root, dirs, files in os.walk(folder, onerror=unreadable):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            file = Path(root) / name
            if not name.startswith(".") and suffix(file) in SUPPORTED_SUFFIXES:
                found.append(file)
    return sorted(found, key=lambda f: f.relative_to(folder).parts)
