"""Evaluation metrics over per-question records: pure functions, no I/O, no models.

Answer quality (EM/F1 and the HasAns/NoAns split) is computed with the official
SQuAD 2.0 definitions in ``qa.evaluation.squad`` so that ``qa eval`` and reader training
report identical numbers for identical predictions. Rates are in percent, like
the official script; MRR is in [0, 1]; confidences are in [0, 1].
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from qa.evaluation.squad import max_over_golds, squad_metrics
from qa.text.normalize import normalize_answer

QUESTION_WORDS = ("who", "what", "when", "where", "which", "how many", "how much", "how", "why", "other")
STAGES = ("retrieve", "read", "total")


@dataclass
class EvalResult:
    """What happened to one question; the unit every metric is computed over."""

    id: str
    question: str
    answers: list[str]  # acceptable gold answers; empty: unanswerable
    prediction: str  # the answer given, "" when refused
    answered: bool
    score: float  # confidence of the best span in [0, 1], also when refused (0 when there is no span)
    best_span: str = ""  # best span text even when refused, for the threshold sweep
    em: int = 0
    f1: float = 0.0
    margin: float | None = None  # best span minus null score, when known (reader-only mode)
    gold_article_id: str | None = None
    gold_title: str | None = None
    cited_article_id: str | None = None  # article cited by the answer; None when refused
    cited_title: str | None = None
    gold_rank: int | None = None  # 1-based rank of the first retrieved passage of the gold article
    retrieved: list[str] = field(default_factory=list)  # titles of the retrieved passages, best first
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        return is_answerable(self.answers)

    @property
    def has_gold_article(self) -> bool:
        return bool(self.gold_article_id or self.gold_title)


def is_answerable(answers: Sequence[str]) -> bool:
    """The official rule: gold answers that normalise to nothing mean 'no answer'."""
    return any(normalize_answer(a) for a in answers)


def score_prediction(prediction: str, answers: Sequence[str]) -> tuple[int, float]:
    """(EM, F1) of one prediction, max over golds, official normalisation."""
    return max_over_golds(prediction, list(answers))


# --- answers ------------------------------------------------------------------


def answer_metrics(results: Sequence[EvalResult]) -> dict[str, float]:
    """Official SQuAD 2.0 numbers plus how often the system refuses.

    ``false_refusal_rate``: refused although answerable, over answerable
    questions; ``answer_rate``: answered, over all questions. Both in percent.
    """
    preds = {r.id: (r.prediction if r.answered else "") for r in results}
    gold = {r.id: list(r.answers) for r in results}
    if len(gold) != len(results):
        raise ValueError("question ids must be unique")
    out: dict[str, float] = dict(squad_metrics(preds, gold))
    answerable = [r for r in results if r.answerable]
    out["false_refusal_rate"] = _pct(sum(not r.answered for r in answerable), len(answerable))
    out["answer_rate"] = _pct(sum(r.answered for r in results), len(results))
    return out


def _pct(num: float, den: int) -> float | None:
    return 100.0 * num / den if den else None


# --- retrieval and citation ---------------------------------------------------


def normalize_title(title: str | None) -> str:
    """Titles compare case-insensitively with whitespace collapsed."""
    return " ".join((title or "").casefold().split())


def article_match(gold_id: str | None, gold_title: str | None, article_id: str | None, title: str | None) -> bool:
    """Is this the gold article? By id when the gold gives one, else by normalised title."""
    if gold_id:
        return article_id == gold_id
    if gold_title:
        return normalize_title(title) == normalize_title(gold_title)
    return False


def gold_rank(gold_id: str | None, gold_title: str | None, retrieved: Iterable[tuple[str, str]]) -> int | None:
    """1-based rank of the first (article_id, title) from the gold article; None if absent."""
    for rank, (aid, title) in enumerate(retrieved, 1):
        if article_match(gold_id, gold_title, aid, title):
            return rank
    return None


def ranking_metrics(ranks: Sequence[int | None], k: int) -> dict[str, float | int | None]:
    """Recall@k, recall@1 (percent) and MRR of the gold article; ``None`` rank = not retrieved."""
    n = len(ranks)
    return {
        "k": k,
        "n": n,
        "recall_at_k": _pct(sum(r is not None and r <= k for r in ranks), n),
        "recall_at_1": _pct(sum(r == 1 for r in ranks), n),
        "mrr": float(np.mean([1.0 / r if r else 0.0 for r in ranks])) if n else None,
    }


def retrieval_metrics(results: Sequence[EvalResult], k: int) -> dict[str, float | int | None]:
    """Ranking metrics over the questions that name a gold article (others say nothing about retrieval)."""
    return ranking_metrics([r.gold_rank for r in results if r.has_gold_article], k)


def citation_accuracy(results: Sequence[EvalResult]) -> dict[str, float | int | None]:
    """Share of answered, answerable questions with a gold article whose answer cites that article."""
    pool = [r for r in results if r.answered and r.answerable and r.has_gold_article]
    ok = sum(article_match(r.gold_article_id, r.gold_title, r.cited_article_id, r.cited_title) for r in pool)
    return {"accuracy": _pct(ok, len(pool)), "n": len(pool)}


# --- latency ------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """q-th percentile with linear interpolation between order statistics (numpy's default)."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def latency_stats(values_ms: Sequence[float]) -> dict[str, float | int | None]:
    return {
        "n": len(values_ms),
        "p50": percentile(values_ms, 50),
        "p95": percentile(values_ms, 95),
        "mean": float(np.mean(values_ms)) if len(values_ms) else None,
    }


def latency_metrics(results: Sequence[EvalResult]) -> dict[str, dict]:
    """p50/p95/mean in milliseconds per stage, over the questions that report that stage."""
    return {
        stage: latency_stats([r.timings_ms[stage] for r in results if stage in r.timings_ms]) for stage in STAGES
    }


# --- question words -----------------------------------------------------------

_WORD = re.compile(r"[a-z]+")
_WH = {"who": "who", "whom": "who", "whose": "who", "what": "what", "when": "when", "where": "where",
       "which": "which", "why": "why"}


def question_word(question: str) -> str:
    """The question's first wh-word ('how many'/'how much' before 'how'), else 'other'.

    The first one anywhere, not only at the start, so 'In which year ...' is a
    'which' question.
    """
    toks = _WORD.findall(question.casefold())
    for i, tok in enumerate(toks):
        if tok == "how":
            nxt = toks[i + 1] if i + 1 < len(toks) else ""
            return f"how {nxt}" if nxt in ("many", "much") else "how"
        if tok in _WH:
            return _WH[tok]
    return "other"


def by_question_word(results: Sequence[EvalResult]) -> dict[str, dict]:
    """EM/F1 (percent) and count per question word, in ``QUESTION_WORDS`` order, present words only."""
    groups: dict[str, list[EvalResult]] = {}
    for r in results:
        groups.setdefault(question_word(r.question), []).append(r)
    return {
        w: {"n": len(g), "exact": 100.0 * float(np.mean([r.em for r in g])),
            "f1": 100.0 * float(np.mean([r.f1 for r in g]))}
        for w in QUESTION_WORDS
        if (g := groups.get(w))
    }


# --- calibration --------------------------------------------------------------


def span_is_correct(r: EvalResult) -> bool:
    """Whether the best span is a right answer: the event the confidence score predicts.

    The score is sigmoid(margin - threshold) of the best span and exists for
    every question, answered or refused, so it is read as "probability that
    this span answers the question": correct iff the question is answerable
    and the best span has F1 >= 0.5 against the golds. A span for an
    unanswerable question is never correct, whatever its score. For answered
    questions this is exactly "the answer given is right" (answering an
    unanswerable question is wrong); refused questions keep their low scores
    in the low bins, so the whole [0, 1] range is checked instead of only the
    answered half.
    """
    return r.answerable and score_prediction(r.best_span, r.answers)[1] >= 0.5


def calibration(confidences: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> dict:
    """Reliability bins over [0, 1] and the expected calibration error.

    Bin i holds confidences in [i/n, (i+1)/n), the last bin also 1.0. ECE is
    the count-weighted mean |accuracy - mean confidence| over non-empty bins.
    """
    conf = np.clip(np.asarray(confidences, dtype=float), 0.0, 1.0)
    ok = np.asarray(correct, dtype=float)
    idx = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        m = idx == b
        n = int(m.sum())
        acc = float(ok[m].mean()) if n else None
        mean_conf = float(conf[m].mean()) if n else None
        if n:
            ece += n / len(conf) * abs(acc - mean_conf)
        bins.append({"lo": b / n_bins, "hi": (b + 1) / n_bins, "n": n, "confidence": mean_conf, "accuracy": acc})
    return {"bins": bins, "ece": float(ece) if len(conf) else None, "n": int(len(conf))}


CONFIDENT = 0.9  # answers shown at this confidence or more are the ones a reader acts on without checking


def calibration_metrics(results: Sequence[EvalResult], n_bins: int = 10) -> dict:
    out = calibration([r.score for r in results], [span_is_correct(r) for r in results], n_bins)
    out["correct_means"] = "answerable and best span F1 >= 0.5 (see qa.evaluation.metrics.span_is_correct)"
    confident = [r for r in results if r.answered and r.score >= CONFIDENT]
    out["confident_answers"] = len(confident)
    out["confident_wrong_share"] = (sum(not span_is_correct(r) for r in confident) / len(confident)
                                    if confident else None)
    # With none at 0.9 the share is undefined; the highest confidence shown says how far off it was.
    out["highest_answered_confidence"] = max((r.score for r in results if r.answered), default=None)
    return out


# --- no-answer threshold sweep --------------------------------------------------


def threshold_sweep(
    span_texts: Sequence[str], values: Sequence[float], answers: Sequence[Sequence[str]], thresholds: Iterable[float]
) -> list[dict]:
    """Official metrics when each question is answered with its span iff value > threshold.

    ``values`` are margins (reader-only) or confidences (end to end). A
    question without a span ("") is never answered. Per-question scores come
    from ``max_over_golds`` once; each row equals ``squad_metrics`` of the
    predictions at that threshold.
    """
    spans = list(span_texts)
    v = np.asarray(values, dtype=float)
    has = np.array([is_answerable(a) for a in answers], dtype=bool)
    span_scores = np.array([max_over_golds(s, list(a)) for s, a in zip(spans, answers)], dtype=float).reshape(-1, 2)
    refuse_scores = np.array([max_over_golds("", list(a)) for a in answers], dtype=float).reshape(-1, 2)
    span_em, span_f1 = span_scores[:, 0], span_scores[:, 1]
    ref_em, ref_f1 = refuse_scores[:, 0], refuse_scores[:, 1]
    nonempty = np.array([bool(s) for s in spans], dtype=bool)
    rows = []
    n = len(spans)
    for t in thresholds:
        ans = (v > t) & nonempty
        em = np.where(ans, span_em, ref_em)
        f1 = np.where(ans, span_f1, ref_f1)
        rows.append({
            "threshold": float(t),
            "exact": 100.0 * float(em.mean()) if n else None,
            "f1": 100.0 * float(f1.mean()) if n else None,
            "HasAns_exact": 100.0 * float(em[has].mean()) if has.any() else None,
            "HasAns_f1": 100.0 * float(f1[has].mean()) if has.any() else None,
            "NoAns_accuracy": 100.0 * float(em[~has].mean()) if (~has).any() else None,
            "answer_rate": _pct(int(ans.sum()), n),
            "false_refusal_rate": _pct(int((~ans & has).sum()), int(has.sum())),
            "answered_right_share": _pct(int((ans & has & (span_f1 >= 0.5)).sum()), int(ans.sum())),
        })
    return rows


def risk_coverage(results: Sequence[EvalResult]) -> list[dict]:
    """The answered-right share against the share answered, for every cut-off on the confidence shown:
    answering the k most confident questions, how many of those answers are right (``span_is_correct``)."""
    order = sorted(results, key=lambda r: -r.score)
    out, right = [], 0
    for k, r in enumerate(order, 1):
        right += span_is_correct(r)
        if k == len(order) or order[k].score != r.score:  # tied confidences are answered together
            out.append({"cutoff": float(r.score), "answered_share": k / len(order), "right_share": right / k})
    return out


def best_threshold_row(
    span_texts: Sequence[str], values: Sequence[float], answers: Sequence[Sequence[str]], threshold: float,
    best_f1: float,
) -> dict:
    """The sweep row at the threshold ``qa.evaluation.squad.best_threshold`` chose, with the F1 it reported.

    The two F1s differ only when tied values straddle the threshold.
    """
    row = threshold_sweep(span_texts, values, answers, [threshold])[0]
    row["best_f1"] = best_f1
    return row
