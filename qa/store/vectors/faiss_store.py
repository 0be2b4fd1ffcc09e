"""The default vector store: a FAISS index written into each index version folder (``dense.faiss``).

Row i of the FAISS index is row i of the version (its chunk i); keys are kept beside it in memory
(recomputed from ``chunks.jsonl`` at load), so the file format is the one indexes have always had.

Which index, by size. Up to ``faiss_exact_max`` vectors the index is exact (``IndexFlatIP``): a
single query over 200k 384-d vectors costs ~10 ms on one core. Above it, brute force grows past
the 20 ms budget (~60 ms at 1M), so the index is approximate:

- ``ivf`` (default): ``IVF{nlist},Flat``, nlist the power of two nearest 4·sqrt(n) (4096 at 1M),
  k-means trained on 64 points per list, ``nprobe`` lists searched (by size, see ``ivf_nprobe``).
  A new version reuses the previous version's trained quantizer when the factory string is the
  same, so an incremental run at 1M chunks only assigns vectors (tens of seconds) instead of
  training again. The direct map is kept so vectors can be read back (reuse, filtered search).
- ``hnsw``: ``HNSW{M},Flat`` with ``efSearch``: fast and accurate, but rebuilt from scratch for
  every version (minutes at 1M on 2 cores) and ~250 bytes per vector more memory.

The factory string and search parameters are recorded in the manifest (``vectors`` entry) and
applied at load; ``QA_FAISS_NPROBE`` / ``QA_FAISS_EF_SEARCH``, when set, override them at load.

Filters. Exact index: an ``IDSelectorBatch`` of the matching rows, as before. Approximate index:
a filter matching at most ``SUBSET_EXACT_MAX`` rows is searched exactly over just those rows
(their vectors gathered: a selector on an approximate index would probe lists or graph regions
that hold few of them and come back short); a wider filter uses the selector with
nprobe/efSearch raised by 1/sqrt(fraction matched), and falls back to the exact subset search
for a query that still comes back short.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from qa.store.vectors.base import (ChunkMeta, UnreadableStore, VectorConfig, VectorSource, VectorStore,
                                   normalised_queries)
from qa.types import Filters
from qa.util.errors import first_line

FILE = "dense.faiss"
SUBSET_EXACT_MAX = 20_000  # filtered rows searched by brute force on an approximate index
TRAIN_POINTS_PER_LIST = 64
TRAIN_ITERATIONS = 10
HNSW_EF_CONSTRUCTION = 64
DEFAULT_EF_SEARCH = 128
_CACHE = 32  # filters whose allowed rows are remembered


def ivf_nlist(n: int) -> int:
    """Inverted lists for n vectors: the power of two nearest 4·sqrt(n), with at least 39
    training points per list (FAISS's own minimum), so it stays put across small updates."""
    if n < 39:
        return 1
    nlist = 2 ** round(math.log2(4 * math.sqrt(n)))
    while nlist > 1 and n // nlist < 39:
        nlist //= 2
    return nlist


def ivf_nprobe(nlist: int) -> int:
    """Lists searched per query: 1/32 of them, at least 16 (recall@10 >= 0.95 on clustered data,
    see bench/vector_scale.py)."""
    return min(nlist, max(16, nlist // 32))


def factory_for(n: int, config: VectorConfig) -> str:
    if n <= config.faiss_exact_max:
        return "Flat"
    if config.faiss_index == "hnsw":
        return f"HNSW{config.faiss_hnsw_m},Flat"
    return f"IVF{ivf_nlist(n)},Flat"


class FaissVectorStore(VectorStore):
    """FAISS vectors for one index version; heavy work (training, adding) happens on first use."""

    kind = "faiss"
    shared = False

    def __init__(self, dim: int, config: VectorConfig | None = None,
                 reuse: "FaissVectorStore | None" = None) -> None:
        self.dim = int(dim)
        self.config = config or VectorConfig()
        self._reuse = reuse  # a previous version whose trained quantizer may be reused
        self._index = None
        self._factory = "Flat"
        self._params: dict[str, int] = {}
        self._pending: list[np.ndarray] = []
        self._keys = np.zeros(0, np.int64)
        self._meta: list[ChunkMeta] = []
        self._order: np.ndarray | None = None  # argsort of _keys, for key -> row
        self._articles: dict[str, tuple[ChunkMeta, list[int]]] | None = None
        self._allowed: dict[Filters, tuple[np.ndarray, object]] = {}

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def build(cls, config: VectorConfig, root: Path, source: VectorSource, previous: dict | None) -> "FaissVectorStore":
        """A new version's store from its rows (carried vectors copied out of the base store)."""
        reuse = source.base if isinstance(source.base, FaissVectorStore) else None
        store = cls(source.dim, config, reuse)
        store.add(source.keys, source.all_vectors(), source.metadata)
        return store

    @classmethod
    def open(cls, version: Path, entry: dict, config: VectorConfig | None, keys: np.ndarray,
             metadata: Sequence[ChunkMeta]) -> "FaissVectorStore":
        """A version's ``dense.faiss``; ``UnreadableStore`` when it is damaged."""
        import faiss

        name = entry.get("file", FILE)
        try:
            index = faiss.read_index(str(Path(version) / name))
        except RuntimeError as exc:  # faiss reports truncation and garbage as RuntimeError
            raise UnreadableStore(f"{name} cannot be read: {first_line(exc)}") from exc
        store = cls(index.d, config)
        store._index = index
        store._factory = entry.get("factory", "Flat")
        store._keys = np.asarray(keys, dtype=np.int64)
        store._meta = list(metadata)
        params = dict(entry.get("search") or {})
        if store.config.faiss_nprobe and "nprobe" in params:
            params["nprobe"] = store.config.faiss_nprobe
        if store.config.faiss_ef_search and "efSearch" in params:
            params["efSearch"] = store.config.faiss_ef_search
        store._apply(params)
        return store

    def add(self, keys: np.ndarray, vectors: np.ndarray, metadata: Sequence[ChunkMeta]) -> None:
        keys = np.asarray(keys, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        if not (len(keys) == len(vectors) == len(metadata)):
            raise ValueError(f"{len(keys)} keys, {len(vectors)} vectors, {len(metadata)} metadata rows")
        if len(self._keys) and np.isin(keys, self._keys).any():
            self.delete_keys(keys[np.isin(keys, self._keys)])
        if self._index is not None:
            self._index.add(vectors)
        else:
            self._pending.append(vectors)
        self._keys = np.concatenate([self._keys, keys])
        self._meta.extend(metadata)
        self._changed()

    def _built(self):
        """The FAISS index, built from what was added (chosen by size) on first use."""
        if self._index is None:
            vectors = np.vstack(self._pending) if self._pending else np.zeros((0, self.dim), np.float32)
            self._index = self._make(vectors)
            self._pending = []
        return self._index

    def _make(self, vectors: np.ndarray):
        import faiss

        n = len(vectors)
        self._factory = factory_for(n, self.config)
        if self._factory == "Flat":
            index = faiss.IndexFlatIP(self.dim)
            params: dict[str, int] = {}
        elif self._factory.startswith("HNSW"):
            index = faiss.IndexHNSWFlat(self.dim, self.config.faiss_hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            params = {"efSearch": self.config.faiss_ef_search or DEFAULT_EF_SEARCH}
        else:
            index = self._reused_quantizer()
            if index is None:
                index = faiss.index_factory(self.dim, self._factory, faiss.METRIC_INNER_PRODUCT)
                ivf = faiss.extract_index_ivf(index)
                ivf.cp.max_points_per_centroid = TRAIN_POINTS_PER_LIST
                ivf.cp.niter = TRAIN_ITERATIONS
                index.train(vectors)
                ivf.make_direct_map()  # reconstruct(): reuse on the next run, exact filtered search
            params = {"nprobe": self.config.faiss_nprobe or ivf_nprobe(faiss.extract_index_ivf(index).nlist)}
        if n:
            index.add(vectors)
        self._index = index
        self._apply(params)
        self._reuse = None
        return index

    def _reused_quantizer(self):
        """The previous version's IVF index emptied (trained centroids kept), if it has the same shape."""
        import faiss

        old = self._reuse
        if old is None or old._factory != self._factory or old.dim != self.dim or old._index is None:
            return None
        index = faiss.clone_index(old._index)
        index.reset()
        return index

    def _apply(self, params: dict[str, int]) -> None:
        import faiss

        self._params = {k: int(v) for k, v in params.items()}
        if self._index is None:
            return
        if "nprobe" in self._params:
            ivf = faiss.extract_index_ivf(self._index)
            ivf.nprobe = self._params["nprobe"]
            if ivf.direct_map.type == 0:  # an IVF file written without one: reconstruct needs it
                ivf.make_direct_map()
        if "efSearch" in self._params:
            faiss.downcast_index(self._index).hnsw.efSearch = self._params["efSearch"]

    # --- reading --------------------------------------------------------------------------
    def count(self) -> int:
        if self._index is not None:
            return int(self._index.ntotal)
        return sum(len(v) for v in self._pending)

    def keys(self) -> np.ndarray:
        return self._keys.copy()

    @property
    def factory(self) -> str:
        self._built()
        return self._factory

    @property
    def search_params(self) -> dict[str, int]:
        self._built()
        return dict(self._params)

    def describe(self) -> str:
        params = " ".join(f"{k}={v}" for k, v in self.search_params.items())
        return f"faiss {self.factory}{' ' + params if params else ''}"

    def rows_of(self, keys: np.ndarray) -> np.ndarray:
        """Row of each key; ``KeyError`` for a key this store does not hold."""
        keys = np.asarray(keys, dtype=np.int64)
        if self._order is None:
            self._order = np.argsort(self._keys, kind="stable")
        sorted_keys = self._keys[self._order]
        pos = np.searchsorted(sorted_keys, keys)
        pos = np.minimum(pos, max(len(sorted_keys) - 1, 0))
        if len(keys) and (not len(sorted_keys) or (sorted_keys[pos] != keys).any()):
            raise KeyError("some keys are not in this FAISS store")
        return self._order[pos] if len(keys) else np.zeros(0, np.int64)

    def vectors_of(self, keys: np.ndarray) -> np.ndarray:
        rows = self.rows_of(keys)
        return self._vectors_at(rows)

    def _vectors_at(self, rows: np.ndarray) -> np.ndarray:
        index = self._built()
        if not len(rows):
            return np.zeros((0, self.dim), np.float32)
        if len(rows) == index.ntotal and (rows == np.arange(len(rows))).all():
            return index.reconstruct_n(0, len(rows))
        return index.reconstruct_batch(np.ascontiguousarray(rows, dtype=np.int64))

    def search(self, queries: np.ndarray, k: int, filters: Filters | None = None) -> tuple[np.ndarray, np.ndarray]:
        q = normalised_queries(queries, self.dim)
        index = self._built()
        allowed = None
        if filters is not None and filters.active:
            allowed, selector = self._allowed_rows(filters)
            k = min(k, len(allowed))
        k = min(k, index.ntotal)
        if k <= 0:
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        if allowed is None:
            scores, rows = index.search(q, k, params=self._params_for(1.0))
        elif self._factory == "Flat":
            scores, rows = self._search_selected(q, k, allowed, selector, 1.0)
        elif len(allowed) <= SUBSET_EXACT_MAX:
            scores, rows = self._search_subset(q, k, allowed)
        else:
            scores, rows = self._search_selected(q, k, allowed, selector, len(allowed) / index.ntotal)
            short = ((rows >= 0).sum(axis=1) < k).nonzero()[0]
            if len(short):  # a query whose probed lists held too few matching rows: brute force
                s2, r2 = self._search_subset(q[short], k, allowed)
                scores[short], rows[short] = s2, r2
        keys = np.where(rows >= 0, self._keys[np.maximum(rows, 0)], -1)
        return scores, keys

    def _params_for(self, fraction: float, selector=None):
        """Search parameters (nprobe/efSearch raised by 1/sqrt(fraction) under a filter)."""
        import faiss

        boost = 1.0 / math.sqrt(max(fraction, 1e-6))
        if "nprobe" in self._params:
            nlist = faiss.extract_index_ivf(self._index).nlist
            return faiss.SearchParametersIVF(sel=selector, nprobe=min(nlist, math.ceil(self._params["nprobe"] * boost)))
        if "efSearch" in self._params:
            return faiss.SearchParametersHNSW(sel=selector, efSearch=min(4096, math.ceil(self._params["efSearch"] * boost)))
        return faiss.SearchParameters(sel=selector) if selector is not None else None

    def _search_selected(self, q: np.ndarray, k: int, allowed: np.ndarray, selector, fraction: float):
        try:
            return self._index.search(q, k, params=self._params_for(fraction, selector))
        except (RuntimeError, TypeError):  # an index type without selectors: brute force the rows
            return self._search_subset(q, k, allowed)

    def _search_subset(self, q: np.ndarray, k: int, allowed: np.ndarray):
        """Exact inner-product search over just the ``allowed`` rows (FAISS's own scan: no BLAS
        threads to wake for one query)."""
        import faiss

        vectors = self._vectors_at(allowed)
        scores, idx = faiss.knn(q, vectors, min(k, len(allowed)), metric=faiss.METRIC_INNER_PRODUCT)
        return scores, np.where(idx >= 0, allowed[np.maximum(idx, 0)], -1)

    def _allowed_rows(self, filters: Filters) -> tuple[np.ndarray, object]:
        """Rows of the chunks of matching articles (sorted) and a FAISS selector over them, cached."""
        import faiss

        if filters not in self._allowed:
            if self._articles is None:
                groups: dict[str, tuple[ChunkMeta, list[int]]] = {}
                for row, meta in enumerate(self._meta):
                    groups.setdefault(meta.article_id, (meta, []))[1].append(row)
                self._articles = groups
            rows = sorted(r for meta, rs in self._articles.values() if filters.matches(meta) for r in rs)
            allowed = np.array(rows, dtype=np.int64)
            if len(self._allowed) >= _CACHE:
                self._allowed.clear()
            self._allowed[filters] = (allowed, faiss.IDSelectorBatch(allowed) if len(allowed) else None)
        return self._allowed[filters]

    # --- changing -------------------------------------------------------------------------
    def delete_keys(self, keys: Iterable[int]) -> None:
        """Drop rows by key. FAISS rows are positions, so the index is rebuilt from what stays
        (the indexer never needs this: it writes a new FAISS index for each version)."""
        keys = np.fromiter(keys, dtype=np.int64) if not isinstance(keys, np.ndarray) else keys.astype(np.int64)
        gone = np.isin(self._keys, keys)
        if not gone.any():
            return
        stay = np.flatnonzero(~gone)
        vectors = self._vectors_at(stay) if self._index is not None else np.vstack(self._pending)[stay]
        self._index, self._pending = None, [vectors]
        self._keys = self._keys[stay]
        self._meta = [self._meta[r] for r in stay]
        self._changed()

    def delete_articles(self, article_ids: Iterable[str]) -> None:
        ids = set(article_ids)
        self.delete_keys(self._keys[[m.article_id in ids for m in self._meta]] if self._meta else [])

    def _changed(self) -> None:
        self._order, self._articles = None, None
        self._allowed.clear()

    def rows_problem(self, rows: int) -> str:
        n = self.count()
        return "" if n == rows else f"{n} vectors in {FILE} but {rows} chunks"

    def persist(self, version: Path) -> dict:
        import faiss

        index = self._built()
        faiss.write_index(index, str(Path(version) / FILE))
        return {"store": self.kind, "file": FILE, "factory": self._factory, "search": dict(self._params),
                "metric": "inner_product", "count": int(index.ntotal)}

