"""`qa serve --replicas N`: answering on Ray Serve replicas behind the chat.

Two replicas on a private local Ray, each its own process: they answer exactly as one process
does, an index written by the front end (an upload) reaches both, and a replica killed under load
loses no question. Without the scale extra, each scale feature says what to install.
"""

import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from qa.app.chat import EXAMPLES

HARBOUR = ("Gwadar harbour reopens after repairs\n\n2024-12-02\nGWADAR: The Gwadar harbour reopened on Monday "
           "after three weeks of repairs to its main breakwater, the port authority said.\n")
SEED_QUESTIONS = [*EXAMPLES, "Who was targeted in the bombing near Karachi airport?",
                  "What is the name of the Chinese foreign ministry spokesperson?"]


@pytest.fixture(scope="module")
def replicated(tmp_path_factory, reader_path):
    pytest.importorskip("ray.serve", reason='Ray Serve is not installed: pip install -e ".[scale]"')
    from conftest import corpus_copy

    from qa.answer.pipeline import Pipeline
    from qa.app.replicas import ReplicatedPipeline
    from qa.app.serving import plan
    from qa.config import Settings

    work = tmp_path_factory.mktemp("replicas")
    s = Settings.from_env({}).with_overrides(corpus=(corpus_copy(work),), index_dir=work / "index",
                                             uploads=work / "uploads", reader_model=reader_path, replicas=2,
                                             answer_timeout=60.0)
    one = Pipeline(s)
    one.index(progress=False)
    front = ReplicatedPipeline(s, plan(s, available=2))
    front.warm_up()
    try:
        yield one, front
    finally:
        front.close()


@pytest.mark.slow
def test_replicas_answer_exactly_as_one_process(replicated):
    from qa.answer.followups.conversation import Conversation

    one, front = replicated
    assert len(front.replica_pids()) == 2
    for q in SEED_QUESTIONS:
        a, b = one.ask(q), front.ask(q)
        assert (b.text, b.score, b.answered, b.message) == (a.text, a.score, a.answered, a.message), q
        assert [(f.text, f.score) for f in b.findings] == [(f.text, f.score) for f in a.findings], q
    # a follow-up is read against the conversation, which travels to the replica and back
    here, there = Conversation(), Conversation()
    for q in ("Who was targeted in the bombing near Karachi airport?", "Where were they working?"):
        a, b = one.ask(q, conversation=here), front.ask(q, conversation=there)
        assert (b.resolved_question, b.text, b.score) == (a.resolved_question, a.text, a.score)
    assert len(there.turns) == len(here.turns) == 2


@pytest.mark.slow
def test_an_upload_indexed_by_the_front_end_reaches_every_replica(replicated):
    one, front = replicated
    question = "When did the Gwadar harbour reopen?"
    uploads = front.settings.uploads
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    front.index([uploads], progress=False)  # what the chat's upload does: the one writer
    by: dict[int, str] = {}
    for _ in range(12):
        outcome = front.ask_replica(question)
        by[outcome.pid] = outcome.answer.text
    assert set(by) == set(front.replica_pids()), "not every replica answered"
    assert all("Monday" in text for text in by.values()), by


@pytest.mark.slow
def test_a_replica_killed_under_load_loses_no_question(replicated):
    one, front = replicated
    before = front.replica_pids()
    failures: list[str] = []
    lock = threading.Lock()

    def ask(i: int) -> None:
        try:
            answer = front.ask(SEED_QUESTIONS[i % len(SEED_QUESTIONS)])
            assert answer.question
        except Exception as exc:  # noqa: BLE001 - counted
            with lock:
                failures.append(f"{type(exc).__name__}: {exc}")

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(ask, i) for i in range(40)]
        time.sleep(1.0)
        os.kill(before[0], signal.SIGKILL)
        for f in futures:
            f.result(timeout=120)
    assert failures == []
    deadline = time.time() + 90  # Ray Serve replaces the dead replica
    while time.time() < deadline and (len(front.replica_pids()) < 2 or before[0] in front.replica_pids()):
        time.sleep(1)
    after = front.replica_pids()
    assert len(after) == 2 and before[0] not in after
    a, b = one.ask(SEED_QUESTIONS[0]), front.ask(SEED_QUESTIONS[0])  # the new replica answers as one process
    assert (b.text, b.score, b.answered) == (a.text, a.score, a.answered)


@pytest.mark.parametrize("argv, feature", [
    (["serve", "--replicas", "2", "--no-refresh"], "qa serve --replicas"),
    (["index", "--ray", "--no-progress"], "qa index --ray"),
])
def test_without_the_scale_extra_the_command_says_what_to_install(monkeypatch, capsys, argv, feature):
    from qa.app.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    monkeypatch.delitem(sys.modules, "ray.serve", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert 'pip install -e ".[scale]"' in err and feature in err and "Traceback" not in err


def test_milvus_without_the_scale_extra_says_what_to_install(monkeypatch):
    from qa.store.vectors import VectorStoreError, store_class

    monkeypatch.setitem(sys.modules, "pymilvus", None)
    with pytest.raises(VectorStoreError, match=r'QA_VECTOR_STORE=milvus needs pymilvus.*pip install -e "\.\[scale\]"'):
        store_class("milvus")
