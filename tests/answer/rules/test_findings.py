"""Which reader spans may be findings, and how the decision orders and cuts them by the confidence shown
(no model: hand-made spans and a calibrator whose confidence is set per span)."""

import dataclasses

import pytest

from qa.answer.confidence.calibrate import FEATURES, Calibrator
from qa.answer.decide import decide
from qa.answer.reader.decode import SpanCandidate
from qa.answer.rules.findings import DecisionRules, locate, one_per_sentence, screen
from qa.answer.reader.read import ReadResult
from qa.types import Chunk, Passage

QUESTION = "What did Pakistan agree to?"
A_TEXT = ("Pakistan agreed to a joint strategy against attacks. It also agreed to share intelligence with "
          "China. But Pakistan had not agreed to foreign troops. Officials met in Islamabad on Monday.")
B_TEXT = "Pakistan agreed to buy two new frigates. The deal was signed in Karachi."
C_TEXT = "Pakistan agreed to extend the ceasefire. Talks will resume next week."


def passage(aid: str, text: str, date: str | None) -> Passage:
    return Passage(chunk=Chunk(f"{aid}:0", aid, 0, text, 0, len(text)), title=f"Pakistan agrees {aid}", date=date,
                   source=f"/corpus/{aid}.txt")


PASSAGES = [passage("A", A_TEXT, "2024-11-13"), passage("B", B_TEXT, "2024-12-01"), passage("C", C_TEXT, None)]


def span(p: int, words: str, margin: float, passages=PASSAGES) -> SpanCandidate:
    text = passages[p].chunk.text
    a = text.index(words)
    return SpanCandidate(p, a, a + len(words), margin, 0.0)  # null score 0: score is the margin


def calibrator(confidence: dict[float, float], answer=0.5, further=0.3, possible=0.1) -> Calibrator:
    """A calibrator whose probability is read off the margin feature: ``confidence[margin]``."""
    cal = Calibrator(list(FEATURES), [0.0] * len(FEATURES), [1.0] * len(FEATURES), [0.0] * len(FEATURES), 0.0,
                     cutoff=answer, further_cutoff=further, possible_cutoff=possible)
    object.__setattr__(cal, "probability", lambda x: [confidence[round(x[0], 3)]])
    return cal


def answer(cands, confidence, rules=DecisionRules(), prefer=None, passages=PASSAGES, **cut):
    result = ReadResult(sorted(cands, key=lambda c: -c.score), 0.0, 0.0, texts=[p.chunk.text for p in passages],
                        question=QUESTION, calibrator=calibrator(confidence, **cut))
    return decide(QUESTION, passages, result, rules, prefer_article=prefer)


def test_denials_and_demands_are_set_apart_and_one_span_per_sentence():
    spans = locate(PASSAGES, [span(0, "foreign troops", 5.0), span(0, "a joint strategy against attacks", 4.0),
                              span(0, "joint strategy", 3.9), span(0, "share intelligence with China", 3.5)], 0.0)
    screened = screen(spans, PASSAGES, QUESTION)
    assert [s.margin for s in screened.denied] == [5.0]
    best, rest = one_per_sentence(screened.kept)
    assert [s.margin for s in best] == [4.0, 3.5] and [s.margin for s in rest] == [3.9]
    assert screen(spans, PASSAGES, QUESTION, DecisionRules(denial=False)).denied == []


def test_the_first_finding_is_the_most_confident_whatever_the_reader_ranked_first():
    cands = [span(0, "a joint strategy against attacks", 6.0), span(1, "buy two new frigates", 5.0),
             span(2, "extend the ceasefire", 4.0)]
    ans = answer(cands, {6.0: 0.55, 5.0: 0.9, 4.0: 0.7})
    assert [f.text for f in ans.findings] == ["buy two new frigates", "extend the ceasefire",
                                              "a joint strategy against attacks"]
    assert ans.text == "buy two new frigates" and ans.score == 0.9
    scores = [f.score for f in ans.findings]
    assert scores == sorted(scores, reverse=True)


def test_further_findings_need_their_own_bar_and_the_first_the_answer_cut_off():
    cands = [span(0, "a joint strategy against attacks", 6.0), span(0, "share intelligence with China", 5.0),
             span(1, "buy two new frigates", 4.0)]
    ans = answer(cands, {6.0: 0.8, 5.0: 0.25, 4.0: 0.45}, answer=0.5, further=0.3)
    assert [f.text for f in ans.findings] == ["a joint strategy against attacks", "buy two new frigates"]
    assert all(f.score >= 0.3 for f in ans.findings[1:]) and ans.findings[0].score >= ans.cutoff
    assert [a["text"] for a in ans.alternatives] == ["share intelligence with China"]
    off = answer(cands, {6.0: 0.8, 5.0: 0.25, 4.0: 0.45}, DecisionRules(further=False))
    assert [f.text for f in off.findings] == ["a joint strategy against attacks"]


def test_below_the_cut_off_the_question_is_refused_with_possible_answers_marked_most_confident_first():
    cands = [span(0, "a joint strategy against attacks", 6.0), span(1, "buy two new frigates", 5.0),
             span(2, "extend the ceasefire", 4.0)]
    ans = answer(cands, {6.0: 0.2, 5.0: 0.4, 4.0: 0.05}, answer=0.6, possible=0.1)
    assert not ans.answered and ans.findings == [] and ans.cutoff == 0.6
    assert [(f.text, f.kind) for f in ans.possible] == [("buy two new frigates", "possible"),
                                                        ("a joint strategy against attacks", "possible")]
    assert ans.score == 0.4  # the confidence of the best span turned down
    none = answer(cands, {6.0: 0.05, 5.0: 0.04, 4.0: 0.03}, answer=0.6, possible=0.1)
    assert none.possible == [] and len(none.citations) == 3  # the closest passages instead


def test_a_configured_cut_off_replaces_the_fitted_one():
    cands = [span(0, "a joint strategy against attacks", 6.0)]
    assert answer(cands, {6.0: 0.55}).answered
    assert not answer(cands, {6.0: 0.55}, DecisionRules(answer_cutoff=0.7)).answered


def test_ties_prefer_the_article_of_the_previous_answer_and_findings_are_capped():
    tie = [span(0, "a joint strategy against attacks", 5.0), span(1, "buy two new frigates", 4.0)]
    assert answer(tie, {5.0: 0.7, 4.0: 0.7}, prefer="B").text == "buy two new frigates"
    assert answer(tie, {5.0: 0.7, 4.0: 0.7}, prefer="A").text == "a joint strategy against attacks"
    many = [span(0, "a joint strategy against attacks", 5.0), span(0, "share intelligence with China", 4.9),
            span(0, "Islamabad", 4.8), span(1, "buy two new frigates", 4.7), span(2, "extend the ceasefire", 4.5)]
    ans = answer(many, {m: 0.9 for m in (5.0, 4.9, 4.8, 4.7, 4.5)}, DecisionRules(max_findings=3))
    assert len(ans.findings) == 3


def test_an_article_about_something_else_contributes_no_finding():
    """"When will the Greyfield library close?" takes no "January" from a bridge article."""
    lib = "The Greyfield library will close on 12 May for repairs."
    bridge = "The Mill Lane bridge has been closed to lorries since January."
    ps = [passage("L", lib, "2024-04-29"), passage("M", bridge, "2024-04-22")]
    q = "When will the Greyfield library close?"

    def ask(rules=DecisionRules()):
        cands = [span(0, "12 May", 9.0, ps), span(1, "January", 8.5, ps)]
        result = ReadResult(cands, 0.0, 0.0, texts=[p.chunk.text for p in ps], question=q,
                            calibrator=calibrator({9.0: 0.9, 8.5: 0.8}))
        return [f.citation.article_id for f in decide(q, ps, result, rules).findings]

    assert ask() == ["L"]
    assert ask(DecisionRules(same_topic=False)) == ["L", "M"]  # the rule is what drops it
    ps[1] = passage("M", "The Greyfield library was last closed in January, for a week.", "2024-01-10")
    assert ask() == ["L", "M"]  # an article about the same thing still contributes


def test_a_reader_without_calibration_shows_its_own_probability_and_says_so():
    cands = [span(0, "a joint strategy against attacks", 2.0), span(1, "buy two new frigates", -1.0)]
    result = ReadResult(cands, 0.0, 0.0, texts=[p.chunk.text for p in PASSAGES], question=QUESTION)
    ans = decide(QUESTION, PASSAGES, result)
    assert not ans.calibrated and ans.cutoff == 0.5
    assert [f.text for f in ans.findings] == ["a joint strategy against attacks"]
    assert ans.score == pytest.approx(1 / (1 + 2.718281828 ** -2.0), rel=1e-4)
    cal = dataclasses.replace(result, calibrator=calibrator({2.0: 0.9, -1.0: 0.1}))
    assert decide(QUESTION, PASSAGES, cal).calibrated


def test_a_small_wrong_number_near_the_right_one_is_not_shown_first_when_it_is_less_confident():
    """"How many Afghan police officers were killed?": the reader may rank "7,000" (the force's size)
    above "10" (the dead). The sentence of "10" holds what is asked (killed, bomb), that of "7,000" does
    not; a calibration that weighs that puts "10" first, whatever the reader's own order."""
    q = "How many Afghan police officers were killed in the roadside bomb attack?"
    text = ("A roadside bomb attack killed 10 Afghan police officers on Sunday. "
            "The province has about 7,000 police officers, the governor said.")
    ps = [passage("K", text, "2009-08-02")]
    cands = [span(0, "7,000", 6.0, ps), span(0, "10", 5.0, ps)]
    weights = [0.0] * len(FEATURES)
    weights[FEATURES.index("predicate_sentence")] = 3.0
    cal = Calibrator(list(FEATURES), [0.0] * len(FEATURES), [1.0] * len(FEATURES), weights, -1.0, cutoff=0.5,
                     further_cutoff=0.9, possible_cutoff=0.0)
    result = ReadResult(cands, 0.0, 0.0, texts=[text], question=q, calibrator=cal)
    ans = decide(q, ps, result)
    assert ans.answered and ans.text == "10", (ans.text, ans.score)
    assert [a["text"] for a in ans.alternatives] == ["7,000"] and ans.alternatives[0]["score"] < ans.score
