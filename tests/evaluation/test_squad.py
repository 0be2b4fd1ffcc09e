"""The official SQuAD 2.0 metric definitions and the no-answer threshold search."""

import json

import pytest

from qa.evaluation.squad import best_threshold, evaluate_at, load_squad, max_over_golds, squad_metrics
from qa.text.normalize import normalize_answer


def test_normalisation_follows_the_official_script():
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("an apple, a pear") == "apple pear"


def test_em_f1_max_over_golds():
    assert max_over_golds("Denver Broncos", ["Broncos", "the Denver Broncos"]) == (1, 1.0)
    em, f1 = max_over_golds("the Broncos team", ["Denver Broncos"])
    assert em == 0 and f1 == pytest.approx(2 * 0.5 * 0.5 / 1.0)  # p=1/2, r=1/2
    # unanswerable: only an empty prediction scores
    assert max_over_golds("", []) == (1, 1.0)
    assert max_over_golds("something", []) == (0, 0.0)


def test_squad_metrics_breakdown():
    preds = {"a": "Denver Broncos", "b": "", "c": "", "d": "x"}
    gold = {"a": ["Denver Broncos"], "b": ["Carolina"], "c": [], "d": []}
    m = squad_metrics(preds, gold)
    assert m["exact"] == pytest.approx(50.0)  # a and c right
    assert m["HasAns_f1"] == pytest.approx(50.0)
    assert m["NoAns_accuracy"] == pytest.approx(50.0)
    assert (m["HasAns_total"], m["NoAns_total"]) == (2, 2)


def test_best_threshold_maximises_f1():
    texts = {"a": "Denver Broncos", "b": "wrong", "c": "junk"}
    margins = {"a": 5.0, "b": 1.0, "c": -2.0}
    gold = {"a": ["Denver Broncos"], "b": [], "c": []}
    thresh, f1 = best_threshold(texts, margins, gold)
    assert 1.0 <= thresh < 5.0  # answer a, refuse b and c
    assert f1 == pytest.approx(100.0)
    assert evaluate_at(texts, margins, gold, thresh)["f1"] == pytest.approx(f1)


def test_load_squad_v1_and_v2(tmp_path):
    doc = {"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"context": "Paris is in France.", "qas": [
        {"id": "1", "question": "Where is Paris?", "answers": [{"text": "France", "answer_start": 12}]},
        {"id": "2", "question": "Where is Rome?", "answers": [], "is_impossible": True}]}]}]}
    p = tmp_path / "s.json"
    p.write_text(json.dumps(doc))
    ex = load_squad(p)
    assert [e.id for e in ex] == ["1", "2"]
    assert ex[0].context[ex[0].answer_starts[0]:].startswith("France")
    assert not ex[0].is_impossible and ex[1].is_impossible
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a SQuAD file"):
        load_squad(bad)
