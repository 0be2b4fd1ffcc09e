"""A demand made of the question's subject ("pushing Pakistan to allow …") is not what it agreed to."""

from qa.answer.demands import demanded_in, question_subjects

PUSH = "ISLAMABAD: Beijing is pushing Pakistan to allow its own security staff to protect Chinese citizens."
BEGIN = "China has pushed Pakistan to begin formal negotiations for a joint security management system."
AMENABLE = "Pakistan was amenable to Chinese officials sitting in on security meetings and co-ordination."


def _span(sentence: str, text: str) -> tuple[int, int]:
    a = sentence.index(text)
    return a, a + len(text)


def test_demands_of_the_subject_are_found():
    subjects = question_subjects("What did Pakistan agree to?")
    assert subjects == {"pakistan"}
    assert demanded_in(subjects, PUSH, *_span(PUSH, "allow its own security staff"))
    assert demanded_in(subjects, BEGIN, *_span(BEGIN, "formal negotiations for a joint security management system"))


def test_what_the_subject_did_and_other_subjects_are_kept():
    subjects = question_subjects("What did Pakistan agree to?")
    assert not demanded_in(subjects, AMENABLE, *_span(AMENABLE, "Chinese officials sitting in on security meetings"))
    # The demand is made of Pakistan: asked about China, the same span is not China's demand of China.
    assert not demanded_in(question_subjects("What did China want?"), PUSH, *_span(PUSH, "allow its own security staff"))
    # The whole clause after "pushing Pakistan to" is the demand; after a comma the sentence moves on.
    assert demanded_in(subjects, PUSH, *_span(PUSH, "protect Chinese citizens"))
    later = PUSH.rstrip(".") + ", following a recent attack on engineers."
    assert not demanded_in(subjects, later, *_span(later, "a recent attack on engineers"))


def test_questions_about_demands_or_without_a_subject_keep_every_span():
    assert question_subjects("What is Beijing pushing Pakistan to do?") == set()
    assert question_subjects("what was agreed?") == set()
    assert not demanded_in(set(), PUSH, *_span(PUSH, "allow its own security staff"))
