"""`qa train-verifier` on a tiny dev set: writes verifier.json and the card section; the reader then uses it."""

import json
import shutil

import pytest

from qa.answer.read import Reader
from qa.training.verifier import main

ARTICLES = {
    "Bakery": ("The Mill Street bakery was founded in 1921 by Maria Rossi, an immigrant from Naples. "
               "Her grandson runs it today and sells about 800 loaves every morning.",
               [("Who founded the bakery?", "Maria Rossi"), ("When was the bakery founded?", "1921"),
                ("How many loaves are sold every morning?", "about 800"), ("Who owns the bank?", None),
                ("What colour is the door?", None)]),
    "Bridge": ("The old stone bridge over the river was built in 1850 and repaired in 1990 after a flood. "
               "It is 120 metres long and carries only pedestrians.",
               [("When was the bridge built?", "1850"), ("How long is the bridge?", "120 metres"),
                ("Who designed the bridge?", None), ("What does the bridge carry?", "only pedestrians"),
                ("How much did the repair cost?", None)]),
}


def _dev(path, articles=None):
    data = []
    for title, (ctx, qs) in (articles or ARTICLES).items():
        qas = [{"id": f"{title}{i}", "question": q,
                "answers": [] if a is None else [{"text": a, "answer_start": ctx.index(a)}],
                "is_impossible": a is None} for i, (q, a) in enumerate(qs)]
        data.append({"title": title, "paragraphs": [{"context": ctx, "qas": qas}]})
    path.write_text(json.dumps({"version": "v2.0", "data": data}))
    return path


def test_fit_writes_the_verifier_and_the_reader_uses_it(tmp_path, reader_path):
    model = tmp_path / "reader"
    shutil.copytree(reader_path, model)
    (model / "verifier.json").unlink(missing_ok=True)
    assert main(["--reader", str(model), "--dev", str(_dev(tmp_path / "dev.json")), "--threads", "1"]) == 0
    stored = json.loads((model / "verifier.json").read_text())
    assert stored["meta"]["dev_examples"] == 10 and 0.0 <= stored["cutoff"] <= 1.0
    card = (model / "README.md").read_text()
    assert card.count("## Answer verifier") == 1 and "cross-fitted" in card
    # Refitting replaces the section rather than adding another.
    assert main(["--reader", str(model), "--dev", str(tmp_path / "dev.json"), "--threads", "1"]) == 0
    assert (model / "README.md").read_text().count("## Answer verifier") == 1
    reader = Reader(model)
    reader.load()
    assert reader.verifier is not None
    res = reader.read("Who founded the bakery?", [ARTICLES["Bakery"][0]])
    assert res.verifier is reader.verifier and 0.0 < res.confidence < 1.0


def test_calibrator_cutoff_and_set_metrics():
    import numpy as np
    import pytest

    from qa.training.calibrator import best_cutoff, set_metrics

    prob = np.array([0.95, 0.92, 0.3, 0.8])
    passes = np.array([True, True, True, False])
    f1a, f1r = np.array([1.0, 0.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0, 0.0])
    # Giving only the first span is best: 0.92 and 0.3 are right to refuse, and 0.8 cannot pass its margin.
    assert best_cutoff(prob, passes, f1a, f1r) == pytest.approx(0.92)
    m = set_metrics(prob, passes & (prob > 0.5), np.array([1, 0, 0, 1]), f1a, f1r)
    assert m["confident_answers"] == 2 and m["confident_wrong_share"] == 0.5 and m["answered"] == 2
    assert m["f1"] == pytest.approx(100 * (1 + 0 + 1 + 0) / 4)


@pytest.mark.slow
def test_train_calibrator_writes_a_cross_fitted_isotonic_calibration(tmp_path, reader_path, monkeypatch):
    """`qa train-calibrator` on a tiny dev set of four articles, end to end over a temporary index:
    calibration.json beside the reader, with the isotonic map, both fits reported cross-fitted (one fold
    per article, there being fewer than ten), and the reader then shows its probabilities."""
    import numpy as np

    from qa.answer.calibrate import Calibrator
    from qa.training.calibrator import main as calibrate

    monkeypatch.setenv("QA_UPLOADS", str(tmp_path / "uploads"))
    more = {
        "Harbour": ("The harbour at Kelso opened in 1887. Its lighthouse, painted red, was automated in 1979 "
                    "and is kept by the coast guard.",
                    [("When did the harbour open?", "1887"), ("What colour is the lighthouse?", "red"),
                     ("Who keeps the lighthouse?", "the coast guard"), ("How deep is the harbour?", None)]),
        "Orchard": ("The Hill orchard grows 40 kinds of apple. Its cider press was bought from a farm in Devon "
                    "in 2003, and the harvest festival is held every October.",
                    [("How many kinds of apple does the orchard grow?", "40"),
                     ("When is the harvest festival held?", "every October"),
                     ("Where was the cider press bought?", "a farm in Devon"), ("Who planted the orchard?", None)]),
    }
    dev = _dev(tmp_path / "dev.json", {**ARTICLES, **more})
    model = tmp_path / "reader"
    shutil.copytree(reader_path, model)
    (model / "calibration.json").unlink(missing_ok=True)
    assert calibrate(["--reader", str(model), "--squad-dev", str(dev), "--news", "", "--isotonic"]) == 0
    stored = json.loads((model / "calibration.json").read_text())
    report = stored["meta"]["sets"]["squad"]
    assert stored["meta"]["isotonic"] is True and stored["isotonic_x"]
    assert stored["meta"]["folds"].startswith("4 folds")  # ten asked for, one per article here
    assert report["questions_with_a_span"] + report["without_a_span"] == 18
    assert {"before", "cross_fitted", "cross_fitted_logistic_only"} <= set(report)
    cal = Calibrator.load(model)
    p = cal.probability(np.zeros((3, len(cal.names))))
    assert ((0.0 <= p) & (p <= 1.0)).all()
