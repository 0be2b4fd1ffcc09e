"""Vector stores on synthetic vectors (no models): FAISS exact and by size, milvus-lite, filters
with the same semantics as ``Filters.matches``, and Milvus's crash safety and reconciliation."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

import qa.store.versions
import qa.store.vectors.faiss_store as faiss_store
from qa.answer.retrieve import HybridRetriever
from qa.store.integrity import MANIFEST, manifest_checksum
from qa.store.versions import ArticleMeta, IndexStore, VectorUpdate
from qa.store.vectors import VectorConfig, VectorStoreError, VectorStoreUnavailable, chunk_keys
from qa.store.vectors.milvus_store import connect, filter_expression
from qa.types import Chunk, Filters


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


needs_milvus = pytest.mark.skipif(not _installed("milvus_lite"),
                                  reason='milvus-lite is not installed: pip install -e ".[scale]"')

DIM = 16
MILVUS = VectorConfig(store="milvus")


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


ARTICLES = [  # (date, source, url): dated, undated, date-times, odd case, URLs, names with _ and "
    ("2024-01-05", "corpus/dawn_pakistan_15.json#1", "https://www.dawn.com/news/1"),
    ("2024-02-10", "corpus/dawn_pakistan_15.json#2", "https://www.dawn.com/news/2"),
    ("2024-03-15T10:00:00", "corpus/BBC/business.txt", ""),
    (None, "corpus/bbc/undated.txt", "https://bbc.co.uk/x"),
    ("2023-12-31", "feeds/Reuters.jsonl#7", "https://reuters.com/a"),
    ("sometime", "feeds/dawnXpakistan.txt", ""),  # an unparsable date counts as undated
    ("2024-06-01", 'odd/quote"name.txt', "https://example.org/Path_With_Under"),
    ("2024-01-20", "corpus/a.txt", "https://DAWN.com/upper"),
]


def make_version(n_chunks: int = 4, articles=ARTICLES, seed: int = 0):
    """Articles (one cluster centre each), their chunks and unit vectors near the centre."""
    rng = np.random.default_rng(seed)
    metas, chunks, vecs = [], [], []
    for i, (date, source, url) in enumerate(articles):
        aid = f"art{seed}-{i:03d}"
        metas.append(ArticleMeta(id=aid, title=f"Story {i}", date=date, source=source, url=url, chunks=n_chunks))
        centre = rng.normal(size=DIM)
        for j in range(n_chunks):
            text = f"story {i} part {j}"
            chunks.append(Chunk(id=f"{aid}:{j}", article_id=aid, index=j, text=text, start=0, end=len(text)))
            vecs.append(unit(centre + 0.3 * rng.normal(size=DIM)))
    return metas, chunks, np.array(vecs, dtype=np.float32)


def manifest() -> dict:
    return {"dim": DIM, "settings": {"format": qa.store.versions.FORMAT_VERSION}}


class FixedEmbedder:
    """Stands in for the sentence embedder: 'encodes' to a vector set by the test."""

    def __init__(self, vector: np.ndarray) -> None:
        self.vector = vector

    def encode(self, texts, progress: bool = False) -> np.ndarray:
        return np.tile(self.vector, (len(texts), 1)).astype(np.float32)


FILTERS = [
    Filters(since="2024-01-01"),
    Filters(until="2024-02-10"),
    Filters(since="2024-01-06", until="2024-03-15"),
    Filters(sources=("DAWN",)),  # case-insensitive, in the source or the URL
    Filters(sources=("dawn_pakistan",)),  # '_' is a LIKE wildcard: Milvus matches dawnXpakistan too
    Filters(sources=("bbc.co.uk", "reuters")),
    Filters(sources=('quote"name',)),
    Filters(sources=("path_with",)),
    Filters(since="2024-01-01", sources=("dawn",)),
    Filters(sources=("nowhere",)),
]


def truth(metas, chunks, filters: Filters) -> set[int]:
    ok = {m.id for m in metas if filters.matches(m)}
    return {r for r, c in enumerate(chunks) if c.article_id in ok}


# ---------------------------------------------------------------------------------------------
# Filters


def test_filter_expression_is_what_filters_say():
    assert filter_expression(None) == filter_expression(Filters()) == ""
    expr = filter_expression(Filters(since="2024-01-01", until="2024-12-31", sources=("Dawn", 'a"b')))
    assert expr == ('day > 0 and day >= 20240101 and day <= 20241231 and '
                    '(source like "%dawn%" or url like "%dawn%" or source like "%a\\"b%" or url like "%a\\"b%")')
    assert filter_expression(Filters(sources=("a\\b",))) == '(source like "%a_b%" or url like "%a_b%")'


@pytest.mark.slow
@needs_milvus
@pytest.mark.parametrize("filters", FILTERS, ids=str)
def test_filters_give_the_same_rows_with_both_stores(tmp_path, filters):
    metas, chunks, vecs = make_version()
    faiss_data = _written(tmp_path / "faiss", VectorConfig(), metas, chunks, vecs)
    milvus_data = _written(tmp_path / "milvus", MILVUS, metas, chunks, vecs)
    assert milvus_data.vectors.kind == "milvus" and faiss_data.vectors.kind == "faiss"
    expected = truth(metas, chunks, filters)
    q = unit(vecs[5] + 0.01)
    ranked = []
    for data in (faiss_data, milvus_data):
        retriever = HybridRetriever(data, FixedEmbedder(q), candidates=len(chunks))
        allowed = retriever.allowed_rows(filters)
        assert set(retriever.dense("q", len(chunks), allowed, filters)) == expected, data.vectors.describe()
        ranked.append(retriever.dense("q", 5, allowed, filters))
    assert ranked[0] == ranked[1]  # same order too: both rank by inner product, exactly


@pytest.mark.slow
@needs_milvus
def test_milvus_expression_alone_never_misses_a_matching_row(tmp_path):
    """Inside Milvus the filter may let a few extra rows through ('_' is a wildcard), never fewer."""
    metas, chunks, vecs = make_version()
    data = _written(tmp_path, MILVUS, metas, chunks, vecs)
    for filters in FILTERS:
        _, keys = data.vectors.search(vecs[:1], len(chunks), filters)
        got = {int(r) for r in data.rows_for(keys[0]) if r >= 0}
        assert truth(metas, chunks, filters) <= got, filters
    _, keys = data.vectors.search(vecs[:1], len(chunks), Filters(sources=("dawn_pakistan",)))
    assert {chunks[r].article_id for r in data.rows_for(keys[0])} >= {metas[5].id}  # the wider match


# ---------------------------------------------------------------------------------------------
# FAISS by size


def clustered(n: int, seed: int = 1, centres: int = 20) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centres, DIM))
    return unit(c[rng.integers(0, centres, n)] + 0.35 * rng.normal(size=(n, DIM)))


def many_articles(n_articles: int, per_article: int = 3, seed: int = 2):
    dates = [f"2024-{m:02d}-{d:02d}" for m in range(1, 13) for d in (3, 17)]
    arts = [(dates[i % len(dates)], f"feed/{'dawn' if i % 3 == 0 else 'bbc'}/{i}.txt", "") for i in range(n_articles)]
    return make_version(per_article, arts, seed)


@pytest.mark.parametrize("kind, prefix, param", [("ivf", "IVF", "nprobe"), ("hnsw", "HNSW32", "efSearch")])
def test_above_the_exact_threshold_faiss_is_approximate_recorded_and_still_right(tmp_path, kind, prefix, param):
    metas, chunks, _ = many_articles(120)  # 360 chunks
    vecs = clustered(len(chunks))
    config = VectorConfig(faiss_exact_max=50, faiss_index=kind, faiss_nprobe=2)  # IVF: 2 of 8 lists
    data = _written(tmp_path, config, metas, chunks, vecs)
    entry = data.manifest["vectors"]
    assert entry["factory"].startswith(prefix) and param in entry["search"], entry
    assert entry["search"].get("nprobe", 2) == 2 and entry["search"].get("efSearch", 128) == 128
    assert IndexStore(tmp_path, VectorConfig(faiss_nprobe=3, faiss_ef_search=99)).load().vectors.search_params == (
        {"nprobe": 3} if kind == "ivf" else {"efSearch": 99})  # set at load, the settings win
    assert data.vectors.factory == entry["factory"] and data.vectors.search_params == entry["search"]
    _, keys = data.vectors.search(vecs[:40], 10)
    exact = np.argsort(-(vecs[:40] @ vecs.T), axis=1)[:, :10]
    recall = np.mean([len(set(data.rows_for(k)) & set(e)) / 10 for k, e in zip(keys, exact)])
    assert recall >= 0.95
    assert (data.rows_for(keys[:, 0]) == np.arange(40)).all()  # each vector finds itself
    np.testing.assert_allclose(data.all_vectors(), vecs, atol=1e-6)  # read back for the next run
    # filters: a narrow one (exact over the subset) and, with the subset limit at 0, the selector
    for subset_max in (faiss_store.SUBSET_EXACT_MAX, 0):
        faiss_store.SUBSET_EXACT_MAX = subset_max
        try:
            for filters in (Filters(since="2024-03-01", until="2024-03-31"), Filters(sources=("dawn",))):
                allowed = np.array(sorted(truth(metas, chunks, filters)))
                fresh = IndexStore(tmp_path, config).load()
                _, keys = fresh.vectors.search(vecs[allowed[:5]], 10, filters)
                rows = fresh.rows_for(keys)
                assert set(rows.ravel()) <= set(allowed) and (rows >= 0).all()
                assert (rows[:, 0] == allowed[:5]).all()
        finally:
            faiss_store.SUBSET_EXACT_MAX = 20_000


def test_an_incremental_write_keeps_the_approximate_index_consistent(tmp_path):
    metas, chunks, _ = many_articles(120)
    vecs = clustered(len(chunks))
    config = VectorConfig(faiss_exact_max=50)
    store = IndexStore(tmp_path, config)
    store.write(manifest(), metas, chunks, vecs)
    old = store.load()
    centroids = _centroids(old.vectors)
    gone = metas[0].id
    kept = [r for r, c in enumerate(old.chunks) if c.article_id != gone]
    new_metas, new_chunks, _ = many_articles(4, seed=9)
    new_vecs = clustered(len(new_chunks), seed=9)
    store.write(manifest(), metas[1:] + new_metas, [old.chunks[r] for r in kept] + new_chunks,
                VectorUpdate(old, kept, new_vecs))
    data = IndexStore(tmp_path, config).load()
    assert data.manifest["vectors"]["factory"] == old.manifest["vectors"]["factory"]
    np.testing.assert_array_equal(_centroids(data.vectors), centroids)  # the trained quantizer was reused
    np.testing.assert_allclose(data.all_vectors(), np.vstack([vecs[kept], new_vecs]), atol=1e-6)
    _, keys = data.vectors.search(new_vecs, 1)
    assert [data.chunks[r].id for r in data.rows_for(keys[:, 0])] == [c.id for c in new_chunks]
    assert gone not in {data.chunks[r].article_id for r in data.rows_for(data.vectors.search(vecs[:3], 20)[1].ravel())
                        if r >= 0}


def test_below_the_threshold_faiss_stays_exact(tmp_path):
    metas, chunks, vecs = make_version()
    data = _written(tmp_path, VectorConfig(faiss_exact_max=len(chunks)), metas, chunks, vecs)
    assert data.manifest["vectors"]["factory"] == "Flat" and data.manifest["vectors"]["search"] == {}


def test_an_index_written_before_vector_stores_still_loads(tmp_path):
    metas, chunks, vecs = make_version()
    version = IndexStore(tmp_path).write(manifest(), metas, chunks, vecs)
    old = json.loads((version / MANIFEST).read_text())
    old.pop("vectors")  # what the previous code wrote: no entry, a plain IndexFlatIP
    old["checksum"] = manifest_checksum(old)
    (version / MANIFEST).write_text(json.dumps(old, indent=2) + "\n")
    data = IndexStore(tmp_path).load()
    assert data.vectors.kind == "faiss" and data.vectors.factory == "Flat" and data.vectors.ntotal == len(chunks)
    _, keys = data.vectors.search(vecs[:3], 1)
    assert list(data.rows_for(keys[:, 0])) == [0, 1, 2]


# ---------------------------------------------------------------------------------------------
# Milvus: versions, crashes, reconciliation


@pytest.mark.slow
@needs_milvus
def test_milvus_crash_before_the_switch_leaves_the_old_version_whole_and_is_reconciled(tmp_path, monkeypatch):
    metas, chunks, vecs = make_version()
    store = IndexStore(tmp_path, MILVUS)
    store.write(manifest(), metas, chunks, vecs)
    v1 = store.load()
    assert v1.manifest["vectors"]["collection"].endswith("_1") and "uri" in v1.manifest["vectors"]
    assert (tmp_path / "milvus.db").is_dir() and not list(tmp_path.glob("v-*/milvus.db"))
    # a run that replaces article 0 with a new one dies after changing Milvus, before the switch
    gone = metas[0].id
    kept = [r for r, c in enumerate(v1.chunks) if c.article_id != gone]
    new_metas, new_chunks, new_vecs = make_version(seed=7, articles=ARTICLES[:1])

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(qa.store.versions, "_write_jsonl", boom)
    with pytest.raises(OSError):
        IndexStore(tmp_path, MILVUS).write(manifest(), metas[1:] + new_metas,
                                           [v1.chunks[r] for r in kept] + new_chunks, VectorUpdate(v1, kept, new_vecs))
    monkeypatch.undo()
    data = IndexStore(tmp_path, MILVUS).load()
    assert data.root == v1.root
    assert data.vectors.count() == len(chunks) + len(new_chunks)  # the new rows are there, nothing was deleted
    drift = data.drift()
    assert drift.extra == len(new_chunks) and not len(drift.missing)
    # a reader never sees a chunk its version lacks, and still finds the old article
    retriever = HybridRetriever(data, FixedEmbedder(new_vecs[0]), candidates=5)
    rows = retriever.dense("q", 5)
    assert len(rows) == 5 and all(0 <= r < len(data.chunks) for r in rows)
    assert HybridRetriever(data, FixedEmbedder(vecs[0])).dense("q", 1) == [0]
    # the next successful write removes what no version uses
    again = IndexStore(tmp_path, MILVUS)
    base = again.load()
    again.write(manifest(), metas[1:] + new_metas, [base.chunks[r] for r in kept] + new_chunks,
                VectorUpdate(base, kept, new_vecs))
    now = IndexStore(tmp_path, MILVUS).load()
    assert now.manifest["vectors"]["collection"] == v1.manifest["vectors"]["collection"]  # updated in place
    assert now.vectors.count() == len(now.chunks) and not now.drift()
    assert set(now.vectors.keys().tolist()) == set(now.keys.tolist())
    assert gone not in now.articles


@pytest.mark.slow
@needs_milvus
def test_milvus_keys_missing_from_the_collection_are_reported(tmp_path):
    metas, chunks, vecs = make_version()
    data = _written(tmp_path, MILVUS, metas, chunks, vecs)
    data.vectors.delete_articles([metas[2].id])
    drift = IndexStore(tmp_path, MILVUS).load().drift()
    assert sorted(drift.missing.tolist()) == [r for r, c in enumerate(chunks) if c.article_id == metas[2].id]
    assert drift.extra == 0


@pytest.mark.slow
@needs_milvus
def test_a_full_rebuild_writes_a_new_generation_and_drops_the_old(tmp_path):
    metas, chunks, vecs = make_version()
    first = _written(tmp_path, MILVUS, metas, chunks, vecs)
    second = _written(tmp_path, MILVUS, metas[:3], chunks[:12], vecs[:12])  # all vectors given: a rebuild
    one, two = first.manifest["vectors"]["collection"], second.manifest["vectors"]["collection"]
    assert one.endswith("_1") and two.endswith("_2")
    client = connect(str(tmp_path / "milvus.db"))
    assert client.has_collection(two) and not client.has_collection(one)
    assert second.vectors.count() == 12


@pytest.mark.slow
@needs_milvus
def test_switching_stores_moves_the_vectors_without_changing_them(tmp_path):
    metas, chunks, vecs = make_version()
    faiss_data = _written(tmp_path, VectorConfig(), metas, chunks, vecs)
    store = IndexStore(tmp_path, MILVUS)
    assert store.vectors_moved(faiss_data.manifest) == "vector store faiss -> milvus"
    store.write(manifest(), metas, chunks, VectorUpdate(faiss_data, list(range(len(chunks))), np.zeros((0, DIM))))
    moved = IndexStore(tmp_path, MILVUS).load()
    assert moved.vectors.kind == "milvus" and store.vectors_moved(moved.manifest) == ""
    np.testing.assert_allclose(moved.all_vectors(), vecs, atol=1e-6)
    back = IndexStore(tmp_path, VectorConfig())
    back.write(manifest(), metas, chunks, VectorUpdate(moved, list(range(len(chunks))), np.zeros((0, DIM))))
    assert IndexStore(tmp_path).load().vectors.kind == "faiss"
    assert not connect(str(tmp_path / "milvus.db")).has_collection(moved.manifest["vectors"]["collection"])


# ---------------------------------------------------------------------------------------------
# Errors: one line each


def test_bad_vector_settings_are_one_line_errors(tmp_path):
    from qa.config import Settings

    with pytest.raises(ValueError, match="QA_VECTOR_STORE='chroma': expected faiss or milvus"):
        Settings.from_env({"QA_VECTOR_STORE": "chroma"})
    with pytest.raises(ValueError, match="QA_MILVUS_URI"):
        Settings.from_env({"QA_MILVUS_URI": "localhost"})
    with pytest.raises(VectorStoreError, match="unknown vector store"):
        VectorConfig(store="chroma")


@needs_milvus
def test_an_unreachable_milvus_server_is_a_one_line_error():
    with pytest.raises(VectorStoreUnavailable, match="cannot open Milvus at http://127.0.0.1:1") as err:
        connect("http://127.0.0.1:1")
    assert "\n" not in str(err.value)


@pytest.mark.slow
@needs_milvus
def test_a_milvus_lite_file_open_in_another_process_is_named(tmp_path):
    db = tmp_path / "milvus.db"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pymilvus import MilvusClient; "
                               f"MilvusClient(uri={str(db)!r}); print('open', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(VectorStoreUnavailable, match="in use by another process") as err:
            connect(str(db))
        assert "\n" not in str(err.value)
    finally:
        holder.kill()
        holder.wait()


def _written(root, config, metas, chunks, vecs):
    IndexStore(root, config).write(manifest(), metas, chunks, vecs)
    return IndexStore(root, config).load()


def _centroids(store) -> np.ndarray:
    import faiss

    ivf = faiss.extract_index_ivf(store._built())
    return ivf.quantizer.reconstruct_n(0, ivf.nlist)


def test_keys_are_stable_and_distinct():
    _, chunks, _ = make_version()
    keys = chunk_keys(chunks)
    assert len(set(keys.tolist())) == len(keys) and (keys >= 0).all()
    assert (chunk_keys(chunks) == keys).all()
