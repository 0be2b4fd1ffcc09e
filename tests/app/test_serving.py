"""How the chat answers many users: questions in flight, model threads, and the Gradio slots."""

from types import SimpleNamespace

import pytest

from qa.app.serving import ANSWER_SLOT, WRITER_SLOT, answer_slots, plan
from qa.config import Settings


@pytest.mark.parametrize("env, cores, expected", [
    ({}, 2, (2, 1, 2)),  # one question per core, one thread each
    ({}, 8, (8, 1, 8)),
    ({"QA_CONCURRENCY": "1"}, 2, (1, 2, 1)),  # one question at a time, on every core
    ({"QA_CONCURRENCY": "2", "QA_MODEL_THREADS": "2"}, 4, (2, 2, 2)),
    ({"QA_REPLICAS": "2"}, 2, (1, 1, 4)),  # each replica its core; two questions queued per replica
    ({"QA_REPLICAS": "2"}, 8, (1, 4, 4)),
    ({"QA_REPLICAS": "6", "QA_RAY_ADDRESS": "head:6379"}, 2, (1, 1, 12)),  # a cluster: a core per replica
])
def test_questions_and_threads_never_oversubscribe_the_cores(env, cores, expected):
    p = plan(Settings.from_env(env), available=cores)
    assert (p.questions, p.threads, p.in_flight) == expected
    if not p.replicas and not env.get("QA_MODEL_THREADS"):
        assert p.questions * p.threads <= cores


def test_one_at_a_time_shares_the_writers_slot_and_concurrent_answering_has_its_own():
    assert answer_slots(Settings.from_env({"QA_CONCURRENCY": "1"})) == {"concurrency_id": WRITER_SLOT,
                                                                         "concurrency_limit": 1}
    slots = answer_slots(Settings.from_env({"QA_CONCURRENCY": "3"}))
    assert slots == {"concurrency_id": ANSWER_SLOT, "concurrency_limit": 3}


def test_the_chat_answers_several_at_once_while_uploads_keep_one_writer(tmp_path):
    from qa.app.chat import build_app

    pipeline = SimpleNamespace(settings=Settings.from_env({"QA_CONCURRENCY": "3"}).with_overrides(
        corpus=(tmp_path,), uploads=tmp_path / "uploads"))
    demo = build_app(pipeline)
    by_name = {getattr(f.fn, "__name__", ""): f for f in demo.fns.values()}
    respond, reindex, upload = by_name["respond"], by_name["reindex"], by_name["add_files"]
    assert (respond.concurrency_id, respond.concurrency_limit) == (ANSWER_SLOT, 3)
    for writer in (reindex, upload):
        assert (writer.concurrency_id, writer.concurrency_limit) == (WRITER_SLOT, 1)


@pytest.mark.parametrize("name, value", [("QA_CONCURRENCY", "-1"), ("QA_REPLICAS", "two"),
                                         ("QA_ANSWER_TIMEOUT", "0"), ("QA_SESSIONS", "0")])
def test_bad_serving_settings_name_the_variable(name, value):
    with pytest.raises(ValueError, match=name):
        Settings.from_env({name: value})
