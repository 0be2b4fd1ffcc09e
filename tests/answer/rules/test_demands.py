"""What someone asks another to do ("pushing Pakistan to allow …") is not what was agreed, whoever asks."""

from qa.answer.rules.demands import asks_about_directive, demanded_in

PUSH = "ISLAMABAD: Beijing is pushing Pakistan to allow its own security staff to protect Chinese citizens."
BEGIN = "China has pushed Pakistan to begin formal negotiations for a joint security management system."
AMENABLE = "Pakistan was amenable to Chinese officials sitting in on security meetings and co-ordination."
GRANTED = "India urged Pakistan to release the fishermen, and Pakistan agreed."
REFUSED = "India urged Pakistan to release the fishermen, which Pakistan has not agreed to."
AGREED = "What did Pakistan agree to?"


def _span(sentence: str, text: str) -> tuple[int, int]:
    a = sentence.index(text)
    return a, a + len(text)


def test_demands_made_of_the_subject_are_found():
    assert demanded_in(AGREED, PUSH, *_span(PUSH, "allow its own security staff"))
    assert demanded_in(AGREED, BEGIN, *_span(BEGIN, "formal negotiations for a joint security management system"))
    # The whole clause after "pushing Pakistan to" is the demand; after a comma the sentence moves on.
    assert demanded_in(AGREED, PUSH, *_span(PUSH, "protect Chinese citizens"))
    later = PUSH.rstrip(".") + ", following a recent attack on engineers."
    assert not demanded_in(AGREED, later, *_span(later, "a recent attack on engineers"))


def test_a_follow_up_whose_subject_makes_the_demand_gets_no_demand_either():
    # "And China?" after "What did Pakistan agree to?" reads "What did China agree to?": Beijing's
    # demands are what China wants, not what it agreed to.
    asked = "What did China agree to?"
    assert demanded_in(asked, PUSH, *_span(PUSH, "allow its own security staff"))
    assert demanded_in(asked, BEGIN, *_span(BEGIN, "formal negotiations for a joint security management system"))


def test_what_the_subject_did_is_kept():
    assert not demanded_in(AGREED, AMENABLE, *_span(AMENABLE, "Chinese officials sitting in on security meetings"))


def test_a_demand_the_sentence_says_was_agreed_is_kept_and_one_refused_is_not():
    assert not demanded_in(AGREED, GRANTED, *_span(GRANTED, "release the fishermen"))
    assert demanded_in(AGREED, REFUSED, *_span(REFUSED, "release the fishermen"))


def test_questions_about_demands_keep_every_span():
    assert asks_about_directive("What is Beijing pushing Pakistan to do?")
    assert not asks_about_directive(AGREED)
    assert not demanded_in("What is Beijing pushing Pakistan to do?", PUSH, *_span(PUSH, "allow its own security staff"))
    # a directive's own infinitive is not a demand made of another ("wants to expand")
    own = "The company wants to expand its fleet."
    assert not demanded_in("What does the company plan?", own, *_span(own, "expand its fleet"))
