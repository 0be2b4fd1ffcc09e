"""End to end on corpus/: a question in, a cited, highlightable span out."""

import json
from pathlib import Path

import pytest

from conftest import CORPUS, SEED_TITLE, need_shared
from qa.answer.followups.conversation import Conversation
from qa.evaluation.squad import max_over_golds
from qa.types import Filters

pytestmark = pytest.mark.slow  # every test asks the shipped reader over a real index


def test_pakistan_question_is_read_from_the_seed_article(seed_pipeline):
    ans = seed_pipeline.ask("What did Pakistan agree to?")
    first = shown(ans)[0]
    c = first.citation
    assert c.title == SEED_TITLE
    assert c.date == "2024-11-13"
    assert c.source.endswith("000_5f212afdc6001fcb.txt")
    # the span highlights exactly the answer inside the cited passage
    assert c.passage[c.answer_start : c.answer_end] == first.text
    assert 0 < len(first.text.split()) <= 30  # the reader's answer limit (max_answer_tokens)
    # the confidence shown is the calibrated probability of being right (calibration.json): a span is the
    # answer when it reaches the cut-off fitted with the reader, else it is a possible answer below it
    assert ans.score == first.score and (ans.score >= ans.cutoff) == ans.answered
    assert set(ans.timings) == {"retrieve", "read", "total"}
    assert first.text in (CORPUS / "000_5f212afdc6001fcb.txt").read_text()


def test_answer_json_has_the_documented_fields(seed_pipeline):
    d = seed_pipeline.ask("Where did last month's bombing happen?").to_dict()
    json.dumps(d)  # serialisable
    assert {"answer", "score", "answered", "citations", "timings", "message", "findings",
            "resolved_question"} <= set(d)
    assert "Karachi airport" in d["answer"]
    assert d["citations"][0]["title"] == SEED_TITLE


def test_question_the_article_cannot_answer_is_refused(seed_pipeline):
    ans = seed_pipeline.ask("What is the name of the Chinese foreign ministry spokesperson?")
    assert not ans.answered
    assert ans.text == "" and "do not answer" in ans.message
    assert ans.citations and all(c.answer_start is None for c in ans.citations)


def test_empty_question_is_rejected(seed_pipeline):
    with pytest.raises(ValueError, match="empty"):
        seed_pipeline.ask("   ")


def shown(ans):
    """What a user reads first and after: the findings, or for a refusal the possible answers."""
    return ans.findings if ans.answered else ans.possible


def test_seed_dev_questions(seed_pipeline):
    """The seed article's dev questions, end to end. What is shown first (the answer, or the most
    confident possible answer of a refusal) is right for nearly all of the answerable ones, every answer
    given clears the cut-off, and the unanswerable ones are not both answered."""
    path = need_shared("qa", "seed_article_dev.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    right, refused = [], []
    for row in rows:
        ans = seed_pipeline.ask(row["question"])
        if ans.answered:
            assert ans.score >= ans.cutoff and ans.findings[0].score == ans.score, row["question"]
        if row["answers"]:
            first = shown(ans)[0].text if shown(ans) else ""
            right.append(max_over_golds(first, row["answers"])[1] >= 0.5)
        else:
            refused.append(not ans.answered)
    assert len(right) == 8 and len(refused) == 2
    assert sum(right) >= 6, right
    assert sum(refused) >= 1, refused


# --- findings -----------------------------------------------------------------------------------

AGREED = ("a joint security management system", "Chinese officials sitting in on security meetings and co-ordination",
          "develop a joint strategy to prevent similar incidents in the future")
FLAT_FIELDS = {"text", "score", "kind", "article_id", "title", "date", "source", "url", "passage", "passage_start",
               "answer_start", "answer_end"}


def test_pakistan_agreed_to_things_and_a_denial_is_never_one(seed_pipeline):
    ans = seed_pipeline.ask("What did Pakistan agree to?")
    assert shown(ans), ans.message
    first = shown(ans)[0]
    assert any(a.split(" to prevent")[0] in first.text or first.text in a for a in AGREED), first.text
    if ans.answered:
        assert ans.text == ans.findings[0].text and ans.citations[0] == ans.findings[0].citation
    for f in shown(ans):
        assert "not agreed" not in f.text and "no agreement" not in f.text
        c = f.citation
        assert c.passage[c.answer_start : c.answer_end] == f.text
        assert 0 < f.score <= 1 and c.title == SEED_TITLE
    assert all(a["text"] != "not agreed to such a step" for a in ans.alternatives)
    # one finding per sentence: no two shown spans share the sentence they come from
    starts = [f.citation.passage_start + f.citation.answer_start for f in shown(ans)]
    assert len(set(starts)) == len(starts)
    d = ans.to_dict()
    assert [set(f) for f in d["findings"] + d["possible"]] == [FLAT_FIELDS] * len(shown(ans))
    assert d["answer"] == (d["findings"][0]["text"] if ans.answered else "")
    json.dumps(d)


def test_sources_are_relative_to_the_corpus_folder(seed_pipeline):
    c = seed_pipeline.ask("Where did last month's bombing happen?").citations[0]
    assert c.source == "000_5f212afdc6001fcb.txt" and not Path(c.source).is_absolute()
    assert seed_pipeline.sources() == ["000_5f212afdc6001fcb.txt"]
    assert seed_pipeline.date_range() == ("2024-11-13", "2024-11-13")


# --- conversation -------------------------------------------------------------------------------

def test_follow_up_questions_in_a_conversation(seed_pipeline):
    conv = Conversation()
    first = seed_pipeline.ask("Where did last month's bombing happen?", conversation=conv)
    assert "Karachi airport" in first.text and first.resolved_question == first.question
    follow = seed_pipeline.ask("Who was targeted there?", conversation=conv)
    assert follow.resolved_question == "Who was targeted there?"
    assert any("engineers" in f.text for f in shown(follow)), shown(follow)
    assert len(conv.turns) == 2 and conv.turns[1].article_id == follow.citations[0].article_id

    conv = Conversation()
    seed_pipeline.ask("What did Pakistan agree to?", conversation=conv)
    ans = seed_pipeline.ask("and China?", conversation=conv)
    assert ans.question == "and China?" and ans.resolved_question == "What did China agree to?"
    assert ans.to_dict()["resolved_question"] == "What did China agree to?"
    # the follow-up goes through the same decision: China's own demands are not what it agreed to
    for f in shown(ans):
        assert not any(d in f.text or f.text in d for d in DEMANDS), f.text


# --- odd questions ------------------------------------------------------------------------------

@pytest.mark.parametrize("question", [
    "Here is an article I pasted. " * 180 + "So, what did Pakistan agree to?",  # ~5,000 characters
    "What did Pakistan agree to? 🇵🇰🤝🇨🇳",
    "ما الذي وافقت عليه باكستان؟",  # right-to-left
    "שאלה על פקיסטן \u202e?",
    "\x00\x01\x02\xff\xfe PK\x03\x04 \x7fELF ¿½ \ufffd\ufffd",  # binary-looking
    "<script>alert('x')</script><img src=x onerror=alert(1)> What did Pakistan agree to?",
])
def test_any_question_gets_an_answer_not_a_traceback(seed_pipeline, question):
    ans = seed_pipeline.ask(question)
    assert isinstance(ans.answered, bool) and 0.0 <= ans.score <= 1.0
    assert ans.answered or ans.message
    json.dumps(ans.to_dict())


def test_long_question_keeps_its_end(seed_pipeline):
    ans = seed_pipeline.ask("Some pasted text about other things. " * 150 + "Where did last month's bombing happen?")
    assert "Karachi airport" in ans.text


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x00", "🙂🙂", "???"])
def test_questions_with_nothing_to_search_are_refused_clearly(seed_pipeline, question):
    with pytest.raises(ValueError, match="question"):
        seed_pipeline.ask(question)


# --- filters ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def news_pipeline(tmp_path_factory, reader_path):
    """Four short articles: two dated .txt files from a 'reuters' folder, two JSONL records with URLs."""
    from qa.config import Settings
    from qa.answer.pipeline import Pipeline

    root = tmp_path_factory.mktemp("news")
    (root / "corpus" / "reuters").mkdir(parents=True)
    (root / "corpus" / "reuters" / "jan.txt").write_text(
        "Floods hit Lahore\n\n2024-01-05\nHeavy rain flooded Lahore on Friday. "
        "The mayor said 40 homes were damaged by the floods.\n")
    (root / "corpus" / "reuters" / "mar.txt").write_text(
        "Floods return to Lahore\n\n2024-03-10\nHeavy rain flooded Lahore again on Sunday. "
        "The mayor said 75 homes were damaged by the floods.\n")
    records = [
        {"title": "Lahore school damaged in floods", "date": "2024-02-20", "url": "https://www.dawn.com/news/1",
         "text": "Rain flooded Lahore on Tuesday. The mayor said 12 homes and a school were damaged by the floods."},
        {"title": "Undated flood report", "url": "https://example.org/floods",
         "text": "Floods damaged 9 homes in Lahore, the mayor said."},
    ]
    (root / "corpus" / "wire.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    s = Settings.from_env({}).with_overrides(corpus=(root / "corpus",), index_dir=root / "index",
                                             reader_model=reader_path, candidates=1)
    pipe = Pipeline(s)
    assert pipe.index(progress=False).articles == 4
    return pipe


Q_HOMES = "How many homes were damaged by the floods in Lahore?"


def test_filter_controls(news_pipeline):
    assert news_pipeline.sources() == ["dawn.com", "example.org", "reuters"]
    assert news_pipeline.date_range() == ("2024-01-05", "2024-03-10")


def test_filters_restrict_the_articles_searched(news_pipeline):
    retriever = news_pipeline.retriever
    assert retriever.candidates == 1  # one candidate per retriever: filtering must not starve
    passages = retriever.retrieve(Q_HOMES, top_k=5, filters=Filters(since="2024-03-01"))
    assert passages and {p.date for p in passages} == {"2024-03-10"}
    passages = retriever.retrieve(Q_HOMES, top_k=5, filters=Filters(until="2024-02-20"))
    assert passages and {p.date for p in passages} <= {"2024-01-05", "2024-02-20"}
    passages = retriever.retrieve(Q_HOMES, top_k=5, filters=Filters(sources=("DAWN.com",)))
    assert passages and {p.url for p in passages} == {"https://www.dawn.com/news/1"}
    passages = retriever.retrieve(Q_HOMES, top_k=5, filters=Filters(sources=("reuters", "example.org")))
    assert {p.title for p in passages} <= {"Floods hit Lahore", "Floods return to Lahore", "Undated flood report"}
    assert retriever.retrieve(Q_HOMES, top_k=5, filters=Filters()) == retriever.retrieve(Q_HOMES, top_k=5)


def test_ask_with_filters(news_pipeline):
    ans = news_pipeline.ask(Q_HOMES, filters=Filters(since="2024-03-01", until="2024-03-31"))
    assert all(p.date == "2024-03-10" for p in ans.passages)
    assert all(f.citation.date == "2024-03-10" for f in ans.findings)
    assert all(c.source == "reuters/mar.txt" for c in ans.citations)
    none = news_pipeline.ask(Q_HOMES, filters=Filters(since="2030-01-01"))
    assert not none.answered and not none.passages and "filters" in none.message
    url = news_pipeline.ask(Q_HOMES, filters=Filters(sources=("dawn.com",)))
    assert all(c.source == "https://www.dawn.com/news/1" for c in url.citations)


def test_the_sources_list_shows_an_article_by_its_title(seed_pipeline):
    assert seed_pipeline.source_choices() == [(SEED_TITLE, "000_5f212afdc6001fcb.txt")]  # (shown, filter value)
    assert seed_pipeline.sources() == ["000_5f212afdc6001fcb.txt"]


def test_a_refused_question_in_another_language_says_only_english_is_read(seed_pipeline, monkeypatch):
    from qa.text.language import ONLY_ENGLISH
    from qa.answer.reader.read import ReadResult

    # Whatever the reader makes of it, a refusal of a French or Urdu question says why it may have failed.
    monkeypatch.setattr(seed_pipeline.reader, "read",
                        lambda q, passages: ReadResult([], 0.0, 0.0, texts=list(passages), question=q))
    for question in ("Qu'est-ce que le Pakistan a accepté ?", "پاکستان نے کس بات پر اتفاق کیا؟"):
        ans = seed_pipeline.ask(question)
        assert not ans.answered and ans.message.endswith(ONLY_ENGLISH), (question, ans.message)
    ans = seed_pipeline.ask("What is the name of the Chinese foreign ministry spokesperson?")
    assert not ans.answered and ONLY_ENGLISH not in ans.message


DEMANDS = ("allow its own security staff", "formal negotiations for a joint security management system")


def _sentence_of(f, article: str) -> str:
    """The line (a paragraph of one sentence in the seed article) that holds a finding."""
    at = f.citation.passage_start + f.citation.answer_start
    return next(line for line in article.splitlines() if line and article.index(line) <= at < article.index(line) + len(line))


def test_what_pakistan_agreed_to_is_what_the_findings_say_and_beijings_demands_are_not(seed_pipeline, seed_settings):
    """Properties of the answer, not an old model's wording or how many findings it gives: every finding is
    one of the things the article says Pakistan agreed to, and so is the first thing shown (a refusal's
    most confident possible answer); Beijing's demands and the denial are never shown, not as a finding
    and not as a possible answer."""
    from qa.ingest.loader import load_articles

    article = load_articles(seed_settings.corpus).articles[0].text
    ans = seed_pipeline.ask("What did Pakistan agree to?")
    agreed_lines = [line for line in article.splitlines() if "amenable to" in line or "both sides agreed" in line]
    assert len(agreed_lines) == 2
    assert shown(ans), ans.message
    assert _sentence_of(shown(ans)[0], article) in agreed_lines, [f.text for f in shown(ans)]
    for f in ans.findings:  # every finding is one of the agreed things: no demand, denial or proposal
        assert _sentence_of(f, article) in agreed_lines, f.text
    for f in shown(ans):
        assert not any(d in _sentence_of(f, article) for d in DEMANDS), f.text
        assert "not agreed" not in _sentence_of(f, article), f.text
    scores = [f.score for f in shown(ans)]
    assert scores == sorted(scores, reverse=True)