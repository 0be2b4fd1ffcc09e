"""A denial is never an answer: the negation rule on hand-written sentences, both directions."""

import pytest

from qa.answer.rules.negation import QuestionPredicate, denies

AGREE = "What did Pakistan agree to?"
STEP = ("`They (Chinese) want to bring in their own security,` said one official, who sat in on a recent "
        "meeting, adding that Pakistan had not agreed to such a step so far.")


def denied(question: str, sentence: str, span: str) -> bool:
    a = sentence.index(span)
    return denies(question, sentence, a, a + len(span))


@pytest.mark.parametrize("sentence, span", [
    (STEP, "not agreed to such a step"),  # the span itself begins with a negation
    (STEP, "bring in their own security"),  # what Pakistan has not agreed to
    ("But there was no agreement on their participating in security arrangements on the ground.",
     "their participating in security arrangements on the ground"),  # a noun form of the verb
    ("Pakistan never formally agreed to the plan.", "the plan"),
    ("Pakistan did not agree to the plan.", "the plan"),
    ("Pakistan didn't agree to the plan.", "the plan"),
    ("Pakistan declined to agree to the plan.", "the plan"),
    ("Pakistan refused to agree to the plan.", "the plan"),
    ("Pakistan failed to reach an agreement on the plan.", "the plan"),
    ("Pakistan agreed to a ceasefire but did not agree to talks.", "talks"),
])
def test_denials_of_the_question_are_caught(sentence, span):
    assert denied(AGREE, sentence, span)


@pytest.mark.parametrize("sentence, span", [
    ("In a statement last week, Pakistan`s interior ministry said both sides agreed to develop a joint "
     "strategy to prevent similar incidents in the future.", "develop a joint strategy"),
    ("The source said there was a consensus on setting up a joint security management system.",
     "a joint security management system"),  # no form of "agree": nothing to deny
    ("Pakistan agreed to a ceasefire but did not agree to talks.", "a ceasefire"),  # the nearer verb is positive
    ("Pakistan not only agreed to the plan but funded it.", "the plan"),
    ("A spokesman said it was not familiar with the agreement.", "A spokesman"),  # "not" is too far off
])
def test_affirmations_are_kept(sentence, span):
    assert not denied(AGREE, sentence, span)


def test_other_verbs_and_subject_negation():
    assert denied("Who responded to requests for comment?",
                  "The interior and planning ministries did not respond to repeated requests for comment.",
                  "The interior and planning ministries")
    assert denied("Who commented?", "Inter-Services Public Relations declined to comment.",
                  "Inter-Services Public Relations")
    assert denied("Who confirmed the talks?", "Neither Beijing nor Islamabad have confirmed the talks officially.",
                  "Beijing")
    assert not denied("Where did the bombing happen?",
                      "Last month`s bombing near Karachi airport targeted two Chinese engineers.", "Karachi airport")
    # What someone *said* may be a negative statement; it still answers "what did they say".
    assert not denied("What did the spokesman say?",
                      "A spokesman said it was not familiar with talks on a joint security scheme.",
                      "it was not familiar with talks")


def test_negative_questions_are_answered_from_negative_sentences():
    sentence = "The interior and planning ministries did not respond to repeated requests for comment."
    q = "Which ministries did not respond to requests for comment?"
    assert QuestionPredicate.of(q).negative
    assert not denied(q, sentence, "The interior and planning ministries")
    assert not denied("Why didn't Pakistan agree?", STEP, "bring in their own security")
    assert not denied("What did Pakistan refuse?", STEP, "not agreed to such a step")


def test_question_terms_skip_names_and_function_words():
    p = QuestionPredicate.of(AGREE)
    assert p.terms == {"agre"} and not p.negative
    assert QuestionPredicate.of("Who did the bombing target?").terms == {"bomb", "target"}


def test_no_before_a_number_and_a_span_starting_with_without_are_not_denials():
    q = "Where did the prime minister meet the envoy?"
    s = "The prime minister met the envoy at No. 10 Downing Street on Monday."
    a = s.index("No. 10 Downing Street")
    assert not denies(q, s, a, a + len("No. 10 Downing Street"))
    q = "How did the delegation travel to Beijing?"
    s = "The delegation travelled to Beijing without a visa, officials said."
    a = s.index("without a visa")
    assert not denies(q, s, a, a + len("without a visa"))
    # "without" still negates the verb it governs
    q = "What did the talks agree on?"
    s = "The talks ended without agreeing on a ceasefire."
    a = s.index("a ceasefire")
    assert denies(q, s, a, a + len("a ceasefire"))
