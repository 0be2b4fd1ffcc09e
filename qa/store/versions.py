"""The persisted index: vectors, a BM25 index and chunk metadata, swapped in atomically.

Each build is written to a fresh ``v-*`` folder under the index root, flushed to disk, and the
``CURRENT`` pointer file is then replaced in one rename. A crash mid-write leaves the previous
version in place and usable, and stale folders are cleaned up on the next successful write.
Every load checks the version against its manifest (``qa.store.integrity``).

Vectors. They go to a ``VectorStore`` (``qa.store.vectors``): by default FAISS, written into the
version folder (``dense.faiss``, exact or approximate by size); with ``QA_VECTOR_STORE=milvus`` a
Milvus collection beside the versions, updated in place (its crash safety is described in
``qa.store.vectors.milvus_store``). The manifest's ``vectors`` entry records which store, index
and search parameters a version used; a manifest without one is an exact FAISS index. Stores
address chunks by stable keys (``chunk_key``); ``IndexData.rows_for`` maps them to the loaded
version's rows and drops keys it does not know.

Concurrency. A writer holds the index's write lock (``qa.store.write_lock``) for its whole run
(``IndexStore.lock()``; ``write`` takes it too). ``write`` also refuses to replace a version other
than the one this store read (``manifest()``/``load()``), so a run that raced another cannot drop
the other's articles.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.store.bm25 import lexical_text, read_bm25, write_bm25
from qa.store.integrity import MANIFEST, IndexCorrupt, check_files, damaged, fsync_tree, read_manifest, seal_manifest
from qa.store.vectors import (UnreadableStore, VectorConfig, VectorSource, VectorStore, build_store, chunk_keys,
                              chunk_metas, open_store, retire_previous, vectors_moved)
from qa.store.vectors.base import Drift
from qa.store.write_lock import IndexBusy, WriteLock
from qa.types import Chunk
from qa.util.errors import first_line

FORMAT_VERSION = 1
POINTER = "CURRENT"
_VERSION_NAME = re.compile(r"v-[\w.-]+")  # what CURRENT may name: a folder right under the root
_UNREAD = object()  # no version read yet: ``write`` has nothing to compare against


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
    vectors: VectorStore  # vectors under ``keys``; ``rows_for`` maps search results to rows of ``chunks``
    lexical: Any = None  # bm25s.BM25 over the same rows
    keys: np.ndarray | None = field(default=None, repr=False)  # int64 key of each row (``chunk_key``)
    _all_vectors: np.ndarray | None = field(default=None, repr=False)
    _lookup: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.keys is None:
            self.keys = chunk_keys(self.chunks)

    def all_vectors(self) -> np.ndarray:
        """All chunk vectors, row-aligned with ``chunks`` (read back from the store)."""
        if self._all_vectors is None:
            self._all_vectors = self.vectors.vectors_of(self.keys) if len(self.keys) else np.zeros(
                (0, self.vectors.dim), np.float32)
        return self._all_vectors

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
        if not self.vectors.shared:
            return Drift(np.zeros(0, np.int64), 0)
        return self.vectors.drift(self.keys)


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


class IndexStore:
    """Reads and writes index versions under one root folder."""

    def __init__(self, root: str | Path, vectors: VectorConfig | None = None) -> None:
        self.root = Path(root)
        self.vectors = vectors or VectorConfig()  # the store new versions are written to
        self._base: object = _UNREAD  # the version name (or None) the last manifest()/load() saw
        self._lock = WriteLock(self.root)

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
        return read_manifest(version)

    def load(self) -> IndexData:
        """The current version, checked (``qa.store.integrity``) and parsed."""
        version = self._current_or_raise()
        self._base = version.name
        manifest = read_manifest(version)
        check_files(version, manifest, full=False)
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
            vectors = open_store(version, entry, self.vectors, keys, metas)
        except UnreadableStore as exc:  # a damaged file, a collection gone: the store says which
            raise damaged(version, str(exc)) from exc
        problem = vectors.rows_problem(len(chunks))
        if problem:
            raise damaged(version, problem)
        if "dim" in manifest and vectors.dim != int(manifest["dim"]):
            raise damaged(version, f"{vectors.describe()} has {vectors.dim}-dimensional vectors, "
                                   f"manifest says {manifest['dim']}")
        orphans = {c.article_id for c in chunks} - articles.keys()
        if orphans:
            raise damaged(version, f"chunks.jsonl refers to {len(orphans)} articles missing from articles.jsonl")
        lexical = None
        if chunks:
            try:
                lexical = read_bm25(version / "bm25")
            except (OSError, ValueError, KeyError, TypeError, EOFError, RuntimeError) as exc:
                raise damaged(version, f"bm25 cannot be read: {type(exc).__name__}: {first_line(exc)}") from exc
        return IndexData(version, manifest, articles, chunks, vectors, lexical, keys=keys)

    def verify(self, full: bool = True) -> dict:
        """Check the current version against its manifest; with ``full`` hash every file.

        Returns what was checked (files, bytes hashed); raises ``IndexCorrupt`` on damage and
        ``FileNotFoundError`` without an index. ``load`` runs the quick form (``full=False``).
        """
        version = self._current_or_raise()
        return check_files(version, read_manifest(version), full=full)

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

    def _jsonl(self, version: Path, name: str) -> Iterator[tuple[int, dict]]:
        """(line number, object) of a JSON Lines file; ``IndexCorrupt`` at the first bad line."""
        try:
            with open(version / name, encoding="utf-8") as f:
                for n, line in enumerate(f, start=1):
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise damaged(version, f"{name} line {n} is not JSON ({exc.msg}): cut short?") from exc
                    if not isinstance(row, dict):
                        raise damaged(version, f"{name} line {n} is not a JSON object")
                    yield n, row
        except (OSError, UnicodeDecodeError) as exc:
            raise damaged(version, f"{name} cannot be read: {first_line(exc)}") from exc

    def _parse(self, version: Path, name: str, n: int, cls: type, row: dict) -> Any:
        try:
            return cls(**row)
        except TypeError as exc:  # missing or unknown fields
            raise damaged(version, f"{name} line {n} is not a {cls.__name__}: {exc}") from exc

    # --- writing ------------------------------------------------------------------------------
    def lock(self) -> AbstractContextManager[None]:
        """Hold the index's write lock, for a whole indexing run; ``IndexBusy`` at once if taken.

        Re-entrant in the thread that holds it (``write`` takes it too).
        """
        return self._lock.hold()

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
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        self.root.mkdir(parents=True, exist_ok=True)
        with self.lock():
            self._check_unchanged()
            previous = self._previous_vectors()
            source = self._source(int(manifest["dim"]), articles, chunks, vectors)
            version = Path(tempfile.mkdtemp(prefix=f"v-{time.strftime('%Y%m%d-%H%M%S')}-", dir=self.root))
            try:
                store = build_store(self.vectors, self.root, source, previous)
                entry = store.persist(version)
                titles = {a.id: a.title for a in articles}
                if chunks:
                    write_bm25(version / "bm25", [lexical_text(titles.get(c.article_id, ""), c.text) for c in chunks])
                _write_jsonl(version / "articles.jsonl", (asdict(a) for a in articles))
                _write_jsonl(version / "chunks.jsonl", (asdict(c) for c in chunks))
                seal_manifest(version, manifest, entry)
                fsync_tree(version)  # the files are on disk before CURRENT names them
                _swap_pointer(self.root / POINTER, version.name + "\n")
            except BaseException:
                shutil.rmtree(version, ignore_errors=True)
                raise
            self._base = version.name
            self._prune(keep=version)
            store.commit()
            retire_previous(previous, store, self.root, self.vectors)
        return version

    def _previous_vectors(self) -> dict | None:
        """The vectors entry of the version about to be replaced (None: none, or unreadable)."""
        version = self.current()
        if version is None:
            return None
        try:
            return read_manifest(version).get("vectors") or {"store": "faiss"}
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
        return VectorSource(keys, metas, fresh, dim, carried=len(rows), base=base.vectors, base_keys=base.keys)

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


def _swap_pointer(path: Path, text: str) -> None:
    """Replace CURRENT in one rename, its new text flushed to disk first: the version swap. Not
    ``qa.util.atomic``, which does not fsync; a crash here must leave the old or the new pointer."""
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
