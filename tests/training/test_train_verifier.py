"""`qa train-verifier` on a tiny dev set: writes verifier.json and the card section; the reader then uses it."""

import json
import shutil

import pytest

from qa.answer.reader.read import Reader
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
    assert res.verifier is reader.verifier and 0.0 < res.probability(res.best) < 1.0


def test_the_cut_offs_are_chosen_for_the_users_goal():
    import numpy as np

    from qa.training.calibrator import Decided, choose_cutoffs, lowest_meeting, possible_bar

    # 40 answers: the 20 most confident are right 3 times in 4, the rest once in 4.
    conf = np.linspace(0.99, 0.60, 40)
    ok = np.array(([1, 1, 1, 0] * 5) + ([1, 0, 0, 0] * 5), dtype=float)
    cut, share = lowest_meeting(conf, ok, 0.70)
    assert cut == conf[21] and share == pytest.approx(16 / 22)  # as many answers as the goal allows
    cut, share = lowest_meeting(conf, ok, 0.90)  # out of reach: the closest share, reported as not met
    assert cut == conf[20] and share == pytest.approx(16 / 21)
    assert lowest_meeting(conf[:5], ok[:5], 0.7) == (1.0, 0.0)  # too few answers to choose from
    # the possible-answer bar: where spans are right at least the goal's share, by isotonic regression
    assert conf[23] <= possible_bar(conf, ok, 0.5) <= conf[16] and possible_bar(conf, 0 * ok, 0.5) == 1.0
    decided = [Decided("news", c, bool(o), float(o), 0.0, further=[(c - 0.3, False)]) for c, o in zip(conf, ok)]
    cuts = choose_cutoffs(decided, 0.70, 0.5)
    assert cuts["answer"] == conf[21] and cuts["goal_met"] and cuts["possible"] <= cuts["answer"]
    assert cuts["further"] >= cuts["answer"]  # further findings never need less than an answer


@pytest.mark.slow
def test_train_calibrator_writes_a_cross_fitted_isotonic_calibration(tmp_path, reader_path, monkeypatch):
    """`qa train-calibrator` on a tiny dev set of four articles, end to end over a temporary index:
    calibration.json beside the reader, with the isotonic map, both fits reported cross-fitted (one fold
    per article, there being fewer than ten), and the reader then shows its probabilities."""
    import numpy as np

    from qa.answer.confidence.calibrate import Calibrator
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
    meta = stored["meta"]
    assert stored["isotonic_x"]
    assert meta["folds"].startswith("4 folds")  # ten asked for, one per article here
    assert meta["cross_fitted"]["squad"]["questions"] == 18
    assert {"before", "cross_fitted", "shipped_in_sample", "cutoffs_cross_fitted"} <= set(meta)
    assert 0.0 <= stored["possible_cutoff"] <= stored["cutoff"] <= stored["further_cutoff"] <= 1.0
    cal = Calibrator.load(model)
    p = cal.probability(np.zeros((3, len(cal.names))))
    assert ((0.0 <= p) & (p <= 1.0)).all()
