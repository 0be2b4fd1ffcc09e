"""FAISS and milvus-lite give the same passages and answers through the whole pipeline; both
survive delete / re-add with ``prune``; the size-chosen FAISS index stays right across updates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import CORPUS, need_shared
from qa.answer.retrieve import HybridRetriever
from qa.config import Settings
from qa.store.chunk import Chunker
from qa.store.embed import Embedder
from qa.store.versions import IndexStore
from qa.store.update import Indexer
from qa.store.vectors import VectorConfig
from qa.types import Filters

pytest.importorskip("milvus_lite", reason='milvus-lite is not installed: pip install -e ".[scale]"')
pytestmark = pytest.mark.slow  # every test indexes real articles with the embedder, on both stores

STORES = {"faiss": VectorConfig(), "milvus": VectorConfig(store="milvus")}


@pytest.fixture(scope="module")
def embedder(embedder_path):
    return Embedder(embedder_path, batch_size=16)


def indexer(root: Path, config: VectorConfig, embedder, embedder_path, tokens: int = 60) -> Indexer:
    return Indexer(IndexStore(root, config), Chunker(embedder_path, max_tokens=tokens, overlap=1), embedder)


def write(folder: Path, name: str, title: str, date: str, body: str) -> None:
    (folder / name).write_text(f"{title}\n\n{date}\n{body}\n", encoding="utf-8")


@pytest.fixture
def three(tmp_path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    write(d, "a.txt", "Wheat harvest hits record", "2024-03-01",
          "Farmers in Punjab harvested a record 30 million tonnes of wheat this year.")
    write(d, "b.txt", "Central bank holds rates", "2024-05-02",
          "The State Bank kept its policy rate at 22 percent on Monday.")
    write(d, "c.txt", "Cricket board names captain", "2024-07-03",
          "The cricket board named Babar Azam captain for the tour of England.")
    return d


@pytest.mark.parametrize("kind", list(STORES))
def test_delete_and_re_add_an_article(tmp_path, three, embedder, embedder_path, kind):
    root = tmp_path / "index"
    config = STORES[kind]
    question = "Who will captain the team in England?"
    indexer(root, config, embedder, embedder_path).run([three], progress=False)
    data = IndexStore(root, config).load()
    assert data.vectors.kind == kind
    assert HybridRetriever(data, embedder).retrieve(question, top_k=1)[0].title == "Cricket board names captain"

    saved = (three / "c.txt").read_text(encoding="utf-8")
    (three / "c.txt").unlink()
    report = indexer(root, config, embedder, embedder_path).run([three], progress=False, prune=True)
    assert (report.pruned, report.articles) == (1, 2)
    data = IndexStore(root, config).load()
    assert data.vectors.count() == len(data.chunks)  # Milvus: the article's rows were deleted, not just hidden
    dense = HybridRetriever(data, embedder).dense(question, 10)
    assert {data.chunks[r].article_id for r in dense} <= set(data.articles)
    assert "Cricket board names captain" not in {p.title for p in HybridRetriever(data, embedder).retrieve(question)}

    (three / "c.txt").write_text(saved, encoding="utf-8")
    report = indexer(root, config, embedder, embedder_path).run([three], progress=False)
    assert (report.added, report.articles, report.reused) == (1, 3, report.chunks - report.embedded)
    data = IndexStore(root, config).load()
    assert data.vectors.count() == len(data.chunks)
    assert HybridRetriever(data, embedder).retrieve(question, top_k=1)[0].title == "Cricket board names captain"


def test_filters_give_the_same_passages_with_both_stores(tmp_path, three, embedder, embedder_path):
    other = tmp_path / "dawn_feed"
    other.mkdir()
    write(other, "d.txt", "Floods in Sindh", "2024-08-04", "Floods displaced 2,000 families in Sindh on Friday.")
    (other / "e.txt").write_text("Harbour expansion approved\n\nThe port authority approved a new harbour.\n")
    loaded = {}
    for kind, config in STORES.items():
        indexer(tmp_path / kind, config, embedder, embedder_path).run([three, other], progress=False)
        loaded[kind] = IndexStore(tmp_path / kind, config).load()
    cases = [Filters(), Filters(since="2024-04-01"), Filters(until="2024-05-02"), Filters(sources=("DAWN_FEED",)),
             Filters(sources=("b.txt", "e.txt")), Filters(since="2024-01-01", sources=("dawn",)),
             Filters(since="2025-01-01")]
    for filters in cases:
        for question in ("What happened to the families?", "interest rates", "harbour"):
            got = {kind: [p.chunk.id for p in HybridRetriever(data, embedder).retrieve(question, 5, filters)]
                   for kind, data in loaded.items()}
            assert got["faiss"] == got["milvus"], (filters, question)
            faiss_data = loaded["faiss"]
            assert all(filters.matches(faiss_data.articles[c.split(":")[0]]) for c in got["faiss"])


def test_a_tiny_exact_threshold_gives_an_approximate_index_that_stays_right(tmp_path, embedder, embedder_path):
    folder = tmp_path / "many"
    folder.mkdir()
    topics = ["wheat harvest", "cricket captain", "bank rates", "flood relief", "harbour works", "power tariffs",
              "school exams", "polio drive", "gas prices", "rail line"]
    for i in range(70):
        topic = topics[i % len(topics)]
        write(folder, f"s{i:02d}.txt", f"Report {i} on {topic}", f"2024-{i % 12 + 1:02d}-10",
              f"Officials in district {i} discussed the {topic} on day {i}. The district {i} council voted "
              f"{i + 3} to {i % 5} on the {topic} plan.")
    write(folder, "zoo.txt", "Karachi zoo gets an elephant", "2024-05-20",
          "An elephant named Noor arrived at the Karachi zoo from Sri Lanka on Tuesday.")
    config = VectorConfig(faiss_exact_max=50)
    root = tmp_path / "index"
    indexer(root, config, embedder, embedder_path, tokens=40).run([folder], progress=False)
    data = IndexStore(root, config).load()
    entry = data.manifest["vectors"]
    assert len(data.chunks) > 50 and entry["factory"].startswith("IVF") and entry["search"]["nprobe"] >= 1
    retriever = HybridRetriever(data, embedder, candidates=20)
    assert retriever.retrieve("Where did the elephant come from?", top_k=1)[0].title == "Karachi zoo gets an elephant"
    vectors = data.all_vectors()
    for question in ("district 42 cricket captain vote", "flood relief plan", "gas prices"):
        exact = (vectors @ embedder.encode([question])[0]).argsort()[::-1][:10].tolist()
        assert retriever.dense(question, 10) == exact  # nprobe by size searches enough lists here
    only_may = Filters(since="2024-05-01", until="2024-05-31")
    passages = retriever.retrieve("flood relief", top_k=10, filters=only_may)
    assert passages and all(p.date.startswith("2024-05") for p in passages)

    (folder / "s42.txt").unlink()
    write(folder, "new.txt", "Metro bus fares cut", "2024-09-09", "The metro bus fare was cut to 30 rupees.")
    report = indexer(root, config, embedder, embedder_path, tokens=40).run([folder], progress=False, prune=True)
    assert (report.added, report.pruned) == (1, 1)
    data = IndexStore(root, config).load()
    assert data.manifest["vectors"]["factory"] == entry["factory"]
    assert data.vectors.count() == len(data.chunks)
    retriever = HybridRetriever(data, embedder, candidates=20)
    assert retriever.retrieve("How much is the metro bus fare?", top_k=1)[0].title == "Metro bus fares cut"
    assert not {data.chunks[r].article_id for r in retriever.dense("district 42 cricket captain", 200)} - set(
        data.articles)
    assert "Report 42 on cricket captain" not in {a.title for a in data.articles.values()}
    vectors = data.all_vectors()
    for question in ("district 42 cricket captain vote", "elephant"):
        exact = (vectors @ embedder.encode([question])[0]).argsort()[::-1][:10].tolist()
        assert retriever.dense(question, 10) == exact


def test_milvus_rows_lost_from_the_collection_are_re_embedded(tmp_path, three, embedder, embedder_path):
    root = tmp_path / "index"
    config = STORES["milvus"]
    indexer(root, config, embedder, embedder_path).run([three], progress=False)
    data = IndexStore(root, config).load()
    lost = next(a for a in data.articles.values() if a.title == "Central bank holds rates")
    data.vectors.delete_articles([lost.id])  # edited from outside, or a crash in the wrong place
    report = indexer(root, config, embedder, embedder_path).run([three], progress=False)
    assert not report.up_to_date and report.embedded == lost.chunks and report.added == 0
    data = IndexStore(root, config).load()
    assert data.vectors.count() == len(data.chunks) and not data.drift()
    top = HybridRetriever(data, embedder).dense("What rate did the State Bank keep?", 1)
    assert data.chunks[top[0]].article_id == lost.id


# ---------------------------------------------------------------------------------------------
# The seed questions, end to end


@pytest.fixture(scope="module")
def seed_pipelines(tmp_path_factory, reader_path):
    from qa.answer.pipeline import Pipeline

    dawn = need_shared("news", "dawn_pakistan_15.json")
    pipes = {}
    for kind in STORES:
        s = Settings.from_env({}).with_overrides(corpus=(CORPUS, dawn), reader_model=reader_path, vectors=STORES[kind],
                                                 index_dir=tmp_path_factory.mktemp(f"seed-{kind}"))
        pipes[kind] = Pipeline(s)
        report = pipes[kind].index(progress=False)
        assert report.articles > 10
    return pipes


def seed_questions() -> list[dict]:
    path = need_shared("qa", "seed_article_dev.jsonl")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_seed_questions_retrieve_the_same_passages_with_both_stores(seed_pipelines):
    faiss_pipe, milvus_pipe = seed_pipelines["faiss"], seed_pipelines["milvus"]
    assert milvus_pipe.retriever.data.vectors.kind == "milvus" and faiss_pipe.retriever.data.vectors.kind == "faiss"
    for q in seed_questions():
        ids = [[p.chunk.id for p in pipe.retriever.retrieve(q["question"], top_k=5)] for pipe in (faiss_pipe, milvus_pipe)]
        assert ids[0] == ids[1] and len(ids[0]) == 5, q["question"]


@pytest.mark.slow
def test_seed_questions_get_the_same_answers_with_both_stores(seed_pipelines):
    for q in seed_questions():
        a, b = (seed_pipelines[kind].ask(q["question"]) for kind in STORES)
        assert (a.answered, a.text, [c.article_id for c in a.citations]) == (
            b.answered, b.text, [c.article_id for c in b.citations]), q["question"]
        assert a.score == pytest.approx(b.score, abs=1e-5)
