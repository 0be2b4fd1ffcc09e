"""What every vector store offers the index and the retriever, whatever holds the vectors.

A store maps int64 *keys* to vectors and keeps, beside each vector, the little metadata that
``Filters`` need (article id, date, source, URL), so that a store able to filter natively can do
so. Keys are stable: ``chunk_key`` derives one from a chunk id (article id + chunk number, and the
article id is a hash of the content), so the same chunk has the same key in every version and in
every store. A loaded index version maps keys back to its own rows (``IndexData.rows_for``) and
drops keys it does not know, which is what makes a store shared between versions (Milvus) safe to
read while another run is changing it.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from qa.config import VectorConfig
from qa.types import Chunk, Filters, article_day


class VectorStoreError(ValueError):
    """A vector store that cannot be used as configured: bad settings, a missing collection.
    A ``ValueError``, so the CLI prints it in one line."""


class UnreadableStore(VectorStoreError):
    """A version's vectors cannot be read: a damaged file, a collection that is gone. The index
    reports the version as damaged with this message."""


class MissingCollection(UnreadableStore):
    """A version names a collection that is not there (dropped, or another server)."""


def choice(raw: str, allowed: Sequence[str]) -> str:
    """``raw`` (trimmed, lower-cased) if it is one of ``allowed``, else a one-line error naming them."""
    value = raw.strip().lower()
    if value not in allowed:
        raise VectorStoreError(f"expected {' or '.join(allowed)}")
    return value


class VectorStoreUnavailable(ConnectionError):
    """The vector store cannot be reached (a Milvus server down, a milvus-lite file in use)."""


@dataclass(frozen=True)
class ChunkMeta:
    """What a store keeps beside a vector to filter on it (one object per article, shared by its chunks)."""

    article_id: str
    date: str | None
    source: str
    url: str = ""

    @property
    def day(self) -> int:
        """The date as yyyymmdd, 0 when undated: an integer a database can compare."""
        return day_number(self.date)


@dataclass
class VectorSource:
    """The vectors of a version being written, row-aligned with its chunks, without copying the
    ones that stay: rows ``[0, carried)`` are already in ``base`` under their keys, the rest are
    ``fresh``. A store that lives beside the versions (Milvus) leaves the carried ones where they
    are; one written into each version (FAISS) copies them."""

    keys: np.ndarray  # int64, one per row
    metadata: Sequence[ChunkMeta]  # one per row
    fresh: np.ndarray  # float32 (rows - carried, dim)
    dim: int
    carried: int = 0
    base: "VectorStore | None" = None
    base_keys: np.ndarray | None = None  # every key of the base version (what it may have to delete)

    def __post_init__(self) -> None:
        if len(self.keys) != len(self.metadata) or len(self.keys) != self.carried + len(self.fresh):
            raise ValueError(f"{len(self.keys)} keys, {len(self.metadata)} metadata rows, "
                             f"{self.carried} carried + {len(self.fresh)} fresh vectors")
        if self.carried and self.base is None:
            raise ValueError("carried rows need a base store")

    def all_vectors(self) -> np.ndarray:
        """Every row's vector, carried ones read back from the base store."""
        fresh = np.ascontiguousarray(self.fresh, dtype=np.float32).reshape(-1, self.dim)
        if not self.carried:
            return fresh
        old = self.base.vectors_of(self.keys[: self.carried])
        return np.vstack([old, fresh]) if len(fresh) else old


@dataclass
class Drift:
    """How a shared store differs from the version that should describe it (after a crash)."""

    missing: np.ndarray  # rows of the version whose keys the store lacks
    extra: int  # keys in the store that the version does not know

    def __bool__(self) -> bool:
        return bool(len(self.missing) or self.extra)


class VectorStore(ABC):
    """Vectors under int64 keys, searchable by inner product (vectors are unit length)."""

    kind: ClassVar[str]
    shared: ClassVar[bool]  # True: lives outside the version folders and is updated in place

    dim: int

    # --- construction: what the index calls, through ``qa.store.vectors`` -----------------------
    @classmethod
    @abstractmethod
    def build(cls, config: VectorConfig, root: Path, source: VectorSource, previous: dict | None) -> "VectorStore":
        """A new version's store holding ``source``'s rows (``root``: the index folder;
        ``previous``: the manifest entry of the version being replaced, None for none)."""

    @classmethod
    @abstractmethod
    def open(cls, version: Path, entry: dict, config: VectorConfig | None, keys: np.ndarray,
             metadata: Sequence[ChunkMeta]) -> "VectorStore":
        """The store a version's manifest ``entry`` records; ``UnreadableStore`` when its vectors
        cannot be read (the index then reports the version as damaged)."""

    @classmethod
    def moved(cls, entry: dict, config: VectorConfig, root: Path) -> str:
        """Why vectors recorded by ``entry`` (a version of this store kind) are not where ``config``
        puts new versions ('' when they are): they are then moved, not re-embedded."""
        return ""

    @classmethod
    def retire(cls, previous: dict, current: "VectorStore", root: Path, config: VectorConfig) -> None:
        """After the switch: drop what only the replaced version (its ``previous`` entry) used."""

    @abstractmethod
    def add(self, keys: np.ndarray, vectors: np.ndarray, metadata: Sequence[ChunkMeta]) -> None:
        """Store vectors under keys (a key already there is replaced)."""

    @abstractmethod
    def delete_keys(self, keys: Iterable[int]) -> None: ...

    @abstractmethod
    def delete_articles(self, article_ids: Iterable[str]) -> None: ...

    @abstractmethod
    def search(self, queries: np.ndarray, k: int, filters: Filters | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, keys), each (len(queries), at most k), best first; -1 keys pad short rows.

        With ``filters``, only vectors of matching articles are returned (a store may return a
        few that do not match, see ``qa.store.vectors.milvus_store``; callers check rows)."""

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def keys(self) -> np.ndarray:
        """Every key in the store (for reconciliation; O(n))."""

    @abstractmethod
    def vectors_of(self, keys: np.ndarray) -> np.ndarray:
        """The vectors under ``keys``, in that order; ``KeyError`` if one is missing."""

    @abstractmethod
    def persist(self, version: Path) -> dict:
        """Make what was added durable (into ``version`` for a per-version store) and return the
        manifest entry that ``open`` needs to find it again."""

    def commit(self) -> None:
        """Called once the version naming this store is current: drop what only older versions used."""

    def describe(self) -> str:
        return self.kind

    def close(self) -> None:
        """Release connections and files (the store cannot be used after)."""

    @property
    def ntotal(self) -> int:
        """FAISS's name for ``count()``."""
        return self.count()

    def rows_problem(self, rows: int) -> str:
        """Why this store cannot hold the vectors of a version of ``rows`` chunks ('' when it can):
        a per-version store holds one vector a row; a shared one may differ (``drift`` repairs it)."""
        if self.shared:
            return ""
        n = self.count()
        return "" if n == rows else f"{n} vectors in the {self.kind} store but {rows} chunks"

    def drift(self, keys: np.ndarray) -> Drift:
        """Which of a version's ``keys`` this store lacks and how many it holds that are not among
        them; a count check first, the full key list only when the counts differ."""
        n = self.count()
        if n == len(keys):
            return Drift(np.zeros(0, np.int64), 0)
        present = self.keys()
        missing = np.flatnonzero(~np.isin(keys, present))
        return Drift(missing, int(len(present) - (len(keys) - len(missing))))


def day_number(date: str | None) -> int:
    """An article date as yyyymmdd (20240131), 0 when it has none or an invalid one."""
    day = article_day(date)
    return int(day.replace("-", "")) if day else 0


def chunk_key(chunk_id: str) -> int:
    """A stable, positive int64 key for a chunk id (63 bits of blake2b: collisions ~1e-7 at 1M chunks)."""
    digest = hashlib.blake2b(chunk_id.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF_FFFF_FFFF


def chunk_keys(chunks: Sequence[Chunk]) -> np.ndarray:
    keys = np.fromiter((chunk_key(c.id) for c in chunks), dtype=np.int64, count=len(chunks))
    if len(np.unique(keys)) != len(keys):
        raise ValueError("two chunk ids hash to the same key: rebuild with a different chunk size")
    return keys


def chunk_metas(chunks: Sequence[Chunk], articles: Iterable) -> list[ChunkMeta]:
    """One ``ChunkMeta`` per chunk (shared per article) from ``ArticleMeta``-like records."""
    by_id = {a.id: ChunkMeta(a.id, a.date, a.source or "", a.url or "") for a in articles}
    return [by_id.get(c.article_id) or ChunkMeta(c.article_id, None, "", "") for c in chunks]


def normalised_queries(queries: np.ndarray, dim: int) -> np.ndarray:
    q = np.ascontiguousarray(queries, dtype=np.float32)
    if q.ndim == 1:
        q = q.reshape(1, -1)
    if q.shape[1] != dim:
        raise ValueError(f"queries are {q.shape[1]}-dimensional, the store holds {dim}-dimensional vectors")
    return q
