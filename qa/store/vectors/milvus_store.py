"""Milvus as the vector store (``QA_VECTOR_STORE=milvus``): milvus-lite in a local file, or a server.

``QA_MILVUS_URI`` is ``http(s)://host:port`` for a server (``QA_MILVUS_TOKEN`` for its auth, never
written to disk), or a path ending in ``.db`` for milvus-lite; empty means ``milvus.db`` in the
index root folder (beside the ``v-*`` version folders, not in one). milvus-lite lets one process
use its file at a time: run `qa index` while the chat is stopped, or use a server.

What is stored. One row per chunk: ``id`` (INT64 primary key, ``chunk_key`` of the chunk id, so the
same chunk has the same key in every version), ``vector`` (inner product on unit vectors, as FAISS
does, so both rank alike), ``article_id``, ``day`` (INT64 yyyymmdd, 0 when undated), and
``source`` and ``url`` lower-cased. BM25, the chunk texts and the article metadata stay in the
version folder; its manifest records the URI (unless it was the default), the collection and its
index (``vectors`` entry).

Filters run inside Milvus. ``Filters`` says: with a date bound, undated articles are excluded, and
a source term matches when it is a case-insensitive substring of the source or the URL. That is
``day > 0 and day >= 20240101 and day <= 20241231 and (source like "%term%" or url like "%term%")``
(terms lower-cased here, as the stored fields are). LIKE has no portable escape for ``%`` and
``_``, so a term containing them matches a little more than it should (``_`` is any character);
a term spanning the source/URL boundary (a newline) is left out of the expression. Both only ever
widen the match: the retriever keeps only rows whose article matches (``Filters.matches``), and
asks again with a larger limit when that left it short. Infix LIKE needs Milvus 2.4 or later.

Collections. ``QA_MILVUS_COLLECTION`` (default ``qa_`` + a hash of the index folder) is a base
name: a full build writes ``{base}_{generation}``, the next generation after the previous
version's. An incremental run updates the current collection in place: new and re-embedded chunks
are upserted, carried-over chunks stay where they are (no re-insert), and the chunks of removed
and replaced articles are deleted by key.

Crash safety. The version folder is still swapped atomically, and Milvus is only ever changed so
that the version CURRENT names stays whole:

- before the swap, rows are only added (upserted), never removed; a full build goes to a new
  collection that no version names yet (one left by a crashed build is dropped first);
- after the swap (``commit``), the keys only older versions used are deleted, and a previous
  generation's collection is dropped. A crash in between leaves extra rows, never missing ones.

Reading tolerates extra rows: a loaded version maps keys to its own rows and drops keys it does
not know, so a reader never sees a chunk its version lacks (``IndexData.rows_for``). The next
`qa index` reconciles: a count check (``count(*)`` against the version's chunks) triggers a full key
listing; keys no version row has are deleted after the swap, and rows whose keys are missing (the
collection edited from outside, say) are re-embedded from their stored chunk text and upserted.
A second index folder must not share a collection: deletes are by key and would remove its rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from qa.store.vectors.base import (ChunkMeta, MissingCollection, VectorConfig, VectorSource, VectorStore,
                                   VectorStoreError, VectorStoreUnavailable, day_number, normalised_queries)
from qa.types import Filters
from qa.util.errors import first_line

log = logging.getLogger(__name__)

DEFAULT_FILE = "milvus.db"
MAX_TEXT = 8192  # characters of source / URL kept for filtering (longer ones are cut)
MAX_ARTICLE_ID = 256
MAX_LIMIT = 16384  # Milvus's largest top-k
BATCH = 2000  # rows per insert / get (well under gRPC's 64 MB message)
ID_BATCH = 10000  # keys per delete
HNSW_EF_CONSTRUCTION = 64
DEFAULT_EF = 128
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,200}")


def default_collection(root: Path) -> str:
    """A base name for the index at ``root``: 'qa_' + 12 hex of its absolute path."""
    return "qa_" + hashlib.sha256(str(Path(root).resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:12]


def check_uri(uri: str) -> str:
    """``uri`` if Milvus can use it, else a ``VectorStoreError`` saying what would work."""
    if uri and not (uri.endswith(".db") or re.match(r"(https?|tcp|unix)://", uri)):
        raise VectorStoreError(f"Milvus URI {uri!r} is neither a server (http://host:19530) "
                               "nor a milvus-lite file ending in .db (QA_MILVUS_URI)")
    return uri


def check_collection(name: str) -> str:
    if name and not _NAME.fullmatch(name):
        raise VectorStoreError(f"{name!r} is not a Milvus collection name (QA_MILVUS_COLLECTION): use letters, "
                               "digits and underscores, starting with a letter or underscore")
    return name


def resolve_uri(recorded: str, root: Path) -> str:
    """The URI to connect to: '' is the default milvus-lite file in the index root."""
    return recorded or str(Path(root) / DEFAULT_FILE)


def filter_expression(filters: Filters | None) -> str:
    """A Milvus boolean expression selecting at least the chunks ``filters`` matches (see the module docstring)."""
    if filters is None or not filters.active:
        return ""
    parts = []
    if filters.since or filters.until:
        parts.append("day > 0")
        if filters.since:
            parts.append(f"day >= {day_number(filters.since)}")
        if filters.until:
            parts.append(f"day <= {day_number(filters.until)}")
    if filters.sources and not any("\n" in s for s in filters.sources):
        terms = [f'source like "%{_like(s)}%" or url like "%{_like(s)}%"' for s in filters.sources]
        parts.append("(" + " or ".join(terms) + ")")
    return " and ".join(parts)


def _like(term: str) -> str:
    """A LIKE pattern body for a substring: backslashes become ``_`` (any one character), since
    backends disagree on whether a backslash escapes; ``%`` and ``_`` stay wildcards. Wider, never narrower."""
    return _literal(term.replace("\\", "_"))


def _literal(text: str) -> str:
    """``text`` inside a double-quoted Milvus string literal."""
    return (text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
            .replace("\t", "\\t"))


class MilvusVectorStore(VectorStore):
    """One Milvus collection; the connection opens on first use."""

    kind = "milvus"
    shared = True

    def __init__(self, uri: str, collection: str, dim: int, token: str = "", index: str = "FLAT",
                 ef: int = DEFAULT_EF, hnsw_m: int = 32, entry: dict | None = None) -> None:
        self.uri = check_uri(uri)
        self.collection = check_collection(collection)
        self.dim = int(dim)
        self.index = index
        self.ef = int(ef)
        self.hnsw_m = int(hnsw_m)
        self._token = token
        self._client_obj = None
        self._entry = dict(entry or {})  # what persist() records besides the live state
        self._obsolete: np.ndarray | None = None  # keys to delete once the new version is current

    # --- connection ---------------------------------------------------------------------------
    def _client(self):
        if self._client_obj is None:
            self._client_obj = connect(self.uri, self._token)
        return self._client_obj

    def close(self) -> None:
        if self._client_obj is not None:
            with contextlib.suppress(Exception):
                self._client_obj.close()
            self._client_obj = None

    @contextlib.contextmanager
    def _calls(self, what: str) -> Iterator[None]:
        """Milvus errors as one-line ``VectorStoreError`` / ``VectorStoreUnavailable``."""
        from pymilvus.exceptions import MilvusException

        try:
            yield
        except MilvusException as exc:
            message = f"Milvus at {self.uri} failed to {what} ({self.collection}): {first_line(exc)}"
            if getattr(exc, "code", None) == 2:  # the connection went away
                raise VectorStoreUnavailable(message) from None
            raise VectorStoreError(message) from None

    # --- construction -------------------------------------------------------------------------
    @classmethod
    def open(cls, version: Path, entry: dict, config: VectorConfig | None, keys: np.ndarray | None = None,
             metadata: Sequence[ChunkMeta] | None = None) -> "MilvusVectorStore":
        """The collection a version recorded; the configured URI wins when one is set (a moved server).
        The collection lives beside the versions: a default URI is resolved in the index folder."""
        root = Path(version).parent
        config = config or VectorConfig()
        uri = config.milvus_uri if config.store == "milvus" and config.milvus_uri else entry.get("uri", "")
        store = cls(resolve_uri(uri, root), entry["collection"], int(entry["dim"]), token=config.milvus_token,
                    index=entry.get("index", "FLAT"), ef=config.faiss_ef_search or entry.get("search", {}).get("ef", DEFAULT_EF),
                    hnsw_m=entry.get("params", {}).get("M", config.faiss_hnsw_m), entry=entry)
        client = store._client()
        with store._calls("open the collection"):
            if not client.has_collection(store.collection):
                raise MissingCollection(f"Milvus collection {store.collection} is gone from {store.uri}")
            client.load_collection(store.collection)
        return store

    @classmethod
    def build(cls, config: VectorConfig, root: Path, source: VectorSource, previous: dict | None) -> "MilvusVectorStore":
        """The store for a new version: the base version's collection updated in place when it is
        where new versions go (same URI as opened, same base name and dimension), else a new
        generation filled with every row."""
        base_name = check_collection(config.milvus_collection) or default_collection(root)
        recorded_uri = check_uri(config.milvus_uri)
        uri = resolve_uri(recorded_uri, root)
        prev = previous if previous and previous.get("store") == cls.kind else None
        same_base = bool(prev) and prev.get("base") == base_name
        entry = {"uri": recorded_uri, "base": base_name}
        old = source.base if isinstance(source.base, MilvusVectorStore) else None
        if old is not None and same_base and old.uri == uri and old.dim == source.dim:
            store = cls(uri, old.collection, source.dim, token=config.milvus_token, index=old.index,
                        ef=config.faiss_ef_search or DEFAULT_EF, hnsw_m=config.faiss_hnsw_m,
                        entry={**entry, "generation": int(prev.get("generation", 1))})
            store._update(source, config)
            return store
        generation = int(prev.get("generation", 0)) + 1 if same_base else 1
        if old is not None and (old.uri, old.collection) == (uri, f"{base_name}_{generation}"):
            generation += 1  # never clobber the collection the rows are read from
        store = cls(uri, f"{base_name}_{generation}", source.dim, token=config.milvus_token,
                    index=_index_for(len(source.keys), config), ef=config.faiss_ef_search or DEFAULT_EF,
                    hnsw_m=config.faiss_hnsw_m, entry={**entry, "generation": generation})
        vectors = source.all_vectors()  # read before anything is dropped
        store._create()
        store._insert(source.keys, vectors, source.metadata, upsert=False)
        return store

    @classmethod
    def moved(cls, entry: dict, config: VectorConfig, root: Path) -> str:
        """Another collection base name, or another URI, than the one ``entry`` records."""
        base = config.milvus_collection or default_collection(root)
        if entry.get("base") != base:
            return f"Milvus collection {entry.get('base')} -> {base}"
        if config.milvus_uri and entry.get("uri", "") != config.milvus_uri:
            return f"Milvus URI {entry.get('uri') or 'default'} -> {config.milvus_uri}"
        return ""

    @classmethod
    def retire(cls, previous: dict, current: VectorStore, root: Path, config: VectorConfig) -> None:
        """Drop the collection only the replaced version used (see ``retire``)."""
        retire(previous, root, config, keep=getattr(current, "place", None))

    def _create(self) -> None:
        """A new, empty collection (dropping one of that name that no version uses: a crashed build's)."""
        from pymilvus import DataType, MilvusClient

        client = self._client()
        with self._calls("create the collection"), _quiet("grpc._server"):  # milvus-lite lacks AllocTimestamp
            if client.has_collection(self.collection):
                client.drop_collection(self.collection)
            schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            schema.add_field("id", DataType.INT64, is_primary=True)
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
            schema.add_field("article_id", DataType.VARCHAR, max_length=MAX_ARTICLE_ID)
            schema.add_field("day", DataType.INT64)
            schema.add_field("source", DataType.VARCHAR, max_length=MAX_TEXT * 4)  # bytes: UTF-8 up to 4 per character
            schema.add_field("url", DataType.VARCHAR, max_length=MAX_TEXT * 4)
            client.create_collection(self.collection, schema=schema, index_params=self._index_params(),
                                     consistency_level="Strong")

    def _index_params(self):
        from pymilvus import MilvusClient

        params = MilvusClient.prepare_index_params()
        if self.index == "HNSW":
            params.add_index(field_name="vector", index_type="HNSW", metric_type="IP",
                             params={"M": self.hnsw_m, "efConstruction": HNSW_EF_CONSTRUCTION})
        else:
            params.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        return params

    def _update(self, source: VectorSource, config: VectorConfig) -> None:
        """Upsert the rows the base does not hold; plan the deletes for ``commit``."""
        self._insert(source.keys[source.carried:], source.fresh, source.metadata[source.carried:], upsert=True)
        base_keys = source.base_keys if source.base_keys is not None else np.zeros(0, np.int64)
        obsolete = np.setdiff1d(base_keys, source.keys)
        if self.count() != len(source.keys) + len(obsolete):  # rows left by a crash, or edits from outside
            obsolete = np.setdiff1d(self.keys(), source.keys)
        self._obsolete = obsolete
        wanted = _index_for(len(source.keys), config)
        if wanted != self.index and wanted == "HNSW":  # grown past the exact threshold
            self._reindex(wanted)

    def _reindex(self, index: str) -> None:
        client = self._client()
        with self._calls("rebuild the vector index"), _quiet("grpc._server"):
            client.release_collection(self.collection)
            client.drop_index(self.collection, "vector")
            self.index = index
            client.create_index(self.collection, self._index_params())
            client.load_collection(self.collection)

    def _insert(self, keys: np.ndarray, vectors: np.ndarray, metadata: Sequence[ChunkMeta], upsert: bool) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if not (len(keys) == len(vectors) == len(metadata)):
            raise ValueError(f"{len(keys)} keys, {len(vectors)} vectors, {len(metadata)} metadata rows")
        client = self._client()
        call = client.upsert if upsert else client.insert
        with self._calls("store vectors"):
            for start in range(0, len(keys), BATCH):
                rows = [_row(int(k), v, m) for k, v, m in
                        zip(keys[start:start + BATCH], vectors[start:start + BATCH], metadata[start:start + BATCH])]
                call(self.collection, rows)

    # --- the interface ------------------------------------------------------------------------
    def add(self, keys: np.ndarray, vectors: np.ndarray, metadata: Sequence[ChunkMeta]) -> None:
        self._insert(np.asarray(keys, dtype=np.int64), vectors, metadata, upsert=True)

    def delete_keys(self, keys: Iterable[int]) -> None:
        keys = [int(k) for k in keys]
        client = self._client()
        with self._calls("delete vectors"):
            for start in range(0, len(keys), ID_BATCH):
                client.delete(self.collection, ids=keys[start:start + ID_BATCH])

    def delete_articles(self, article_ids: Iterable[str]) -> None:
        ids = list(article_ids)
        client = self._client()
        with self._calls("delete articles"):
            for start in range(0, len(ids), 1000):
                names = ", ".join(f'"{_literal(a)}"' for a in ids[start:start + 1000])
                client.delete(self.collection, filter=f"article_id in [{names}]")

    def search(self, queries: np.ndarray, k: int, filters: Filters | None = None) -> tuple[np.ndarray, np.ndarray]:
        q = normalised_queries(queries, self.dim)
        k = min(int(k), MAX_LIMIT)
        if k <= 0 or not len(q):
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        params: dict = {"metric_type": "IP"}
        if self.index == "HNSW":
            params["params"] = {"ef": max(self.ef, k)}
        with self._calls("search"):
            hits = self._client().search(self.collection, data=q.tolist(), limit=k, filter=filter_expression(filters),
                                         search_params=params)
        scores = np.full((len(q), k), -np.inf, np.float32)
        keys = np.full((len(q), k), -1, np.int64)
        for i, row in enumerate(hits):
            for j, hit in enumerate(row[:k]):
                keys[i, j], scores[i, j] = int(hit["id"]), float(hit["distance"])
        width = int((keys >= 0).sum(axis=1).max()) if len(keys) else 0
        return scores[:, :width], keys[:, :width]

    def count(self) -> int:
        with self._calls("count vectors"):
            rows = self._client().query(self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    def keys(self) -> np.ndarray:
        out: list[int] = []
        with self._calls("list keys"), _quiet("pymilvus"), _quiet("grpc._server"):
            it = self._client().query_iterator(self.collection, batch_size=BATCH * 5, output_fields=["id"])
            try:
                while batch := it.next():
                    out.extend(int(r["id"]) for r in batch)
            finally:
                it.close()
        return np.array(out, dtype=np.int64)

    def vectors_of(self, keys: np.ndarray) -> np.ndarray:
        keys = np.asarray(keys, dtype=np.int64)
        out = np.zeros((len(keys), self.dim), np.float32)
        client = self._client()
        with self._calls("read vectors"):
            for start in range(0, len(keys), BATCH):
                part = [int(k) for k in keys[start:start + BATCH]]
                got = {int(r["id"]): r["vector"] for r in client.get(self.collection, ids=part, output_fields=["vector"])}
                missing = [k for k in part if k not in got]
                if missing:
                    raise KeyError(f"{len(missing)} keys are missing from Milvus collection {self.collection}")
                out[start:start + len(part)] = np.asarray([got[k] for k in part], dtype=np.float32)
        return out

    def persist(self, version: Path) -> dict:
        """Flush (durable before CURRENT names it); nothing goes into the version folder."""
        with self._calls("flush"):
            self._client().flush(self.collection)
        entry = {"store": self.kind, **self._entry, "collection": self.collection, "dim": self.dim,
                 "index": self.index, "metric": "IP", "count": self.count()}
        if self.index == "HNSW":
            entry["params"], entry["search"] = {"M": self.hnsw_m, "efConstruction": HNSW_EF_CONSTRUCTION}, {"ef": self.ef}
        return entry

    def commit(self) -> None:
        """Delete the keys only older versions used (best effort: what fails here is reconciled
        by the next `qa index`). A previous generation's collection is dropped by ``retire``."""
        try:
            if self._obsolete is not None and len(self._obsolete):
                self.delete_keys(self._obsolete)
        except (VectorStoreError, VectorStoreUnavailable) as exc:
            log.warning("%s; the next `qa index` will clean up", exc)
        self._obsolete = None

    @property
    def place(self) -> tuple[str, str]:
        """(URI, collection): what ``retire`` must not drop."""
        return self.uri, self.collection

    def describe(self) -> str:
        return f"milvus {self.collection} ({self.index}) at {self.uri}"


def retire(entry: dict, root: Path, config: VectorConfig, keep: tuple[str, str] | None) -> None:
    """Drop the collection a replaced version used, unless the new version still uses it (best
    effort). Same collection name: updated in place (perhaps at a server that moved), kept."""
    if keep is not None and keep[1] == entry.get("collection"):
        return
    uri = resolve_uri(entry.get("uri", ""), root)
    try:
        client = connect(uri, config.milvus_token)
        if client.has_collection(entry["collection"]):
            client.drop_collection(entry["collection"])
    except Exception as exc:  # noqa: BLE001 - leftovers are harmless; say so and go on
        log.warning("could not drop the old Milvus collection %s at %s: %s", entry.get("collection"), uri,
                    first_line(exc))


def connect(uri: str, token: str = ""):
    """A ``MilvusClient``; one-line errors for a missing package, a busy milvus-lite file, no server."""
    from qa.util.extras import MissingExtra, require

    try:
        MilvusClient = require("pymilvus", "QA_VECTOR_STORE=milvus").MilvusClient
        MilvusException = require("pymilvus.exceptions", "QA_VECTOR_STORE=milvus").MilvusException
    except MissingExtra as exc:
        raise VectorStoreError(str(exc)) from None
    if uri.endswith(".db"):
        _check_lite(Path(uri))
    try:
        with _quiet("milvus_lite"):
            return MilvusClient(uri=uri, token=token, timeout=30)
    except MilvusException as exc:
        where = f"the milvus-lite file {uri}" if uri.endswith(".db") else f"Milvus at {uri}"
        raise VectorStoreUnavailable(f"cannot open {where}: {first_line(exc)}; check QA_MILVUS_URI "
                                     "(and that the server is running)") from None


def _check_lite(path: Path) -> None:
    """milvus-lite locks its folder for one process: say who to stop instead of a traceback."""
    from qa.util.extras import MissingExtra, require

    try:
        require("milvus_lite", f"QA_MILVUS_URI {path} (a milvus-lite file)")
    except MissingExtra as exc:
        raise VectorStoreError(str(exc)) from None
    from milvus_lite.server_manager import server_manager_instance

    if os.path.abspath(path) in getattr(server_manager_instance, "_servers", {}):
        return  # this process already serves it
    lock = path / "LOCK"
    if not lock.exists():
        return
    try:
        import fcntl
    except ImportError:
        return
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except BlockingIOError:
        raise VectorStoreUnavailable(f"{path} is in use by another process (the chat, or another `qa index`?): "
                                     "milvus-lite serves one process at a time; stop it, or use a Milvus server "
                                     "(QA_MILVUS_URI=http://host:19530)") from None
    finally:
        os.close(fd)


@contextlib.contextmanager
def _quiet(logger: str) -> Iterator[None]:
    """Silence a library logger for one call (milvus-lite logs tracebacks it also raises; pymilvus
    warns about every query iterator on milvus-lite, and waiting for an index calls an RPC that
    milvus-lite's gRPC server logs as unimplemented before pymilvus carries on)."""
    target = logging.getLogger(logger)
    level = target.level
    target.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        target.setLevel(level)


def _index_for(n: int, config: VectorConfig) -> str:
    """FLAT (exact) up to ``faiss_exact_max`` rows, as for FAISS; HNSW above."""
    return "FLAT" if n <= config.faiss_exact_max else "HNSW"


def _row(key: int, vector: np.ndarray, meta: ChunkMeta) -> dict:
    if len(meta.article_id) > MAX_ARTICLE_ID:
        raise ValueError(f"article id {meta.article_id[:40]!r}... is longer than {MAX_ARTICLE_ID} characters")
    return {"id": key, "vector": vector.tolist(), "article_id": meta.article_id, "day": meta.day,
            "source": (meta.source or "").lower()[:MAX_TEXT], "url": (meta.url or "").lower()[:MAX_TEXT]}
