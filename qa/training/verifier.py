"""Fit the answer verifier (``qa.answer.confidence.verify``) for a reader on SQuAD dev questions.

Run as ``qa train-verifier [--reader models/reader] [--dev ../shared/data/squad/dev.json]``.
The reader reads every dev question's own context; each best span becomes one
row of features with the label "right" (the question is answerable and the
span has F1 >= 0.5 against a gold answer, the event ``qa eval`` calibrates
against). Quality is measured honestly by cross-fitting over two halves of the
dev articles (fit on one half, score the other), then the shipped model is
fitted on all of dev and written to ``verifier.json`` beside the reader with
the answer/refuse cut-off that maximises dev F1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

from qa.evaluation.squad import SquadExample, best_threshold, evaluate_at, load_squad, max_over_golds
from qa.answer.confidence.verify import FEATURES, features, fit
from qa.util.atomic import atomic_write_text

log = logging.getLogger("qa.training.verifier")


def reader_rows(reader, examples: list[SquadExample], group: int = 64):
    """Features, labels, best-span texts and margins of each example, the reader on its own context."""
    x, y, texts, margins = [], [], {}, {}
    for g in range(0, len(examples), group):
        chunk = examples[g : g + group]
        for ex, res in zip(chunk, reader.read_many([(e.question, [e.context]) for e in chunk])):
            best = res.best
            if best is None:
                row = [0.0] * len(FEATURES)
                row[0] = -30.0
                texts[ex.id], margins[ex.id] = "", -30.0
            else:
                row = features(ex.question, ex.context, best.start, best.end, best.score, res.null_score)
                texts[ex.id], margins[ex.id] = res.span_text(best), best.score - res.null_score
            x.append(row)
            y.append(int(bool(ex.answers) and max_over_golds(texts[ex.id], ex.answers)[1] >= 0.5))
    return np.array(x), np.array(y), texts, margins


def article_folds(examples: list[SquadExample]) -> np.ndarray:
    """0/1 per example: dev articles alternately in two halves, so no article is on both sides."""
    titles = sorted({e.title for e in examples})
    half = {t: i % 2 for i, t in enumerate(titles)}
    return np.array([half[e.title] for e in examples])


def ece(prob: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    from qa.evaluation.metrics import calibration

    return float(calibration(prob.tolist(), y.astype(bool).tolist(), bins)["ece"])


def decision_metrics(examples, texts, margins, prob: np.ndarray, margin_threshold: float) -> tuple[float, dict]:
    """Best cut-off on these probabilities and the official metrics there.

    As in the product, a span whose margin does not clear the reader's stored
    threshold is refused whatever the verifier says.
    """
    gold = {e.id: e.answers for e in examples}
    values = {e.id: (float(p) if margins[e.id] > margin_threshold else -1.0) for e, p in zip(examples, prob)}
    cut, _ = best_threshold(texts, values, gold)
    cut = max(cut, 0.0)
    return cut, evaluate_at(texts, values, gold, cut)


def fit_parser(prog: str, doc: str | None, reader: str, written: str) -> argparse.ArgumentParser:
    """The flags every confidence fit shares: the reader it is fitted for, L2 strength, a dry run."""
    p = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reader", default=reader, help=f"reader folder; {written} is written there")
    p.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the logistic regression")
    p.add_argument("--dry-run", action="store_true", help=f"report, but do not write {written}")
    return p


def main(argv: list[str] | None = None) -> int:
    from sklearn.metrics import roc_auc_score

    from qa.config import Settings
    from qa.answer.reader.read import Reader, read_meta

    cfg = Settings.from_env()
    p = fit_parser("qa train-verifier", __doc__, str(cfg.reader_model), "verifier.json")
    p.add_argument("--dev", default=str(cfg.data_dir / "squad" / "dev.json"))
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    if not Path(args.dev).exists():
        p.error(f"{args.dev} does not exist")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    examples = load_squad(args.dev)
    reader = Reader(args.reader, null_threshold=0.0)
    margin_threshold = float(read_meta(args.reader).get("null_threshold", 0.0))
    t0 = time.time()
    x, y, texts, margins = reader_rows(reader, examples)
    log.info("read %d dev questions in %.0f s; %d right spans", len(examples), time.time() - t0, int(y.sum()))
    answerable = np.array([int(bool(e.answers)) for e in examples])
    folds = article_folds(examples)
    oof = np.zeros(len(y))
    for k in (0, 1):
        m = fit(x[folds != k], y[folds != k], args.c)
        oof[folds == k] = m.probability(x[folds == k])
    cut_oof, metrics_oof = decision_metrics(examples, texts, margins, oof, margin_threshold)
    report = {
        "margin_auc_answerable": float(roc_auc_score(answerable, x[:, 0])),
        "verifier_auc_answerable_cross_fitted": float(roc_auc_score(answerable, oof)),
        "verifier_auc_right_cross_fitted": float(roc_auc_score(y, oof)),
        "ece_cross_fitted": ece(oof, y),
        "cutoff_cross_fitted": cut_oof,
        "dev_cross_fitted": metrics_oof,
    }
    model = fit(x, y, args.c)
    prob = model.probability(x)
    model.cutoff, metrics_all = decision_metrics(examples, texts, margins, prob, margin_threshold)
    report.update({"ece_in_sample": ece(prob, y), "dev_in_sample": metrics_all,
                   "verifier_auc_answerable_in_sample": float(roc_auc_score(answerable, prob))})
    model.meta = {
        "command": "qa train-verifier " + " ".join(argv if argv is not None else sys.argv[1:]),
        "dev_examples": len(examples), "right_spans": int(y.sum()), "c": args.c,
        "label": "answerable and best span F1 >= 0.5 (qa.evaluation.metrics.span_is_correct)",
        "folds": "dev articles alternately in two halves by sorted title", **report,
    }
    for k, v in report.items():
        log.info("%s: %s", k, v)
    for name, w in zip(FEATURES, model.coef):
        log.info("weight %-26s %+.3f", name, w)
    if not args.dry_run:
        log.info("wrote %s (cut-off %.3f)", model.save(args.reader), model.cutoff)
        update_model_card(Path(args.reader), model)
    return 0


CARD_SECTION = "\n## Answer verifier\n"


def update_model_card(folder: Path, model) -> None:
    """Replace the model card's verifier section with this fit's numbers."""
    card_path = folder / "README.md"
    if not card_path.exists():
        return
    card = card_path.read_text(encoding="utf-8").split(CARD_SECTION)[0].rstrip() + "\n"
    m = model.meta
    cf, ins = m["dev_cross_fitted"], m["dev_in_sample"]
    weights = ", ".join(f"{n} {w:+.2f}" for n, w in zip(model.names, model.coef))
    card += f"""{CARD_SECTION}
`verifier.json` holds a logistic regression (scikit-learn, L2, C={m['c']}) over the features in
`qa/answer/confidence/verify.py`; its probability that the best span is right (answerable and F1 >= 0.5) is the
confidence users see, and a span is given only when it clears both the margin threshold above and
the verifier's cut-off {model.cutoff:.3f}. Fitted on all {m['dev_examples']} dev questions by
`{m['command'].strip()}`; quality measured by cross-fitting over two halves of the dev articles
(fit on one, score the other):

| | margin alone | verifier, cross-fitted | verifier, in-sample |
|---|---|---|---|
| ROC AUC, answerable vs not | {m['margin_auc_answerable']:.3f} | {m['verifier_auc_answerable_cross_fitted']:.3f} | {m['verifier_auc_answerable_in_sample']:.3f} |
| expected calibration error (10 bins) | | {m['ece_cross_fitted']:.3f} | {m['ece_in_sample']:.3f} |
| dev F1 / HasAns F1 / NoAns acc. at its cut-off | | {cf['f1']:.2f} / {cf.get('HasAns_f1', float('nan')):.2f} / {cf.get('NoAns_accuracy', float('nan')):.1f} % | {ins['f1']:.2f} / {ins.get('HasAns_f1', float('nan')):.2f} / {ins.get('NoAns_accuracy', float('nan')):.1f} % |

Weights (standardised features): {weights}.
"""
    atomic_write_text(card_path, card)


if __name__ == "__main__":
    raise SystemExit(main())
