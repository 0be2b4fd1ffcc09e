"""Follow-up questions resolved against the previous turn, without a language model."""

from types import SimpleNamespace

from qa.answer.conversation import Conversation, key_terms, leans_on_previous

BOMBING = "Where did last month's bombing happen?"
AGREE = "What did Pakistan agree to?"


def answered(text: str, article_id: str):
    cite = SimpleNamespace(article_id=article_id)
    return SimpleNamespace(answered=True, text=text, citations=[cite])


def talk(*turns: tuple[str, str]) -> Conversation:
    conv = Conversation()
    for question, answer in turns:
        conv.remember(question, conv.resolve(question), answered(answer, "art-1"))
    return conv


def test_first_question_is_taken_as_asked():
    r = Conversation().resolve("  Who did it target? ")
    assert r.text == r.query == "Who did it target?" and not r.is_follow_up and r.prefer_article is None


def test_pronoun_and_there_follow_ups_expand_retrieval_with_the_topic():
    conv = talk((BOMBING, "Karachi airport"))
    for q in ("Who was targeted there?", "Who did it target?"):
        r = conv.resolve(q)
        assert r.is_follow_up and r.text == q  # the question is read as asked
        assert "bombing" in r.query and r.query.startswith(q)
        assert r.prefer_article == "art-1" and r.follows == BOMBING
    assert "Karachi airport" in conv.resolve("Who was targeted there?").query  # "there" points at the answer


def test_ellipsis_swaps_the_name():
    conv = talk((AGREE, "a joint security management system"))
    r = conv.resolve("and China?")
    assert r.text == "What did China agree to?" and r.is_follow_up
    assert "Pakistan" not in r.query
    assert conv.resolve("What about India?").text == "What did India agree to?"
    turn = conv.remember("and China?", r, answered("x", "art-2"))
    assert "Pakistan" not in turn.key_terms and "China" in turn.key_terms and turn.article_id == "art-2"


def test_ellipsis_without_a_name_swaps_the_subject_of_a_do_question():
    conv = talk((BOMBING, "Karachi airport"))
    assert conv.resolve("and the Quetta attack?").text == "Where did the Quetta attack happen?"


def test_bare_question_word_reuses_the_previous_question():
    conv = talk((BOMBING, "Karachi airport"))
    assert conv.resolve("When?").text == "When did last month's bombing happen?"
    assert talk((AGREE, "x")).resolve("Why?").text == "Why did Pakistan agree?"
    assert talk((AGREE, "x")).resolve("What else?").text == AGREE


def test_new_topics_are_not_follow_ups():
    conv = talk((AGREE, "x"))
    for q in ("Is there a deal with India?", "Who is Imran Khan?", "Where did last month's bombing happen?",
              "What did the report say that China wants?"):
        assert not conv.resolve(q).is_follow_up, q


def test_leaning_and_key_terms():
    assert leans_on_previous("What happened then?") and leans_on_previous("Who won?")
    assert leans_on_previous("What did they sign?") and leans_on_previous("Why did that attack happen?")
    assert not leans_on_previous("Is there a deal?") and not leans_on_previous("Who is Imran Khan?")
    assert key_terms(BOMBING) == ["month", "bombing"]
    assert key_terms("What did Pakistan`s interior ministry say?") == ["Pakistan", "interior", "ministry", "say"]


def test_terms_carry_over_a_chain_of_follow_ups_and_turns_are_capped():
    conv = talk((BOMBING, "Karachi airport"), ("Who did it target?", "two Chinese engineers"))
    assert "bombing" in conv.last.key_terms and "target" in conv.last.key_terms
    assert "bombing" in conv.resolve("Why?").query or conv.resolve("Why?").text.startswith("Why did")
    conv = Conversation(max_turns=3)
    for i in range(5):
        conv.remember(f"Question {i}?", conv.resolve(f"Question {i}?"))
    assert len(conv.turns) == 3
    conv.reset()
    assert conv.last is None
