"""Index persistence: build, reload, incremental updates, stale detection, atomic writes."""

from pathlib import Path

import numpy as np
import pytest

from qa.chunk import Chunker
from qa.embed import Embedder
from qa.index import IndexStore
from qa.indexer import Indexer
from qa.retrieve import HybridRetriever, reciprocal_rank_fusion


def write_article(folder: Path, name: str, title: str, body: str) -> Path:
    p = folder / name
    p.write_text(f"{title}\n\n2024-03-0{len(name) % 9 + 1}\n{body}\n", encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def embedder(embedder_path):
    return Embedder(embedder_path, batch_size=16)


@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    write_article(d, "a.txt", "Wheat harvest hits record",
                  "Farmers in Punjab harvested a record 30 million tonnes of wheat this year. "
                  "Officials credited late rains and new seed varieties.")
    write_article(d, "b.txt", "Central bank holds rates",
                  "The State Bank kept its policy rate at 22 percent on Monday. "
                  "The governor said inflation was expected to slow by June.")
    write_article(d, "c.txt", "Cricket board names captain",
                  "The cricket board named Babar Azam captain for the tour of England. "
                  "The squad leaves for London next week.")
    return d


def make_indexer(root, embedder, embedder_path, tokens=60):
    return Indexer(IndexStore(root), Chunker(embedder_path, max_tokens=tokens, overlap=1), embedder)


def test_build_reload_and_search(tmp_path, corpus, embedder, embedder_path):
    root = tmp_path / "index"
    report = make_indexer(root, embedder, embedder_path).run([corpus], progress=False)
    assert (report.articles, report.added, report.removed) == (3, 3, 0)
    assert report.embedded == report.chunks > 0
    data = IndexStore(root).load()
    assert data.dense.ntotal == len(data.chunks) == report.chunks
    assert data.manifest["counts"]["articles"] == 3
    assert data.manifest["settings"]["chunk_tokens"] == 60
    vecs = data.vectors()
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)  # normalised
    retriever = HybridRetriever(data, embedder, candidates=10)
    top = retriever.retrieve("What rate did the State Bank keep?", top_k=2)
    assert top[0].title == "Central bank holds rates"
    assert top[0].dense_rank is not None and top[0].lexical_rank is not None
    top = retriever.retrieve("Who will captain the team in England?", top_k=1)
    assert top[0].title == "Cricket board names captain"


def test_second_run_embeds_nothing_and_changes_embed_only_new(tmp_path, corpus, embedder, embedder_path):
    root = tmp_path / "index"
    make_indexer(root, embedder, embedder_path).run([corpus], progress=False)
    version = IndexStore(root).current()
    again = make_indexer(root, embedder, embedder_path).run([corpus], progress=False)
    assert again.up_to_date and again.embedded == 0
    assert IndexStore(root).current() == version  # nothing rewritten

    write_article(corpus, "d.txt", "Floods in Sindh", "Floods displaced 2,000 families in Sindh on Friday.")
    (corpus / "c.txt").unlink()
    (corpus / "a.txt").write_text("Wheat harvest hits record\n\nFarmers harvested 31 million tonnes.\n")
    upd = make_indexer(root, embedder, embedder_path).run([corpus], progress=False)
    assert (upd.added, upd.removed) == (2, 2)  # d new, a changed (new content = new id); c and old a gone
    data = IndexStore(root).load()
    titles = {a.title for a in data.articles.values()}
    assert titles == {"Wheat harvest hits record", "Central bank holds rates", "Floods in Sindh"}
    assert upd.reused == sum(1 for c in data.chunks if data.articles[c.article_id].title == "Central bank holds rates")
    assert upd.embedded + upd.reused == len(data.chunks)
    # kept vectors are the same as before: search still finds the bank article first
    top = HybridRetriever(data, embedder).retrieve("State Bank policy rate", top_k=1)
    assert top[0].title == "Central bank holds rates"
    assert len(list(root.glob("v-*"))) == 1  # old versions pruned


def test_changed_settings_force_a_rebuild(tmp_path, corpus, embedder, embedder_path, caplog):
    root = tmp_path / "index"
    make_indexer(root, embedder, embedder_path, tokens=60).run([corpus], progress=False)
    report = make_indexer(root, embedder, embedder_path, tokens=40).run([corpus], progress=False)
    assert "chunk_tokens 60 -> 40" in report.rebuilt_because
    assert report.reused == 0 and report.embedded == report.chunks
    assert "rebuilding" in caplog.text
    assert IndexStore(root).manifest()["settings"]["chunk_tokens"] == 40


def test_crash_mid_write_leaves_previous_index_usable(tmp_path, corpus, embedder, embedder_path, monkeypatch):
    root = tmp_path / "index"
    make_indexer(root, embedder, embedder_path).run([corpus], progress=False)
    before = IndexStore(root).load()
    write_article(corpus, "e.txt", "New article", "Something new happened in Lahore today.")

    import qa.index

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(qa.index, "_write_jsonl", boom)
    with pytest.raises(OSError):
        make_indexer(root, embedder, embedder_path).run([corpus], progress=False)
    monkeypatch.undo()
    after = IndexStore(root).load()
    assert after.root == before.root and len(after.chunks) == len(before.chunks)
    assert len(list(root.glob("v-*"))) == 1  # the half-written version was removed


def test_missing_index_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="qa index"):
        IndexStore(tmp_path / "nothing").load()


def test_reciprocal_rank_fusion():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], k=60)
    ids = [i for i, _ in fused]
    assert ids == [1, 3, 2]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)


def test_moved_file_updates_its_source_without_embedding(tmp_path, corpus, embedder, embedder_path):
    root = tmp_path / "index"
    make_indexer(root, embedder, embedder_path).run([corpus], progress=False)
    (corpus / "b.txt").rename(corpus / "bank.txt")
    report = make_indexer(root, embedder, embedder_path).run([corpus], progress=False)
    assert not report.up_to_date and report.embedded == 0 and report.added == report.removed == 0
    sources = {a.title: a.source for a in IndexStore(root).load().articles.values()}
    assert sources["Central bank holds rates"].endswith("bank.txt")
