"""Yes/no questions get evidence (the sentences that bear on them, denials marked), never a span."""

import pytest

from qa.answer.pipeline import PASTE_CHARS, asked_part
from qa.answer.rules.polar import evidence, is_polar
from qa.text.excerpt import best_sentence
from qa.text.terms import key_stems
from qa.types import Chunk, Passage

STAFF = "Did Pakistan agree to let Chinese security staff in?"
TEXT = ("Beijing is pushing Pakistan to allow its own security staff to protect Chinese citizens. "
        "Officials met in Islamabad on Monday. "
        "One official said Pakistan had not agreed to such a step so far, citing its own security staff.")


def _passage(text: str, article: str = "a1", start: int = 0) -> Passage:
    return Passage(Chunk(f"{article}:0", article, 0, text, start, start + len(text)), "T", None, "s.txt")


def test_polar_questions_are_told_by_their_first_word():
    for q in (STAFF, "Is there a deal?", "And has China replied?", "was it signed", "Can Pakistan refuse?"):
        assert is_polar(q), q
    for q in ("What did Pakistan agree to?", "Who is Imran Khan?", "Where was it signed?", "Did?", "Pakistan?"):
        assert not is_polar(q), q


def test_a_wh_question_behind_a_polite_opening_or_a_choice_of_names_is_not_yes_or_no():
    assert not is_polar("Can you tell me who won the election?")
    assert not is_polar("Does anyone know when the new library opens?")
    assert not is_polar("Do you know what Pakistan agreed to?")
    assert not is_polar("Was it Khan or Sharif who resigned?")
    assert not is_polar("Was it in 2019 or 2020?")
    assert is_polar("Was the deal signed or not?")
    assert is_polar("Can Pakistan protect the engineers?")


def test_evidence_holds_the_sentences_with_the_key_terms_and_marks_the_denial():
    assert key_stems(STAFF)[:3] == ["pakistan", "agre", "let"]
    found = evidence(STAFF, [_passage(TEXT)])
    sentences = [TEXT[e.start:e.end] for e in found]
    assert any("had not agreed" in s for s in sentences)
    assert "Officials met in Islamabad on Monday." not in sentences  # shares no key term
    denial = next(e for e in found if "had not agreed" in TEXT[e.start:e.end])
    assert denial.denies
    pushing = next(e for e in found if "pushing" in TEXT[e.start:e.end])
    assert not pushing.denies
    assert {TEXT[a:b] for a, b in denial.terms} >= {"Pakistan", "agreed", "security", "staff"}
    assert found == sorted(found, key=lambda e: -e.share)


def test_a_sentence_is_shown_once_even_from_two_overlapping_chunks():
    first, second = _passage(TEXT, start=0), _passage(TEXT, start=0)
    found = evidence(STAFF, [first, second])
    assert len({(e.start, e.end) for e in found}) == len(found) and all(e.passage == 0 for e in found)


def test_refusals_keep_the_best_matching_sentence_in_view():
    a, b = best_sentence("When did officials meet in Islamabad?", TEXT)
    assert TEXT[a:b] == "Officials met in Islamabad on Monday."
    assert best_sentence("Who won the cup?", TEXT) is None


def test_a_long_paste_is_asked_by_its_last_question():
    article = "Officials met in Islamabad. They talked for hours about it. " * 20
    assert len(article) > PASTE_CHARS
    assert asked_part(article + "So what did they agree to? Thanks.") == "So what did they agree to?"
    assert asked_part(article + "Summarise it") == "Summarise it"
    assert asked_part("What did they agree to?") == "What did they agree to?"


@pytest.mark.slow
def test_the_seed_polar_question_shows_the_denial_and_claims_no_span(seed_pipeline):
    ans = seed_pipeline.ask(STAFF)
    assert ans.kind == "evidence" and ans.text == "" and ans.answered
    assert ans.findings and all(f.kind == "evidence" for f in ans.findings)
    denial = [f for f in ans.findings if "had not agreed to such a step" in f.text]
    assert denial and denial[0].denies
    d = ans.to_dict()
    assert d["answer"] == "" and d["findings"][0]["kind"] == "evidence" and "denies" in d["findings"][0]


@pytest.mark.slow
def test_a_pasted_article_is_never_a_follow_up(seed_pipeline):
    from qa.answer.followups.conversation import Conversation

    conv = Conversation()
    seed_pipeline.ask("What did Pakistan agree to?", conversation=conv)
    pasted = ("They met again and talked about it at length. " * 12) + "What did Beijing want?"
    ans = seed_pipeline.ask(pasted, conversation=conv)
    assert ans.follows is None and ans.resolved_question == "What did Beijing want?"


@pytest.mark.slow
def test_chat_and_cli_show_evidence_as_sentences_with_denials_marked_and_no_confidence(seed_pipeline):
    from qa.app.render import render
    from qa.app.cli import format_answer

    ans = seed_pipeline.ask(STAFF)
    html = render(ans)
    assert "Says it did not happen" in html and "<mark class='qa-term'>" in html and "confidence" not in html
    text = format_answer(ans)
    assert "[says it did not happen]" in text and "had not agreed to such a step" in text
    assert "confidence" not in text


@pytest.mark.slow
def test_a_refusal_names_the_active_filters(seed_pipeline):
    from qa.answer.decide import filter_note
    from qa.types import Filters

    ans = seed_pipeline.ask("Did the football team win the cup?", filters=Filters(since="2020-01-01"))
    assert not ans.answered and ans.message.endswith("Only articles dated 2020-01-01 to … were searched.")
    assert filter_note(Filters(sources=("dawn",), until="2024-12-31")) == (
        "Only articles dated … to 2024-12-31 and from dawn were searched.")
