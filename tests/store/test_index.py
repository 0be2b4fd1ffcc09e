"""Index persistence: build, reload, incremental updates, stale detection, atomic writes."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

import qa.store.update
from qa.store.chunk import Chunker
from qa.store.embed import Embedder
from qa.store.versions import IndexStore
from qa.store.update import Indexer
from qa.answer.retrieve import HybridRetriever, reciprocal_rank_fusion


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
    assert data.vectors.ntotal == len(data.chunks) == report.chunks
    assert data.manifest["counts"]["articles"] == 3
    assert data.manifest["settings"]["chunk_tokens"] == 60
    vecs = data.all_vectors()
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
    # d new, a edited (new content = new id) replaces its old version; c's file is gone but
    # nothing is removed without prune: it is kept, and counted as vanished
    assert (upd.added, upd.replaced, upd.pruned, upd.removed) == (2, 1, 0, 1)
    assert (upd.found, upd.kept, upd.vanished, upd.articles) == (3, 1, 1, 4)
    assert "--prune" in upd.summary()
    data = IndexStore(root).load()
    titles = sorted(a.title for a in data.articles.values())
    assert titles == ["Central bank holds rates", "Cricket board names captain", "Floods in Sindh",
                      "Wheat harvest hits record"]  # one wheat article: the edit replaced the old one
    assert upd.reused == sum(1 for c in data.chunks
                             if data.articles[c.article_id].title in ("Central bank holds rates",
                                                                      "Cricket board names captain"))
    assert upd.embedded + upd.reused == len(data.chunks)
    # kept vectors are the same as before: search still finds the bank article first
    top = HybridRetriever(data, embedder).retrieve("State Bank policy rate", top_k=1)
    assert top[0].title == "Central bank holds rates"
    assert len(list(root.glob("v-*"))) == 1  # old versions pruned


def test_indexing_another_folder_keeps_the_articles_already_indexed(tmp_path, corpus, embedder, embedder_path):
    root = tmp_path / "index"
    make_indexer(root, embedder, embedder_path).run([corpus], progress=False)
    other = tmp_path / "other"
    other.mkdir()
    write_article(other, "e.txt", "Floods in Sindh", "Floods displaced 2,000 families in Sindh on Friday.")
    report = make_indexer(root, embedder, embedder_path).run([other], progress=False)
    assert (report.found, report.added, report.kept, report.removed) == (1, 1, 3, 0)
    assert report.articles == report.found + report.kept == 4
    assert report.reused > 0 and report.embedded > 0  # the old articles' vectors were carried over
    assert "1 from these files + 3 kept from earlier runs" in report.summary()
    data = IndexStore(root).load()
    assert len(data.articles) == 4 and data.manifest["counts"]["articles"] == 4
    retriever = HybridRetriever(data, embedder, candidates=10)
    assert retriever.retrieve("Who will captain the team in England?", top_k=1)[0].title == "Cricket board names captain"
    assert retriever.retrieve("How many families did the floods displace?", top_k=1)[0].title == "Floods in Sindh"
    # and indexing the first folder again keeps the new one
    again = make_indexer(root, embedder, embedder_path).run([corpus], progress=False)
    assert again.up_to_date and (again.found, again.kept, again.articles) == (3, 1, 4)


def test_prune_names_what_it_removes_before_removing_it(tmp_path, corpus, embedder, embedder_path, monkeypatch):
    root = tmp_path / "index"
    make_indexer(root, embedder, embedder_path).run([corpus], progress=False)
    (corpus / "c.txt").unlink()
    events = []
    write = IndexStore.write
    monkeypatch.setattr(IndexStore, "write", lambda self, *a: (events.append("write"), write(self, *a))[1])
    monkeypatch.setattr(qa.store.update.log, "warning", lambda msg, *a: events.append(msg % a))
    report = make_indexer(root, embedder, embedder_path).run([corpus], progress=False, prune=True)
    assert (report.pruned, report.removed, report.vanished, report.articles) == (1, 1, 0, 2)
    assert len(events) == 2 and events[1] == "write"  # said first, then removed
    assert "pruning 1 article" in events[0] and "Cricket board names captain" in events[0]
    assert str(corpus / "c.txt") in events[0]
    assert "1 pruned" in report.summary()
    titles = {a.title for a in IndexStore(root).load().articles.values()}
    assert titles == {"Wheat harvest hits record", "Central bank holds rates"}


def test_prune_leaves_articles_of_other_existing_files_alone(tmp_path, corpus, embedder, embedder_path):
    root = tmp_path / "index"
    other = tmp_path / "other"
    other.mkdir()
    write_article(other, "e.txt", "Floods in Sindh", "Floods displaced 2,000 families in Sindh on Friday.")
    make_indexer(root, embedder, embedder_path).run([corpus, other], progress=False)
    report = make_indexer(root, embedder, embedder_path).run([other], progress=False, prune=True)
    assert report.up_to_date and (report.pruned, report.kept, report.articles) == (0, 3, 4)


def test_a_record_gone_from_a_reread_file_is_pruned_only_on_request(tmp_path, embedder, embedder_path):
    folder = tmp_path / "feed"
    folder.mkdir()
    records = [{"title": f"Story {i}", "text": f"Body of story number {i} about the harbour."} for i in range(3)]
    feed = folder / "feed.jsonl"
    feed.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    root = tmp_path / "index"
    make_indexer(root, embedder, embedder_path).run([folder], progress=False)
    feed.write_text("\n".join(json.dumps(r) for r in records[:2]), encoding="utf-8")  # the last record goes
    kept = make_indexer(root, embedder, embedder_path).run([folder], progress=False)
    assert (kept.vanished, kept.removed, kept.articles) == (1, 0, 3)
    pruned = make_indexer(root, embedder, embedder_path).run([folder], progress=False, prune=True)
    assert (pruned.pruned, pruned.articles) == (1, 2)
    assert {a.title for a in IndexStore(root).load().articles.values()} == {"Story 0", "Story 1"}


def test_an_unreadable_file_keeps_its_old_articles_even_with_prune(tmp_path, embedder, embedder_path):
    folder = tmp_path / "feed"
    folder.mkdir()
    feed = folder / "feed.json"
    feed.write_text(json.dumps([{"title": "Story", "text": "Body of the story."}]), encoding="utf-8")
    root = tmp_path / "index"
    make_indexer(root, embedder, embedder_path).run([folder], progress=False)
    feed.write_text("[{broken", encoding="utf-8")  # half-saved: not a reason to forget the story
    report = make_indexer(root, embedder, embedder_path).run([folder], progress=False, prune=True)
    assert (report.found, report.kept, report.pruned, report.articles) == (0, 1, 0, 1)


def test_summary_arithmetic_adds_up(tmp_path, corpus, embedder, embedder_path):
    write_article(corpus, "copy.txt", "Cricket board names captain",
                  "The cricket board named Babar Azam captain for the tour of England. "
                  "The squad leaves for London next week.")  # a duplicate of c.txt
    (corpus / "empty.txt").write_text("", encoding="utf-8")  # a record that is skipped
    (corpus / "bad.json").write_text("{oops", encoding="utf-8")  # a file problem, not a record
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(b"%PDF")  # unsupported, named explicitly
    root = tmp_path / "index"
    report = make_indexer(root, embedder, embedder_path).run([corpus, pdf], progress=False)
    head, tail = report.summary().splitlines()
    m = re.match(r"(\d+) records in (\d+) files: (\d+) articles, (\d+) skipped, (\d+) duplicates?; "
                 r"also skipped: 1 unsupported file, 1 empty, unreadable or cut-short file \(reasons logged\)\.$", head)
    assert m, head
    records, files, articles, skipped, dups = map(int, m.groups())
    assert (records, files, articles, skipped, dups) == (5, 6, 3, 1, 1)
    assert records == articles + skipped + dups
    assert tail.startswith("Index: 3 articles, ")


def test_changed_settings_keep_articles_of_earlier_runs(tmp_path, corpus, embedder, embedder_path):
    root = tmp_path / "index"
    other = tmp_path / "other"
    other.mkdir()
    write_article(other, "e.txt", "Floods in Sindh", "Floods displaced 2,000 families in Sindh on Friday.")
    make_indexer(root, embedder, embedder_path, tokens=60).run([corpus], progress=False)
    report = make_indexer(root, embedder, embedder_path, tokens=40).run([other], progress=False)
    assert "chunk_tokens 60 -> 40" in report.rebuilt_because and str(corpus) in report.rebuilt_because
    assert report.articles == 4 and report.reused == 0


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

    import qa.store.versions

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(qa.store.versions, "_write_jsonl", boom)
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
