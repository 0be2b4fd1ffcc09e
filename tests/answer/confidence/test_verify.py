"""The answer verifier: features a person can check, a calibrated fit, storage, and the reader's decision."""

import json

import numpy as np
import pytest

from qa.answer.reader.decode import SpanCandidate
from qa.answer.reader.read import ReadResult
from qa.answer.confidence.verify import FEATURES, VerifierModel, features, fit, question_type, type_fits

PASSAGE = ("An official said Pakistan had not agreed to such a step so far. "
           "In a statement, the ministry said both sides agreed to develop a joint strategy.")


def _feat(question, span, passage=PASSAGE, score=6.0, null=1.0):
    start = passage.index(span)
    return dict(zip(FEATURES, features(question, passage, start, start + len(span), score, null)))


def test_features_measure_margin_overlap_and_denial():
    f = _feat("What did Pakistan agree to?", "a joint strategy")
    assert f["margin"] == 5.0 and f["margin_pos"] == 5.0
    assert f["denied"] == 0.0
    assert 0.0 < f["overlap"] <= 1.0  # "agreed" shares the question's stem
    denied = _feat("What did Pakistan agree to?", "such a step")
    assert denied["denied"] == 1.0
    # A negative question is answered from negative sentences: nothing is denied.
    assert _feat("What had Pakistan not agreed to?", "such a step")["denied"] == 0.0


def test_question_word_fit():
    assert question_type("How many engineers were killed?") == "number"
    assert question_type("When did the talks start?") == "date"
    assert question_type("Who was targeted?") == "name"
    assert question_type("What did Pakistan agree to?") == "other"
    assert type_fits("number", "two Chinese engineers") and not type_fits("number", "Chinese engineers")
    assert type_fits("date", "in March 2024") and not type_fits("date", "the ministry")
    f = _feat("How many sides agreed?", "both sides")
    assert f["wh_expects"] == 1.0 and f["wh_fits"] == 0.0


def _model() -> VerifierModel:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(FEATURES)))
    y = (x[:, 0] + 0.3 * rng.normal(size=400) > 0).astype(int)  # right answers have large margins
    return fit(x, y)


def test_fit_learns_the_direction_and_round_trips(tmp_path):
    model = _model()
    lo, hi = np.zeros(len(FEATURES)), np.zeros(len(FEATURES))
    lo[0], hi[0] = -3.0, 3.0
    assert model.probability(lo)[0] < 0.1 < 0.9 < model.probability(hi)[0]
    model.cutoff = 0.4
    model.save(tmp_path)
    again = VerifierModel.load(tmp_path)
    assert again.cutoff == 0.4 and np.allclose(again.probability(hi), model.probability(hi))
    assert VerifierModel.load(tmp_path / "none") is None
    data = json.loads((tmp_path / "verifier.json").read_text())
    data["names"] = data["names"][:-1]
    (tmp_path / "verifier.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="qa train-verifier"):
        VerifierModel.load(tmp_path)


def test_the_verifier_decides_and_gives_the_confidence():
    from qa.answer.decide import decide
    from qa.types import Chunk, Passage

    model = _model()
    start = PASSAGE.index("a joint strategy")
    cand = SpanCandidate(0, start, start + len("a joint strategy"), score=5.0, null_score=1.0)
    plain = ReadResult([cand], 1.0, threshold=0.0, texts=[PASSAGE], question="What did Pakistan agree to?")
    assert plain.probability(cand) == pytest.approx(1 / (1 + np.exp(-4.0)))  # sigmoid of margin over threshold
    checked = ReadResult([cand], 1.0, threshold=0.0, texts=[PASSAGE], question=plain.question, verifier=model)
    p = checked.probability(cand)
    assert p == pytest.approx(model.probability(features(plain.question, PASSAGE, cand.start, cand.end, 5.0, 1.0))[0])
    passages = [Passage(Chunk("a:0", "a", 0, PASSAGE, 0, len(PASSAGE)), "T", None, "a.txt")]
    model.cutoff = p + 0.01
    assert decide(plain.question, passages, plain).answered  # the reader's own line: margin over threshold
    assert not decide(plain.question, passages, checked).answered  # the verifier can refuse what the margin allows
    model.cutoff = p - 0.01
    assert decide(plain.question, passages, checked).answered
