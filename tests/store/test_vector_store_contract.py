"""What every ``VectorStore`` must do, run against each store (synthetic vectors, no models).

Modelled on Haystack's document-store test mixins: ``VectorStoreContract`` holds the tests, and each
store's class inherits them and says only how to make its store. Stores are built and reopened
through ``build_store`` / ``open_store``, as the index does, so the tests see nothing
store-specific. Only the Milvus class is skipped when milvus-lite is not installed.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from qa.store.vectors import (ChunkMeta, UnreadableStore, VectorConfig, VectorSource, VectorStore, build_store,
                              chunk_key, open_store)
from qa.types import Filters

DIM = 8
PER_ARTICLE = 3
ARTICLES = [  # (article id, date, source, url)
    ("a0", "2024-01-05", "corpus/dawn/one.txt", "https://www.dawn.com/news/1"),
    ("a1", "2024-02-10", "corpus/dawn/two.txt", ""),
    ("a2", "2024-03-15T10:00:00", "corpus/BBC/business.txt", ""),
    ("a3", None, "corpus/bbc/undated.txt", "https://bbc.co.uk/x"),
    ("a4", "2023-12-31", "feeds/Reuters.jsonl#7", "https://reuters.com/a"),
    ("a5", "sometime", "feeds/other.txt", ""),  # an unparsable date counts as undated
]
FILTERS = [  # none has a LIKE wildcard ('_', '%'), so every store must match exactly
    Filters(since="2024-01-01"),
    Filters(until="2024-02-10"),
    Filters(since="2024-01-06", until="2024-03-15"),
    Filters(sources=("DAWN",)),
    Filters(sources=("bbc.co.uk", "reuters")),
    Filters(since="2024-01-01", sources=("dawn",)),
    Filters(sources=("nowhere",)),
]


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def rows(seed: int = 0, articles=ARTICLES):
    """Keys, metadata and unit vectors: ``PER_ARTICLE`` chunks an article, near the article's centre."""
    rng = np.random.default_rng(seed)
    keys, metas, vecs = [], [], []
    for aid, date, source, url in articles:
        meta = ChunkMeta(aid, date, source, url)
        centre = rng.normal(size=DIM)
        for j in range(PER_ARTICLE):
            keys.append(chunk_key(f"{aid}:{j}:{seed}"))
            metas.append(meta)
            vecs.append(unit(centre + 0.3 * rng.normal(size=DIM)))
    return np.array(keys, np.int64), metas, np.array(vecs, np.float32)


def valid(keys: np.ndarray) -> list[int]:
    return [int(k) for k in keys if k >= 0]


class VectorStoreContract:
    """The tests every store passes. A subclass provides the ``config`` fixture (a ``VectorConfig``
    for its store, with whatever it needs to live under ``tmp_path``)."""

    @pytest.fixture
    def config(self, tmp_path) -> VectorConfig:
        raise NotImplementedError

    def damage(self, store: VectorStore, version: Path, entry: dict) -> None:
        """Make the persisted vectors unreadable, as a crash or an operator could."""
        raise NotImplementedError

    @pytest.fixture
    def make(self, config, tmp_path):
        """``make(keys, metas, vecs)``: a store of this kind holding those rows, as the index builds it."""
        made: list[VectorStore] = []

        def build(keys, metas, vecs) -> VectorStore:
            store = build_store(config, tmp_path, VectorSource(keys, metas, vecs, DIM), None)
            made.append(store)
            return store

        yield build
        for store in made:
            store.close()

    @pytest.fixture
    def filled(self, make):
        keys, metas, vecs = rows()
        return make(keys, metas, vecs), keys, metas, vecs

    # --- count, keys, vectors ------------------------------------------------------------------
    def test_count_keys_and_vectors_are_what_was_added(self, filled, config):
        store, keys, metas, vecs = filled
        assert store.kind == config.store
        assert store.dim == DIM
        assert store.count() == len(keys)
        assert sorted(store.keys().tolist()) == sorted(keys.tolist())
        order = np.array([5, 0, 17, 3])
        np.testing.assert_allclose(store.vectors_of(keys[order]), vecs[order], atol=1e-6)
        assert store.vectors_of(keys[:0]).shape == (0, DIM)

    def test_a_missing_key_is_a_key_error(self, filled):
        store, keys, _, _ = filled
        absent = np.array([keys[0], chunk_key("not there")], np.int64)
        with pytest.raises(KeyError):
            store.vectors_of(absent)

    def test_an_empty_store_counts_nothing_and_finds_nothing(self, make):
        store = make(np.zeros(0, np.int64), [], np.zeros((0, DIM), np.float32))
        assert store.count() == 0 and len(store.keys()) == 0
        scores, keys = store.search(unit(np.ones((2, DIM))), 5)
        assert keys.shape[0] == scores.shape[0] == 2
        assert valid(keys.ravel()) == []

    # --- add and replace -----------------------------------------------------------------------
    def test_adding_an_existing_key_replaces_its_vector(self, filled):
        store, keys, metas, vecs = filled
        new = unit(-vecs[4:6])
        store.add(keys[4:6], new, metas[4:6])
        assert store.count() == len(keys)
        np.testing.assert_allclose(store.vectors_of(keys[4:6]), new, atol=1e-6)
        _, found = store.search(new, 1)
        assert found[:, 0].tolist() == keys[4:6].tolist()

    def test_added_rows_are_found(self, filled):
        store, keys, _, _ = filled
        more_keys, more_metas, more_vecs = rows(seed=3, articles=[("b0", "2024-05-01", "new/x.txt", "")])
        store.add(more_keys, more_vecs, more_metas)
        assert store.count() == len(keys) + len(more_keys)
        _, found = store.search(more_vecs, 1)
        assert found[:, 0].tolist() == more_keys.tolist()
        _, found = store.search(more_vecs[:1], 5, Filters(since="2024-05-01"))
        assert set(valid(found[0])) == set(more_keys.tolist())

    def test_add_refuses_rows_that_do_not_line_up(self, filled):
        store, keys, metas, vecs = filled
        with pytest.raises(ValueError):
            store.add(keys[:2], vecs[:3], metas[:2])

    # --- delete --------------------------------------------------------------------------------
    def test_delete_by_key(self, filled):
        store, keys, _, vecs = filled
        store.delete_keys(keys[[1, 7]])
        store.delete_keys([chunk_key("never there")])  # no error
        assert store.count() == len(keys) - 2
        assert sorted(store.keys().tolist()) == sorted(np.delete(keys, [1, 7]).tolist())
        _, found = store.search(vecs, len(keys))
        assert not {int(keys[1]), int(keys[7])} & set(found.ravel().tolist())
        with pytest.raises(KeyError):
            store.vectors_of(keys[[1]])

    def test_delete_by_article(self, filled):
        store, keys, metas, vecs = filled
        store.delete_articles(["a2", "a4", "not an article"])
        kept = [i for i, m in enumerate(metas) if m.article_id not in ("a2", "a4")]
        assert store.count() == len(kept)
        assert sorted(store.keys().tolist()) == sorted(keys[kept].tolist())
        _, found = store.search(vecs, len(keys))
        assert set(valid(found.ravel())) == set(keys[kept].tolist())

    # --- search ----------------------------------------------------------------------------------
    def test_search_ranks_by_inner_product_best_first(self, filled):
        store, keys, _, vecs = filled
        q = unit(vecs[:4] + 0.05)
        scores, found = store.search(q, 5)
        assert scores.shape == found.shape == (4, 5)
        exact = np.argsort(-(q @ vecs.T), axis=1)[:, :5]
        assert found.tolist() == keys[exact].tolist()
        np.testing.assert_allclose(scores, np.take_along_axis(q @ vecs.T, exact, axis=1), atol=1e-5)
        assert (np.diff(scores, axis=1) <= 1e-6).all()
        _, one = store.search(q[0], 1)  # a single query as a 1-d vector
        assert one.shape == (1, 1) and one[0, 0] == keys[exact[0, 0]]

    def test_short_rows_are_padded_with_minus_one_after_the_hits(self, filled):
        store, keys, _, vecs = filled
        scores, found = store.search(vecs[:2], len(keys) + 10)  # more than there are
        assert found.shape[0] == 2 and len(keys) <= found.shape[1] <= len(keys) + 10
        for row in found:
            hits = valid(row)
            assert sorted(hits) == sorted(keys.tolist())
            assert (row[len(hits):] == -1).all()  # padding only after the hits
        _, narrow = store.search(vecs[:2], 10, Filters(sources=("reuters",)))
        for row in narrow:
            assert sorted(valid(row)) == sorted(keys[12:15].tolist())
            assert (row[len(valid(row)):] == -1).all()

    def test_queries_of_the_wrong_dimension_are_refused(self, filled):
        store, _, _, _ = filled
        with pytest.raises(ValueError, match="dimensional"):
            store.search(np.ones((1, DIM + 1), np.float32), 3)

    @pytest.mark.parametrize("filters", FILTERS, ids=str)
    def test_filters_keep_exactly_the_matching_articles(self, filled, filters):
        store, keys, metas, vecs = filled
        expected = {int(k) for k, m in zip(keys, metas) if filters.matches(m)}
        _, found = store.search(vecs[:3], len(keys), filters)
        for row in found:
            assert set(valid(row)) == expected
        assert store.search(vecs[:1], len(keys), Filters())[1].shape[1] == len(keys)  # inactive: everything

    # --- persist and open ------------------------------------------------------------------------
    def test_persist_then_open_gives_the_same_store(self, filled, config, tmp_path):
        store, keys, metas, vecs = filled
        version = tmp_path / "v-1"
        version.mkdir()
        entry = store.persist(version)
        assert entry["store"] == config.store and entry["count"] == len(keys)
        q = unit(vecs[::4] + 0.1)
        before = store.search(q, 6)
        again = open_store(version, entry, config, keys, metas)
        try:
            assert again.kind == store.kind and again.dim == DIM and again.count() == len(keys)
            assert sorted(again.keys().tolist()) == sorted(keys.tolist())
            np.testing.assert_allclose(again.vectors_of(keys), vecs, atol=1e-6)
            after = again.search(q, 6)
            assert after[1].tolist() == before[1].tolist()
            np.testing.assert_allclose(after[0], before[0], atol=1e-6)
            assert set(valid(again.search(q, 20, Filters(sources=("dawn",)))[1].ravel())) == set(keys[:6].tolist())
            assert not again.drift(keys)
        finally:
            again.close()

    def test_vectors_that_cannot_be_read_are_an_unreadable_store(self, filled, config, tmp_path):
        store, keys, metas, _ = filled
        version = tmp_path / "v-1"
        version.mkdir()
        entry = store.persist(version)
        self.damage(store, version, entry)
        with pytest.raises(UnreadableStore) as err:
            open_store(version, entry, config, keys, metas).close()
        assert "\n" not in str(err.value)

    def test_a_store_says_whether_it_can_hold_a_versions_rows(self, filled):
        store, keys, _, _ = filled
        assert store.rows_problem(len(keys)) == ""
        assert bool(store.rows_problem(len(keys) + 1)) == (not store.shared)  # shared stores reconcile instead

    def test_drift_names_missing_and_extra_keys(self, filled):
        store, keys, _, _ = filled
        assert not store.drift(keys)
        wanted = np.concatenate([keys[3:], [chunk_key("only in the version")]])
        drift = store.drift(wanted)
        assert drift and drift.missing.tolist() == [len(wanted) - 1] and drift.extra == 3


class TestFaissStore(VectorStoreContract):
    @pytest.fixture
    def config(self) -> VectorConfig:
        return VectorConfig(store="faiss")

    def damage(self, store, version, entry):
        path = version / entry["file"]
        path.write_bytes(b"\0" * path.stat().st_size)  # same size: only reading it can tell


class TestFaissApproximateStore(VectorStoreContract):
    """The same contract above the exact threshold (IVF on 18 vectors: one list, so still exact)."""

    @pytest.fixture
    def config(self) -> VectorConfig:
        return VectorConfig(store="faiss", faiss_exact_max=4)

    damage = TestFaissStore.damage

    def test_the_index_is_approximate(self, filled):
        store, _, _, _ = filled
        assert store.describe().startswith("faiss IVF")


_collections = itertools.count()


@pytest.fixture(scope="module")
def milvus_file(tmp_path_factory) -> Path:
    """One milvus-lite file for the module (each file starts a server), a collection a test."""
    pytest.importorskip("milvus_lite", reason='milvus-lite is not installed: pip install -e ".[scale]"')
    return tmp_path_factory.mktemp("milvus") / "contract.db"


@pytest.mark.slow  # a milvus-lite collection a test
class TestMilvusStore(VectorStoreContract):
    @pytest.fixture
    def config(self, milvus_file) -> VectorConfig:
        return VectorConfig(store="milvus", milvus_uri=str(milvus_file),
                            milvus_collection=f"contract{next(_collections)}")

    def damage(self, store, version, entry):
        store._client().drop_collection(entry["collection"])  # dropped by hand, or another server
