"""The persisted index: vectors, a BM25 index and chunk metadata, swapped in atomically.

Each build is written to a fresh ``v-*`` folder under the index root, flushed to disk, and the
``CURRENT`` pointer file is then replaced in one rename. A crash mid-write leaves the previous
version in place and usable, and stale folders are cleaned up on the next successful write.

Integrity. The manifest records the size and sha256 of every file of its version, and a checksum
of itself. Every load checks that each file is there with its recorded size (truncation is the
usual damage: a full disk, an interrupted copy) and the sha256 of the smallest files up to
``VERIFY_HASH_BUDGET`` bytes in all, so an index of up to ~100k chunks is fully hashed (sha256
runs at 1-2 GB/s) while a million-chunk one (1.5 GB of vectors alone) still loads without
reading everything twice; ``IndexStore.verify(full=True)`` hashes it all. Damage, and any file
that fails to parse, raises ``IndexCorrupt`` (a ``ValueError``) saying which file and how to
rebuild. Indexes written before checksums are checked for structure only.

Vectors. They go to a ``VectorStore`` (``qa.store.vectors``): by default FAISS, written into the
version folder (``dense.faiss``, exact or approximate by size); with ``QA_VECTOR_STORE=milvus`` a
Milvus collection beside the versions, updated in place (its crash safety is described in
``qa.store.vectors.milvus_store``). The manifest's ``vectors`` entry records which store, index
and search parameters a version used; a manifest without one is an exact FAISS index. Stores
address chunks by stable keys (``chunk_key``); ``IndexData.rows_for`` maps them to the loaded
version's rows and drops keys it does not know.

Concurrency. A writer holds ``fcntl.flock`` on ``index.lock`` in the index root for its whole run
(``IndexStore.lock()``; ``write`` takes it too); a second writer gets ``IndexBusy`` (an
``OSError``) at once, naming the holder's pid. The kernel releases the lock when its holder dies,
so a killed run never leaves a stale lock. ``write`` also refuses to replace a version other than
the one this store read (``manifest()``/``load()``), so a run that raced another cannot drop the
other's articles. flock is advisory and may not work on network file systems.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.store.vectors import (UnreadableStore, VectorConfig, VectorSource, VectorStore, build_store, chunk_keys,
                              chunk_metas, open_store, retire_previous, vectors_moved)
from qa.store.vectors.base import Drift
from qa.types import Chunk
from qa.util.errors import first_line

try:
    import fcntl
except ImportError:  # not POSIX: writers are not serialised
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
POINTER = "CURRENT"
MANIFEST = "manifest.json"
LOCK_FILE = "index.lock"
VERIFY_HASH_BUDGET = 256 << 20  # bytes hashed on every load, smallest files first; the rest: sizes only
_HASH_BLOCK = 1 << 20
_VERSION_NAME = re.compile(r"v-[\w.-]+")  # what CURRENT may name: a folder right under the root
_UNREAD = object()  # no version read yet: ``write`` has nothing to compare against


class IndexCorrupt(ValueError):
    """An index version that fails its checks: a file missing, cut short, unparsable, or not
    matching the checksum its manifest recorded. A ``ValueError``, so the CLI prints it in one line."""

    def __init__(self, root: Path, detail: str) -> None:
        self.root = Path(root)
        self.detail = detail
        super().__init__(f"index at {root} is damaged ({detail}): delete {root} and run `qa index` "
                         f"to rebuild it")


class IndexBusy(OSError):
    """Another indexing run holds the index's write lock (or replaced the index under this one)."""


@dataclass(frozen=True)
class ArticleMeta:
    """What a citation needs of an article, kept beside its chunks."""

    id: str
    title: str
    date: str | None
    source: str
    url: str = ""
    chunks: int = 0


@dataclass
class IndexData:
    """A loaded index version: metadata and both search structures."""

    root: Path
    manifest: dict
    articles: dict[str, ArticleMeta]
    chunks: list[Chunk]
    dense: VectorStore  # vectors under ``keys``; ``rows_for`` maps search results to rows of ``chunks``
    lexical: Any = None  # bm25s.BM25 over the same rows
    keys: np.ndarray | None = field(default=None, repr=False)  # int64 key of each row (``chunk_key``)
    _vectors: np.ndarray | None = field(default=None, repr=False)
    _lookup: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.keys is None:
            self.keys = chunk_keys(self.chunks)

    def vectors(self) -> np.ndarray:
        """All chunk vectors, row-aligned with ``chunks`` (read back from the store)."""
        if self._vectors is None:
            self._vectors = self.dense.vectors_of(self.keys) if len(self.keys) else np.zeros(
                (0, self.dense.dim), np.float32)
        return self._vectors

    def rows_for(self, keys: np.ndarray) -> np.ndarray:
        """The row of each key in this version; -1 for a key it does not know (or a -1 pad)."""
        keys = np.asarray(keys, dtype=np.int64)
        if self._lookup is None:
            order = np.argsort(self.keys, kind="stable")
            self._lookup = (self.keys[order], order)
        sorted_keys, order = self._lookup
        if not len(sorted_keys):
            return np.full(keys.shape, -1, np.int64)
        pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        return np.where(sorted_keys[pos] == keys, order[pos], -1)

    def drift(self) -> Drift:
        """How a shared vector store differs from this version (always none for FAISS)."""
        if not self.dense.shared:
            return Drift(np.zeros(0, np.int64), 0)
        return self.dense.drift(self.keys)


@dataclass
class VectorUpdate:
    """A new version's vectors as rows carried over from ``base`` plus ``fresh`` ones: the first
    ``len(rows)`` chunks given to ``IndexStore.write`` are ``base.chunks[rows]``, the rest have the
    ``fresh`` vectors. A store shared between versions keeps the carried vectors where they are."""

    base: IndexData
    rows: list[int]
    fresh: np.ndarray

    def __len__(self) -> int:
        return len(self.rows) + len(self.fresh)


def _bm25s():
    """bm25s, quietened: it sets its own logger to DEBUG on import, which floods the console."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def lexical_text(title: str, chunk_text: str) -> str:
    """The text both retrievers see: the title gives short chunks their topic."""
    return f"{title}\n{chunk_text}" if title else chunk_text


def bm25_tokenize(texts: list[str]) -> list[list[str]]:
    bm25s = _bm25s()
    try:
        import Stemmer

        stemmer = Stemmer.Stemmer("english").stemWords
    except ImportError:  # PyStemmer is optional: plain tokens still work
        stemmer = None
    return bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)


class IndexStore:
    """Reads and writes index versions under one root folder."""

    def __init__(self, root: str | Path, vectors: VectorConfig | None = None) -> None:
        self.root = Path(root)
        self.vectors = vectors or VectorConfig()  # the store new versions are written to
        self._base: object = _UNREAD  # the version name (or None) the last manifest()/load() saw
        self._lock_owner: int | None = None  # thread holding this store's lock
        self._lock_depth = 0

    # --- reading ------------------------------------------------------------------------------
    def _pointed(self) -> str | None:
        """The version name in CURRENT; None without one; '' when it is garbage."""
        try:
            raw = (self.root / POINTER).read_bytes()
        except FileNotFoundError:
            return None
        try:
            name = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            return ""
        return name if _VERSION_NAME.fullmatch(name) else ""

    def current(self) -> Path | None:
        """The version CURRENT points at, if it has a manifest (None: no usable index)."""
        name = self._pointed()
        if not name:
            return None
        version = self.root / name
        return version if (version / MANIFEST).exists() else None

    def exists(self) -> bool:
        return self.current() is not None

    def manifest(self) -> dict | None:
        """The current version's manifest (None without an index); ``IndexCorrupt`` if damaged."""
        version = self.current()
        self._base = version.name if version else None
        if version is None:
            return None
        return self._read_manifest(version)

    def load(self) -> IndexData:
        """The current version, checked (see the module docstring) and parsed."""
        bm25s = _bm25s()
        version = self._current_or_raise()
        self._base = version.name
        manifest = self._read_manifest(version)
        self._verify(version, manifest, full=False)
        articles: dict[str, ArticleMeta] = {}
        for n, row in self._jsonl(version, "articles.jsonl"):
            a = self._parse(version, "articles.jsonl", n, ArticleMeta, row)
            articles[a.id] = a
        chunks = [self._parse(version, "chunks.jsonl", n, Chunk, row)
                  for n, row in self._jsonl(version, "chunks.jsonl")]
        entry = manifest.get("vectors")
        keys = chunk_keys(chunks)
        metas = chunk_metas(chunks, articles.values())
        try:
            dense = open_store(version, entry, self.vectors, keys, metas)
        except UnreadableStore as exc:  # a damaged file, a collection gone: the store says which
            raise self._damaged(version, str(exc)) from exc
        problem = dense.rows_problem(len(chunks))
        if problem:
            raise self._damaged(version, problem)
        if "dim" in manifest and dense.dim != int(manifest["dim"]):
            raise self._damaged(version, f"{dense.describe()} has {dense.dim}-dimensional vectors, "
                                         f"manifest says {manifest['dim']}")
        orphans = {c.article_id for c in chunks} - articles.keys()
        if orphans:
            raise self._damaged(version, f"chunks.jsonl refers to {len(orphans)} articles missing from articles.jsonl")
        lexical = None
        if chunks:
            try:
                lexical = bm25s.BM25.load(str(version / "bm25"), load_corpus=False, show_progress=False, verbosity=0)
            except (OSError, ValueError, KeyError, TypeError, EOFError, RuntimeError) as exc:
                raise self._damaged(version, f"bm25 cannot be read: {type(exc).__name__}: {first_line(exc)}") from exc
        return IndexData(version, manifest, articles, chunks, dense, lexical, keys=keys)

    def verify(self, full: bool = True) -> dict:
        """Check the current version against its manifest; with ``full`` hash every file.

        Returns what was checked (files, bytes hashed); raises ``IndexCorrupt`` on damage and
        ``FileNotFoundError`` without an index. ``load`` runs the quick form (``full=False``).
        """
        version = self._current_or_raise()
        return self._verify(version, self._read_manifest(version), full=full)

    def _current_or_raise(self) -> Path:
        version = self.current()
        if version is not None:
            return version
        name = self._pointed()
        if name is None:
            raise FileNotFoundError(f"no index in {self.root}: run `qa index PATH...` first")
        detail = (f"{POINTER} names {name!r}, which has no {MANIFEST}" if name
                  else f"{POINTER} does not name an index version")
        raise IndexCorrupt(self.root, detail)

    def _damaged(self, version: Path, detail: str) -> IndexCorrupt:
        return IndexCorrupt(self.root, f"{version.name}: {detail}")

    def _read_manifest(self, version: Path) -> dict:
        """The manifest, parsed and matched against its own checksum."""
        try:
            manifest = json.loads((version / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self._damaged(version, f"{MANIFEST} cannot be read ({first_line(exc)}): cut short?") from exc
        if not isinstance(manifest, dict):
            raise self._damaged(version, f"{MANIFEST} is not a JSON object")
        recorded = manifest.get("checksum")
        if recorded != (_manifest_checksum(manifest) if recorded is not None or "files" in manifest else None):
            raise self._damaged(version, f"{MANIFEST} does not match its checksum")  # ``write`` records both
        return manifest

    def _verify(self, version: Path, manifest: dict, full: bool) -> dict:
        """Every recorded file present with its size; sha256 of all (``full``) or of the smallest
        up to ``VERIFY_HASH_BUDGET`` bytes."""
        files = manifest.get("files")
        if not isinstance(files, dict):  # written before checksums: parsing is the only check
            return {"files": 0, "hashed": 0, "bytes_hashed": 0, "checksums": False}
        sizes = {}
        for name, meta in files.items():
            path = version / name
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                raise self._damaged(version, f"{name} is missing") from None
            if size != meta.get("bytes"):
                how = "cut short" if size < meta.get("bytes", 0) else "grown"
                raise self._damaged(version, f"{name} is {size:,} bytes, {meta.get('bytes'):,} expected: {how}")
            sizes[name] = size
        hashed, hashed_bytes, budget = 0, 0, None if full else VERIFY_HASH_BUDGET
        for name in sorted(sizes, key=lambda n: (sizes[n], n)):
            if budget is not None and hashed_bytes + sizes[name] > budget:
                break
            if _sha256(version / name) != files[name].get("sha256"):
                raise self._damaged(version, f"{name} does not match its sha256: corrupted")
            hashed, hashed_bytes = hashed + 1, hashed_bytes + sizes[name]
        return {"files": len(sizes), "hashed": hashed, "bytes_hashed": hashed_bytes,
                "bytes": sum(sizes.values()), "checksums": True}

    def _jsonl(self, version: Path, name: str) -> Iterator[tuple[int, dict]]:
        """(line number, object) of a JSON Lines file; ``IndexCorrupt`` at the first bad line."""
        try:
            with open(version / name, encoding="utf-8") as f:
                for n, line in enumerate(f, start=1):
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise self._damaged(version, f"{name} line {n} is not JSON ({exc.msg}): cut short?") from exc
                    if not isinstance(row, dict):
                        raise self._damaged(version, f"{name} line {n} is not a JSON object")
                    yield n, row
        except (OSError, UnicodeDecodeError) as exc:
            raise self._damaged(version, f"{name} cannot be read: {first_line(exc)}") from exc

    def _parse(self, version: Path, name: str, n: int, cls: type, row: dict) -> Any:
        try:
            return cls(**row)
        except TypeError as exc:  # missing or unknown fields
            raise self._damaged(version, f"{name} line {n} is not a {cls.__name__}: {exc}") from exc

    # --- writing ------------------------------------------------------------------------------
    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the index's write lock, for a whole indexing run; ``IndexBusy`` at once if taken.

        Re-entrant in the thread that holds it (``write`` takes it too). Another thread, or
        another process, gets ``IndexBusy``: flock conflicts between separate opens of the file.
        """
        me = threading.get_ident()
        if self._lock_owner == me:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
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
            self._lock_owner, self._lock_depth = me, 1
            try:
                yield
            finally:
                self._lock_owner, self._lock_depth = None, 0
        finally:
            os.close(fd)  # releases the flock

    def vectors_moved(self, manifest: dict | None) -> str:
        """Why the current version's vectors are not where new versions go ('' when they are):
        another store, or another place in it (a Milvus collection or URI). Vectors are moved, not
        re-embedded."""
        if manifest is None:
            return ""
        return vectors_moved(manifest.get("vectors"), self.vectors, self.root)

    def write(
        self, manifest: dict, articles: list[ArticleMeta], chunks: list[Chunk], vectors: np.ndarray | VectorUpdate
    ) -> Path:
        """Write a complete new version, flush it, then point CURRENT at it (under the lock).

        ``vectors``: every row's vector, or a ``VectorUpdate`` (rows carried over from the
        version being replaced, then new ones). After the switch the vector store drops what
        only older versions used.
        """
        bm25s = _bm25s()
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        self.root.mkdir(parents=True, exist_ok=True)
        with self.lock():
            self._check_unchanged()
            previous = self._previous_vectors()
            source = self._source(int(manifest["dim"]), articles, chunks, vectors)
            version = Path(tempfile.mkdtemp(prefix=f"v-{time.strftime('%Y%m%d-%H%M%S')}-", dir=self.root))
            try:
                dense = build_store(self.vectors, self.root, source, previous)
                entry = dense.persist(version)
                titles = {a.id: a.title for a in articles}
                if chunks:
                    bm25 = bm25s.BM25()
                    bm25.index(
                        bm25_tokenize([lexical_text(titles.get(c.article_id, ""), c.text) for c in chunks]),
                        show_progress=False,
                    )
                    bm25.save(str(version / "bm25"), show_progress=False)
                _write_jsonl(version / "articles.jsonl", (asdict(a) for a in articles))
                _write_jsonl(version / "chunks.jsonl", (asdict(c) for c in chunks))
                sealed = {k: v for k, v in manifest.items() if k not in ("files", "checksum", "vectors")}
                sealed["vectors"] = entry
                sealed["files"] = _file_sums(version)
                sealed["checksum"] = _manifest_checksum(sealed)
                (version / MANIFEST).write_text(json.dumps(sealed, indent=2) + "\n", encoding="utf-8")
                _fsync_tree(version)  # the files are on disk before CURRENT names them
                _atomic_write_text(self.root / POINTER, version.name + "\n")
            except BaseException:
                shutil.rmtree(version, ignore_errors=True)
                raise
            self._base = version.name
            self._prune(keep=version)
            dense.commit()
            retire_previous(previous, dense, self.root, self.vectors)
        return version

    def _previous_vectors(self) -> dict | None:
        """The vectors entry of the version about to be replaced (None: none, or unreadable)."""
        version = self.current()
        if version is None:
            return None
        try:
            return self._read_manifest(version).get("vectors") or {"store": "faiss"}
        except IndexCorrupt:
            return None

    def _source(self, dim: int, articles: list[ArticleMeta], chunks: list[Chunk],
                vectors: np.ndarray | VectorUpdate) -> VectorSource:
        keys = chunk_keys(chunks)
        metas = chunk_metas(chunks, articles)
        if not isinstance(vectors, VectorUpdate):
            return VectorSource(keys, metas, np.asarray(vectors, dtype=np.float32).reshape(-1, dim), dim)
        base, rows = vectors.base, np.asarray(vectors.rows, dtype=np.int64)
        if not np.array_equal(base.keys[rows], keys[: len(rows)]):
            raise ValueError("the carried-over chunks are not the base version's rows they claim to be")
        fresh = np.asarray(vectors.fresh, dtype=np.float32).reshape(-1, dim)
        return VectorSource(keys, metas, fresh, dim, carried=len(rows), base=base.dense, base_keys=base.keys)

    def _check_unchanged(self) -> None:
        """Refuse to replace a version this store did not read: another run wrote it meanwhile."""
        if self._base is _UNREAD:
            return
        now = self.current()
        if (now.name if now else None) != self._base:
            raise IndexBusy(f"another `qa index` updated {self.root} while this one was running; "
                            "run it again so that the index has both")

    def _prune(self, keep: Path) -> None:
        for old in self.root.glob("v-*"):
            if old.is_dir() and old != keep:
                shutil.rmtree(old, ignore_errors=True)


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    """One JSON object per line, UTF-8; a row with a lone surrogate (a file name that is not
    UTF-8) is written with escapes instead, which reads back to the same string."""
    with open(path, "wb") as f:
        for row in rows:
            try:
                data = json.dumps(row, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                data = json.dumps(row).encode("ascii")
            f.write(data + b"\n")


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _file_sums(version: Path) -> dict[str, dict]:
    """Size and sha256 of every file of a version (paths relative to it), for the manifest."""
    sums = {}
    for path in sorted(p for p in version.rglob("*") if p.is_file() and p.name != MANIFEST):
        sums[path.relative_to(version).as_posix()] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    return sums


def _manifest_checksum(manifest: dict) -> str:
    """sha256 of the manifest's canonical JSON, its own checksum left out."""
    body = {k: v for k, v in manifest.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")).hexdigest()


def _fsync_tree(folder: Path) -> None:
    """Flush every file and folder under ``folder`` to disk."""
    for path in sorted(folder.rglob("*"), key=lambda p: -len(p.parts)) + [folder]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None
