"""Several questions in flight at once on one Pipeline while the index is switched under them.

A question answers from one whole index version, old or new: never from one being loaded, never
failing because a writer removed the version it was reading. Uploads and re-indexing stay the one
writer (the index's lock).
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import corpus_copy

HARBOUR = ("Gwadar harbour reopens after repairs\n\n2024-12-02\nGWADAR: The Gwadar harbour reopened on Monday "
           "after three weeks of repairs to its main breakwater, the port authority said. Fishing boats returned "
           "to the harbour the same morning.\n")
QUESTIONS = ["What did Pakistan agree to?", "When did the Gwadar harbour reopen?",
             "Who was targeted in the bombing near Karachi airport?"]


@pytest.fixture()
def pipeline(tmp_path, reader_path):
    from qa.answer.pipeline import Pipeline
    from qa.config import Settings

    corpus = corpus_copy(tmp_path)
    s = Settings.from_env({}).with_overrides(corpus=(corpus,), index_dir=tmp_path / "index",
                                             uploads=tmp_path / "uploads", reader_model=reader_path)
    p = Pipeline(s, threads=1)
    p.index(progress=False)
    p.warm_up()
    return p


def _whole(data) -> bool:
    """Every chunk's article is in the version's articles, and the row counts agree."""
    return {c.article_id for c in data.chunks} <= data.articles.keys() and len(data.keys) == len(data.chunks)


def _toggle_harbour(pipeline, present: bool) -> None:
    corpus = pipeline.settings.corpus[0]
    path = corpus / "harbour.txt"
    if present:
        path.write_text(HARBOUR, encoding="utf-8")
    else:
        path.unlink(missing_ok=True)
    pipeline.index(progress=False, prune=True)


@pytest.mark.slow
def test_questions_in_flight_while_the_index_switches_see_whole_versions(pipeline):
    """4 threads ask (and describe the index, as page loads do) while the chat's own writer adds and
    removes an article 6 times: no question fails, each answers from one whole version."""
    stop = threading.Event()
    seen: list[tuple[str, frozenset]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def asker(i: int) -> None:
        n = 0
        while not stop.is_set():
            try:
                snap = pipeline.snapshot()
                assert _whole(snap.data)
                pipeline.overview()
                answer = pipeline.ask(QUESTIONS[(i + n) % len(QUESTIONS)])
                cited = frozenset(c.article_id for c in answer.citations)
                with lock:
                    seen.append((answer.question, cited))
            except BaseException as exc:  # noqa: BLE001 - collected and reported below
                with lock:
                    errors.append(exc)
                return
            n += 1

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(asker, i) for i in range(4)]
        for k in range(6):
            _toggle_harbour(pipeline, present=k % 2 == 0)
        deadline = time.monotonic() + 300  # on a loaded machine the askers may have answered little yet
        while len(seen) < 8 and not errors and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        for f in futures:
            f.result()
    assert not errors, errors[:3]
    assert len(seen) >= 8
    articles = pipeline.snapshot().data.articles.values()
    assert not any("harbour" in a.source for a in articles)  # the last version (harbour removed) is current


@pytest.mark.slow
def test_a_version_removed_while_it_loads_is_replaced_by_the_new_one(pipeline, tmp_path):
    """Another process switches the index (and prunes the version being read) in the middle of a
    load: the question answers from the new version instead of failing on a missing file."""
    from qa.answer.pipeline import Pipeline

    writer = Pipeline(pipeline.settings)  # another `qa index`
    (pipeline.settings.corpus[0] / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    writer.index(progress=False)  # v2: the reader has not loaded it yet
    reads = pipeline._reads
    real_jsonl = type(reads)._jsonl
    switched = []

    def jsonl_then_switch(self, version, name):
        if not switched:  # half-way through loading v2, a writer replaces it with v3 and removes v2
            switched.append(version.name)
            (pipeline.settings.corpus[0] / "harbour.txt").write_text(HARBOUR + "\nMore boats came back.\n",
                                                                    encoding="utf-8")
            writer.index(progress=False)
        return real_jsonl(self, version, name)

    reads._jsonl = jsonl_then_switch.__get__(reads)
    answer = pipeline.ask("When did the Gwadar harbour reopen?")
    assert switched, "the load never started"
    assert pipeline.snapshot().data.root.name != switched[0]  # the version that vanished was not kept
    assert _whole(pipeline.snapshot().data)
    assert answer.answered and "Monday" in answer.text
