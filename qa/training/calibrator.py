"""Fit the end-to-end confidence (``qa.answer.calibrate``) for a reader, on development data only.

Run as ``qa train-calibrator [--reader models/reader]``. Each development set is
asked end to end, as a user asks, over an index of all of its own articles:

* ``squad``: ``../shared/data/squad/dev.json`` over an index of every dev article;
* ``news``: the held-out fifth of ``../shared/data/qa_train/newsqa_train.json.gz``
  (the stories Reader v3 never trains on) over an index of all its stories.

Every answer's best span (shown or refused) becomes one row of features with the
label "right" (answerable and span F1 >= 0.5, the event ``qa eval`` calibrates
against). Quality is measured honestly by cross-fitting over ``--folds`` groups of
the articles (scikit-learn's ``GroupKFold``: each article's questions in one fold;
fit on the other folds of both sets, score that one), next to the confidence the
product showed before, on the same questions; then the shipped model is fitted on
all rows, with the cut-off that maximises F1 over both sets, and written to
``calibration.json`` beside the reader.

Ten folds, not two halves: each cross-fitted model sees nine tenths of the rows,
close to the shipped model that sees all of them. Halves fit on half the rows (and
SQuAD dev has only seven articles), which spreads the probabilities wider: on the
shipped reader halves put 13 news answers at >= 0.9 (3 wrong), ten folds put none
there, and neither does the shipped fit (``qa eval`` on the news dev set: highest
confidence 0.89; its 0.8-0.9 answers are 73 % right).

``--isotonic`` also maps the logistic probability through an isotonic regression
learnt on out-of-fold probabilities, for readers whose share of right answers
levels off below 1 as the margin grows (a linear model cannot level off). Both
fits are always cross-fitted and reported side by side; the map is off by default
because on Reader v3 run 4 it measured worse (cross-fitted in halves: ECE 0.191
against 0.089 on SQuAD dev, 0.065 against 0.049 on the news dev fifth) and on the
shipped reader, in ten folds, it gains a hundredth of ECE (0.051 against 0.060,
0.061 against 0.065) for 0.4 points of news F1 (it refuses 49 more answers).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger("qa.training.calibrator")


@dataclass
class Rows:
    """One development set asked end to end: features, labels and what the product showed."""

    name: str
    x: list[list[float]] = field(default_factory=list)
    right: list[int] = field(default_factory=list)  # the best span is right
    f1_answer: list[float] = field(default_factory=list)  # F1 if that span is given
    f1_refuse: list[float] = field(default_factory=list)  # F1 if refused (1 for unanswerable)
    before: list[float] = field(default_factory=list)  # the confidence shown without the calibrator
    answered_before: list[bool] = field(default_factory=list)
    passes_margin: list[bool] = field(default_factory=list)  # a span the margin threshold lets through
    group: list[str] = field(default_factory=list)  # the question's article: folds keep it whole
    skipped: int = 0  # questions with no span at all (yes/no questions, every span a denial)


def ask_set(name: str, path: str, held_out: bool, settings, reader_path: str, limit: int = 0) -> Rows:
    """Ask a SQuAD-format set end to end over a temporary index of all its articles."""
    from qa.answer.pipeline import Pipeline
    from qa.evaluation.evaluate import held_out_only, load_questions, result_from_answer, write_context_corpus
    from qa.evaluation.metrics import span_is_correct
    from qa.evaluation.squad import max_over_golds

    rows = Rows(name)
    qset = load_questions(path)
    if held_out:
        qset = held_out_only(qset)
    questions = qset.questions[:limit] if limit else qset.questions
    with tempfile.TemporaryDirectory(prefix=f"qa-calibrate-{name}-") as tmp:
        n = write_context_corpus(path, Path(tmp) / "articles")
        s = settings.with_overrides(corpus=(Path(tmp) / "articles",), index_dir=Path(tmp) / "index",
                                    reader_model=Path(reader_path))
        pipe = Pipeline(s)
        report = pipe.index([Path(tmp) / "articles"], progress=False)
        log.info("%s: %d articles written, %d indexed (%d chunks); asking %d questions",
                 name, n, report.articles, report.chunks, len(questions))
        pipe.warm_up()
        pipe.reader.calibrator = None  # what the product showed before, and features free of any fit
        threshold = float(pipe.reader.null_threshold)
        t0 = time.time()
        for q in questions:
            ans = pipe.ask(q.question)
            if ans.features is None:
                rows.skipped += 1
                continue
            res = result_from_answer(q, ans, 0.0)
            span = ans.text if ans.answered else (ans.alternatives[0]["text"] if ans.alternatives else "")
            rows.x.append(list(ans.features))
            rows.right.append(int(span_is_correct(res)))
            rows.f1_answer.append(max_over_golds(span, q.answers)[1] if q.answers else 0.0)
            rows.f1_refuse.append(0.0 if q.answers else 1.0)
            rows.before.append(float(res.score))
            rows.answered_before.append(bool(ans.answered))
            rows.passes_margin.append(ans.margin is not None and ans.margin > threshold)
            rows.group.append(f"{name}:{q.article_title or ''}")
        log.info("%s: %d rows in %.0f s (%d questions without a span)", name, len(rows.x), time.time() - t0,
                 rows.skipped)
    return rows


def best_cutoff(prob: np.ndarray, passes: np.ndarray, f1_answer: np.ndarray, f1_refuse: np.ndarray) -> float:
    """The cut-off on ``prob`` that maximises mean F1 when a span is given iff it passes the margin
    threshold and its probability exceeds the cut-off."""
    best_c, best = 0.5, -1.0
    for c in np.unique(np.concatenate([[0.0], prob])):
        given = passes & (prob > c)
        score = float(np.where(given, f1_answer, f1_refuse).mean())
        if score > best:
            best_c, best = float(c), score
    return best_c


def set_metrics(prob: np.ndarray, given: np.ndarray, right: np.ndarray, f1_answer: np.ndarray,
                f1_refuse: np.ndarray) -> dict:
    """ECE of the probability, share of answers given at >= 0.9 that are wrong, F1 of the decision."""
    from qa.evaluation.metrics import CONFIDENT, calibration

    confident = given & (prob >= CONFIDENT)
    return {
        "ece": calibration(prob.tolist(), right.astype(bool).tolist())["ece"],
        "confident_answers": int(confident.sum()),
        "confident_wrong_share": float((confident & (right == 0)).sum() / confident.sum()) if confident.any() else None,
        "answered": int(given.sum()),
        "f1": 100.0 * float(np.where(given, f1_answer, f1_refuse).mean()),
    }


def main(argv: list[str] | None = None) -> int:
    from qa.config import Settings

    from qa.training.verifier import fit_parser

    cfg = Settings.from_env()
    p = fit_parser("qa train-calibrator", __doc__, str(cfg.reader_model), "calibration.json")
    p.add_argument("--squad-dev", default=str(cfg.data_dir / "squad" / "dev.json"))
    p.add_argument("--news", default=str(cfg.data_dir / "qa_train" / "newsqa_train.json.gz"),
                   help="NewsQA file whose held-out fifth is the news dev set ('' to leave it out)")
    p.add_argument("--limit", type=int, default=0, help="only the first N questions of each set (smoke runs)")
    p.add_argument("--folds", type=int, default=10,
                   help="cross-fitting folds of whole articles for the reported quality (default 10)")
    p.add_argument("--isotonic", action=argparse.BooleanOptionalAction, default=False,
                   help="also map the logistic probability through isotonic regression (default: off; "
                        "both are reported)")
    args = p.parse_args(argv)
    if args.folds < 2:
        p.error("--folds must be at least 2")
    sets = [("squad", args.squad_dev, False)] + ([("news", args.news, True)] if args.news else [])
    for _, path, _ in sets:
        if not Path(path).exists():
            p.error(f"{path} does not exist")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from qa.answer.calibrate import Calibrator
    from qa.answer.verify import fit, fit_isotonic, group_folds

    data = [ask_set(name, path, held, cfg, args.reader, args.limit) for name, path, held in sets]
    x = np.array([r for d in data for r in d.x], dtype=np.float64)
    y = np.array([v for d in data for v in d.right])
    group = np.array([v for d in data for v in d.group])
    fold = group_folds(group, args.folds)
    if fold is None:
        p.error("cross-fitting needs questions from at least two articles")
    passes = np.array([v for d in data for v in d.passes_margin])
    f1a = np.array([v for d in data for v in d.f1_answer])
    f1r = np.array([v for d in data for v in d.f1_refuse])

    def fitted(rows: np.ndarray, isotonic: bool) -> Calibrator:
        if isotonic:
            return fit_isotonic(x[rows], y[rows], group[rows], args.c, Calibrator)
        return fit(x[rows], y[rows], args.c, Calibrator)

    # Cross-fitted probabilities and cut-offs of both fits: the chosen one is reported as "cross_fitted".
    oofs, cuts = {}, {}
    for isotonic in (False, True):
        oofs[isotonic] = np.zeros(len(y))
        for k in np.unique(fold):
            oofs[isotonic][fold == k] = fitted(fold != k, isotonic).probability(x[fold == k])
        cuts[isotonic] = best_cutoff(oofs[isotonic], passes, f1a, f1r)
    names = {args.isotonic: "cross_fitted",
             not args.isotonic: "cross_fitted_logistic_only" if args.isotonic else "cross_fitted_with_isotonic"}
    report: dict = {"isotonic": args.isotonic, "cutoff_cross_fitted": cuts[args.isotonic], "sets": {}}
    start = 0
    for d in data:
        sl = slice(start, start + len(d.x))
        start += len(d.x)
        right = y[sl]
        report["sets"][d.name] = {
            "questions_with_a_span": len(d.x), "without_a_span": d.skipped, "right_spans": int(right.sum()),
            "before": set_metrics(np.array(d.before), np.array(d.answered_before), right, f1a[sl], f1r[sl]),
            **{names[iso]: set_metrics(oofs[iso][sl], passes[sl] & (oofs[iso][sl] > cuts[iso]), right, f1a[sl],
                                       f1r[sl]) for iso in (args.isotonic, not args.isotonic)},
        }
    model = fitted(np.ones(len(y), dtype=bool), args.isotonic)
    model.cutoff = best_cutoff(model.probability(x), passes, f1a, f1r)
    from qa.training.reader import recorded_arg

    words = argv if argv is not None else sys.argv[1:]
    model.meta = {"command": "qa train-calibrator " + " ".join(recorded_arg(w) for w in words),
                  "c": args.c, "label": "answerable and best span F1 >= 0.5 (qa.evaluation.metrics.span_is_correct)",
                  "folds": f"{len(np.unique(fold))} folds of the articles (GroupKFold, each article in one fold)",
                  **report}
    for name, m in report["sets"].items():
        log.info("%s: %s", name, m)
    for name, w in zip(model.names, model.coef):
        log.info("weight %-20s %+.3f", name, w)
    if not args.dry_run:
        log.info("wrote %s (cut-off %.3f)", model.save(args.reader), model.cutoff)
    print(__import__("json").dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
