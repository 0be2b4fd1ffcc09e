"""End-to-end confidence: features of retrieval and reading together, and the decision it drives."""

import numpy as np
import pytest

from qa.answer.confidence.calibrate import FEATURES, Calibrator, answer_features
from qa.text.normalize import normalize_words
from qa.answer.decide import decide
from qa.answer.reader.decode import SpanCandidate
from qa.answer.rules.findings import DecisionRules
from qa.answer.reader.read import ReadResult
from qa.types import Chunk, Passage

LIBRARY = "Greyfield library closes. The Greyfield library will close on 12 May for repairs."
BRIDGE = "The bridge repairs start in September. Two of its supports were damaged."
QUESTION = "When will the Greyfield library close?"


def _passages():
    return [
        Passage(Chunk("lib:0", "lib", 0, LIBRARY, 0, len(LIBRARY)), "Greyfield library to close", "2024-05-01", "l.txt",
                score=0.03, dense_rank=1, lexical_rank=1),
        Passage(Chunk("br:0", "br", 0, BRIDGE, 0, len(BRIDGE)), "Bridge repairs", "2024-04-01", "b.txt",
                score=0.01, dense_rank=2, lexical_rank=None),
    ]


def _feat(passage, span, margin, others):
    ps = _passages()
    text = ps[passage].chunk.text
    a = text.index(span)
    return dict(zip(FEATURES, answer_features(QUESTION, ps, passage, a, a + len(span), margin, others)))


def test_features_see_the_article_topic_retrieval_and_agreement():
    others = [(0, "12 May", 5.0), (1, "September", 4.0)]
    lib = _feat(0, "12 May", 5.0, others)
    bridge = _feat(1, "September", 4.0, others)
    assert lib["article_share"] == 1.0 and bridge["article_share"] < 0.5  # the bridge article is about something else
    assert lib["passage_rank_rr"] == 1.0 and bridge["passage_rank_rr"] == 0.5
    assert bridge["lexical_rr"] == 0.0 and lib["lexical_rr"] == 1.0
    assert lib["other_article_gap"] == 1.0 and bridge["other_article_gap"] == -1.0
    assert lib["agreement"] == 0.0
    agree = _feat(0, "12 May", 5.0, [(0, "12 May", 5.0), (1, "on 12 May", 3.0)])
    assert agree["agreement"] == 1.0
    assert normalize_words("The 12 May, a date!") == ["12", "may", "date"]


def _result(cands):
    return ReadResult(cands, null_score=0.0, threshold=0.0, texts=[LIBRARY, BRIDGE], question=QUESTION)


def test_every_finding_must_clear_the_calibrated_bar():
    lib_a = LIBRARY.index("12 May")
    br_a = BRIDGE.index("September")
    cands = [SpanCandidate(0, lib_a, lib_a + 6, 5.0, 0.0), SpanCandidate(1, br_a, br_a + 9, 4.5, 0.0)]
    rules = DecisionRules(same_topic=False)  # the calibrated bar alone, without the topic rule
    # A calibrator that trusts only articles about the question's topic keeps the library's date alone.
    weights = [0.0] * len(FEATURES)
    weights[FEATURES.index("article_share")] = 10.0
    cal = Calibrator(list(FEATURES), [0.0] * len(FEATURES), [1.0] * len(FEATURES), weights, -6.0, cutoff=0.5,
                     further_cutoff=0.5)
    res = _result(cands)
    res.calibrator = cal
    ans = decide(QUESTION, _passages(), res, rules)
    assert [f.text for f in ans.findings] == ["12 May"] and ans.score == pytest.approx(1 / (1 + np.exp(-4.0)))
    from qa.answer.decide import merge_in_articles, span_features
    from qa.answer.rules.findings import locate

    spans = locate(_passages(), merge_in_articles(_passages(), res), res.null_score)
    assert len(span_features(QUESTION, _passages(), res, spans, spans[0])) == len(FEATURES)
    assert ans.alternatives[0]["text"] == "September" and ans.alternatives[0]["score"] < 0.5
    # When the first span fails the bar too, the question is refused; the best span is a possible answer.
    cal.cutoff = 0.99
    refused = decide(QUESTION, _passages(), res, rules)
    assert not refused.answered and refused.possible[0].text == "12 May"


def test_the_features_see_a_question_whose_verb_the_sentence_does_not_use():
    """"How many Chinese engineers were killed?" read in "targeted two Chinese engineers": the number is
    there, the killing is not; an article that says "killed two" holds every predicate term."""
    q = "How many Chinese engineers were killed in the attack?"
    targeted = "The attack targeted two Chinese engineers near the airport."
    killed = "The attack killed two Chinese engineers near the airport."
    rows = []
    for text in (targeted, killed):
        ps = [Passage(Chunk("a:0", "a", 0, text, 0, len(text)), "Airport attack", None, "a.txt", score=0.03,
                      dense_rank=1, lexical_rank=1)]
        a = text.index("two")
        rows.append(dict(zip(FEATURES, answer_features(q, ps, 0, a, a + 3, 5.0, [(0, "two", 5.0)]))))
    assert rows[0]["predicate_sentence"] < rows[1]["predicate_sentence"] == 1.0
    assert rows[0]["predicate_passage"] < 1.0


def test_calibrator_round_trips_beside_the_reader(tmp_path):
    x = np.random.default_rng(0).normal(size=(200, len(FEATURES)))
    y = (x[:, FEATURES.index("article_share")] > 0).astype(int)
    from qa.answer.confidence.verify import fit

    model = fit(x, y, model=Calibrator)
    model.cutoff = 0.4
    model.save(tmp_path)
    assert (tmp_path / "calibration.json").exists() and not (tmp_path / "verifier.json").exists()
    again = Calibrator.load(tmp_path)
    assert again.cutoff == 0.4 and np.allclose(again.probability(x[:5]), model.probability(x[:5]))
    assert model.coef[FEATURES.index("article_share")] > 1.0


def test_isotonic_map_stops_the_top_scores_overclaiming(tmp_path):
    """Right answers level off at 70% however large the margin: the logistic fit alone claims more at the
    top; with the isotonic map (learnt out of fold, by article) it says about what it delivers, and it
    round-trips beside the reader."""
    from qa.answer.confidence.verify import fit, fit_isotonic

    rng = np.random.default_rng(1)
    n = 4000
    x = rng.normal(size=(n, len(FEATURES)))
    margin = x[:, FEATURES.index("margin")] * 4
    x[:, FEATURES.index("margin")] = margin
    p_right = np.where(margin > 0, 0.7, 0.7 / (1 + np.exp(-margin)))
    y = (rng.random(n) < p_right).astype(int)
    groups = np.arange(n) // 40  # 100 "articles"
    top = margin > 6
    plain = fit(x, y, model=Calibrator)
    mapped = fit_isotonic(x, y, groups, model=Calibrator)
    assert plain.probability(x[top]).mean() > 0.8  # a linear model keeps rising
    assert abs(mapped.probability(x[top]).mean() - y[top].mean()) < 0.08
    assert mapped.isotonic_x and all(b >= a for a, b in zip(mapped.isotonic_y, mapped.isotonic_y[1:]))
    mapped.save(tmp_path)
    again = Calibrator.load(tmp_path)
    assert np.allclose(again.probability(x[:20]), mapped.probability(x[:20]))
    # A set with a single article has nothing out of fold to learn the map from: the plain fit.
    assert not fit_isotonic(x[:40], y[:40], np.zeros(40), model=Calibrator).isotonic_x
