"""Fit the end-to-end confidence and the cut-offs of the decision for a reader, on development data only.

Run as ``qa train-calibrator [--reader models/reader]``. The development sets are read once, end to
end, as a user asks (``qa.evaluation.devreads``: SQuAD dev, the NewsQA news dev fifth, and the news
questions over an index without their story). Then:

1. Every candidate span the decision may show (after denials and demands, one per sentence, the
   reader's best ``SPANS_PER_QUESTION``) is one row of ``qa.answer.confidence.calibrate`` features, labelled
   right when it matches a gold answer (span F1 >= 0.5; any span of an unanswerable question is
   wrong). A logistic regression over the rows is the confidence.
2. Quality is measured honestly by cross-fitting over ``--folds`` groups of whole articles
   (scikit-learn's ``GroupKFold``): each question is decided by the product's own decision
   (``qa.answer.decide``) with a model that never saw its article.
3. The cut-offs are chosen on those cross-fitted decisions for the user's goal (``--goal``, default:
   answers shown are right at least 70 % of the time on the news dev set):
   * answer: the lowest cut-off whose answers meet the goal, so as many questions as possible are
     answered;
   * further findings: the lowest bar, not under the answer cut-off, whose further findings match a
     gold answer at the goal's rate; when none does, the answer cut-off (a further finding is then as
     likely right as an answer, by the calibration);
   * possible answers: below the answer cut-off the best candidates are shown, marked low confidence,
     down to the bar at which they are right at least ``--possible-goal`` of the time; under it the
     closest passages are shown instead.
4. The shipped model is fitted on all rows and written, with the cut-offs and the report, to the
   reader's ``calibration.json``; the weights are not touched.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

log = logging.getLogger("qa.training.calibrator")

SPANS_PER_QUESTION = 5  # candidate spans of a question fitted on: the first finding and the further ones


@dataclass
class Decided:
    """One development question decided with a given calibrator and no cut-off: what would be shown."""

    set: str
    top: float | None  # confidence of the most confident span (None: no span at all)
    top_right: bool
    top_f1: float  # F1 of that span against the golds (0 for an unanswerable question)
    refuse_f1: float  # F1 when refused: 1 for an unanswerable question, else 0
    further: list[tuple[float, bool]] = field(default_factory=list)  # further findings: confidence, right
    polar: bool = False


def span_rows(reads, rules) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows (features, right, the question's article) of every candidate span the decision may show."""
    from qa.answer.decide import merge_in_articles, span_features
    from qa.answer.rules.findings import locate, one_per_sentence, screen
    from qa.answer.rules.polar import is_polar
    from qa.evaluation.squad import max_over_golds

    x, y, g = [], [], []
    for r in reads:
        if not r.passages or is_polar(r.question):
            continue
        spans = locate(r.passages, merge_in_articles(r.passages, r.result), r.result.null_score)
        kept, _ = one_per_sentence(screen(spans, r.passages, r.question, rules).kept)
        for s in kept[:SPANS_PER_QUESTION]:
            x.append(span_features(r.question, r.passages, r.result, spans, s))
            text = r.result.span_text(s.candidate)
            y.append(int(bool(r.answers) and max_over_golds(text, r.answers)[1] >= 0.5))
            g.append(r.group)
    return np.array(x, dtype=np.float64), np.array(y), np.array(g)


def decide_all(reads, calibrator_of, rules) -> list[Decided]:
    """Each read decided by the product's decision with ``calibrator_of(read)`` and every cut-off at 0, so
    the most confident span and every further finding are visible to choose the cut-offs from."""
    from qa.answer.decide import decide
    from qa.answer.rules.polar import is_polar
    from qa.evaluation.squad import max_over_golds

    open_rules = replace(rules, answer_cutoff=0.0)
    out = []
    for r in reads:
        refuse_f1 = 0.0 if r.answers else 1.0
        if is_polar(r.question):
            out.append(Decided(r.set, None, False, 0.0, refuse_f1, polar=True))
            continue
        cal = calibrator_of(r)
        result = replace(r.result, calibrator=_open(cal) if cal is not None else None)
        ans = decide(r.question, r.passages, result, open_rules)
        if not ans.findings:
            out.append(Decided(r.set, None, False, 0.0, refuse_f1))
            continue

        def right(text: str) -> tuple[bool, float]:
            f1 = max_over_golds(text, r.answers)[1] if r.answers else 0.0
            return f1 >= 0.5, f1

        ok, f1 = right(ans.findings[0].text)
        further = [(f.score, right(f.text)[0]) for f in ans.findings[1:]]
        out.append(Decided(r.set, ans.findings[0].score, ok, f1, refuse_f1, further))
    return out


def _open(calibrator):
    """The calibrator with its further-finding bar at 0: every candidate is seen."""
    c = replace(calibrator)
    c.cutoff, c.further_cutoff, c.possible_cutoff = 0.0, 0.0, 0.0
    return c


def choose_cutoffs(decided: list[Decided], goal: float, possible_goal: float, on: str = "news") -> dict:
    """The three cut-offs of the module docstring, chosen on the decisions of set ``on``."""
    rows = [d for d in decided if d.set == on and d.top is not None]
    conf = np.array([d.top for d in rows])
    ok = np.array([d.top_right for d in rows], dtype=float)
    answer, reached = lowest_meeting(conf, ok, goal)
    further_rows = [f for d in decided if d.set == on for f in d.further]
    fconf = np.array([f[0] for f in further_rows])
    fok = np.array([f[1] for f in further_rows], dtype=float)
    further, _ = lowest_meeting(fconf[fconf >= answer], fok[fconf >= answer], goal) if len(fconf) else (1.0, 0.0)
    further = max(answer, min(further, 1.0))
    return {"answer": answer, "further": further, "possible": min(possible_bar(conf, ok, possible_goal), answer),
            "goal_met": bool(reached >= goal), "precision_at_answer": reached}


def lowest_meeting(conf: np.ndarray, ok: np.ndarray, goal: float, least: int = 20) -> tuple[float, float]:
    """The lowest cut-off c (a confidence seen) such that the rows at c or above are right at least ``goal``
    of the time, with at least ``least`` of them, and that share. When no cut-off reaches the goal, the
    one whose share comes closest (the most answers among equals): the goal is then reported as not met.
    With fewer than ``least`` rows, 1.0 (nothing passes) and 0."""
    if len(conf) < least:
        return 1.0, 0.0
    order = np.argsort(-conf, kind="stable")
    share = np.cumsum(ok[order]) / np.arange(1, len(conf) + 1)
    # tied confidences pass together: only a position that ends a run of equal confidences is a cut-off
    ends = np.append(conf[order][1:] != conf[order][:-1], True)
    ends[: least - 1] = False
    meets = np.nonzero(ends & (share >= goal))[0]
    at = meets.max() if len(meets) else max(np.nonzero(ends)[0], key=lambda i: (share[i], i))
    return float(conf[order][at]), float(share[at])


def possible_bar(conf: np.ndarray, ok: np.ndarray, goal: float) -> float:
    """The lowest confidence at which a span is right at least ``goal`` of the time, read off an isotonic
    regression of right on confidence (scikit-learn): the bar for showing a possible answer."""
    from sklearn.isotonic import IsotonicRegression

    if len(conf) < 2:
        return 1.0
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(conf, ok)
    grid = np.unique(conf)
    above = grid[iso.predict(grid) >= goal]
    return float(above.min()) if len(above) else 1.0


def set_report(decided: list[Decided], cut: dict) -> dict:
    """Per set, at the cut-offs: answered-right share, share answered, ECE, F1, further findings shown."""
    from qa.evaluation.metrics import calibration

    out = {}
    for name in dict.fromkeys(d.set for d in decided):
        ds = [d for d in decided if d.set == name]
        spans = [d for d in ds if d.top is not None]
        answered = [d for d in spans if d.top >= cut["answer"]]
        further = [f for d in answered for f in d.further if f[0] >= cut["further"]]
        f1 = [d.top_f1 if (d.top is not None and d.top >= cut["answer"]) else d.refuse_f1 for d in ds]
        out[name] = {
            "questions": len(ds),
            "with_a_span": len(spans),
            "answered_share": len(answered) / len(ds) if ds else 0.0,
            "answered_right_share": (sum(d.top_right for d in answered) / len(answered)) if answered else None,
            "refused_share": 1.0 - len(answered) / len(ds) if ds else 0.0,
            "ece": calibration([d.top for d in spans], [d.top_right for d in spans])["ece"] if spans else None,
            "f1": 100.0 * float(np.mean(f1)) if f1 else 0.0,
            "further_findings": len(further),
            "further_right_share": (sum(ok for _, ok in further) / len(further)) if further else None,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    from qa.config import Settings
    from qa.training.verifier import fit_parser

    cfg = Settings.from_env()
    p = fit_parser("qa train-calibrator", __doc__, str(cfg.reader_model), "calibration.json")
    p.add_argument("--squad-dev", default=str(cfg.data_dir / "squad" / "dev.json"))
    p.add_argument("--news", default=str(cfg.data_dir / "qa_train" / "newsqa_train.json.gz"),
                   help="NewsQA file whose held-out fifth is the news dev set ('' to leave the news sets out)")
    p.add_argument("--goal", type=float, default=0.70,
                   help="answers shown must be right at least this share of the time on the news dev set")
    p.add_argument("--possible-goal", type=float, default=0.30,
                   help="possible answers (below the cut-off) are shown down to where they are right this often")
    p.add_argument("--limit", type=int, default=0, help="only the first N questions of each set (smoke runs)")
    p.add_argument("--folds", type=int, default=10, help="cross-fitting folds of whole articles (default 10)")
    p.add_argument("--cache", type=Path, default=None,
                   help="keep the development reads here (outside the repository) for the next fit")
    p.add_argument("--isotonic", action=argparse.BooleanOptionalAction, default=False,
                   help="map the logistic probability through isotonic regression learnt out of fold")
    args = p.parse_args(argv)
    if args.folds < 2:
        p.error("--folds must be at least 2")
    if not 0.0 < args.goal < 1.0 or not 0.0 < args.possible_goal < 1.0:
        p.error("--goal and --possible-goal are shares between 0 and 1")
    paths = {"squad": Path(args.squad_dev)}
    if args.news:
        paths.update({"news": Path(args.news), "news-unanswerable": Path(args.news)})
    for path in paths.values():
        if not path.exists():
            p.error(f"{path} does not exist")
    if not (Path(args.reader) / "config.json").exists():
        p.error(f"{args.reader} is not a question-answering model folder (no config.json)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from qa.answer.confidence.calibrate import Calibrator
    from qa.answer.rules.findings import DecisionRules
    from qa.answer.confidence.verify import fit, fit_isotonic, group_folds
    from qa.evaluation.devreads import read_sets

    sets = read_sets(list(paths), paths, cfg, args.reader, cache=args.cache, limit=args.limit)
    reads = [r for s in sets for r in s.reads]
    rules = DecisionRules()
    # news-unanswerable only measures: fitted on, it teaches the rows of answerable sets to doubt more
    # (SQuAD dev's ECE 0.089 -> 0.105 on the shipped reader) and is refused either way.
    x, y, group = span_rows([r for r in reads if r.set != "news-unanswerable"], rules)
    if not len(y):
        p.error("no question of the development sets got a span to fit on")
    if len(np.unique(y)) < 2:
        p.error(f"all {len(y)} candidate spans are {'right' if y.all() else 'wrong'}: a calibration needs both "
                f"(is {args.reader} a trained question-answering model?)")
    fold = group_folds(group, args.folds)
    if fold is None:
        p.error("cross-fitting needs questions from at least two articles")

    def fitted(rows: np.ndarray) -> Calibrator:
        if args.isotonic:
            return fit_isotonic(x[rows], y[rows], group[rows], args.c, Calibrator)
        return fit(x[rows], y[rows], args.c, Calibrator)

    models = {int(k): fitted(fold != k) for k in np.unique(fold)}
    fold_of_group = {gr: int(k) for gr, k in zip(group, fold)}
    cross = decide_all(reads, lambda r: models.get(fold_of_group.get(r.group, -1)), rules)
    before = decide_all(reads, lambda r: None, rules)
    cut = choose_cutoffs(cross, args.goal, args.possible_goal, on="news" if args.news else "squad")
    model = fitted(np.ones(len(y), dtype=bool))
    model.cutoff, model.further_cutoff, model.possible_cutoff = cut["answer"], cut["further"], cut["possible"]
    from qa.answer.confidence.calibrate import UNCALIBRATED
    from qa.training.reader import recorded_arg

    report = {
        "goal": f"answers shown right >= {args.goal:.0%} on {'news' if args.news else 'squad'} dev "
                "(right: span F1 >= 0.5 against a gold answer; any answer to an unanswerable question is wrong)",
        "cutoffs_cross_fitted": cut,
        "cross_fitted": set_report(cross, cut),
        "shipped_in_sample": set_report(decide_all(reads, lambda r: model, rules), cut),
        "before": set_report(before, {"answer": UNCALIBRATED.answer, "further": UNCALIBRATED.further}),
        "rows": int(len(y)), "right_rows": int(y.sum()),
        "read_seconds": {s.name: round(s.seconds) for s in sets},
    }
    words = argv if argv is not None else sys.argv[1:]
    model.meta = {"command": "qa train-calibrator " + " ".join(recorded_arg(w) for w in words), "c": args.c,
                  "label": "candidate span F1 >= 0.5 against a gold answer (unanswerable: never right)",
                  "folds": f"{len(models)} folds of the articles (GroupKFold, each article in one fold)",
                  **report}
    for name, m in report["cross_fitted"].items():
        log.info("%s (cross-fitted): %s", name, m)
    for name, w in zip(model.names, model.coef):
        log.info("weight %-20s %+.3f", name, w)
    if not args.dry_run:
        log.info("wrote %s (cut-offs %s)", model.save(args.reader), cut)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
