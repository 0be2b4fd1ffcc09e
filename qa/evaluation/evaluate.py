"""``qa eval``: score the system on a question file, end to end or reader only.

Loads the questions (``qa.evaluation.questions``), runs them through the pipeline (or
the reader over gold contexts), turns every answer into an ``EvalResult`` and
hands the lot to ``qa.evaluation.metrics`` for the numbers and ``qa.evaluation.report`` for the files.
Reader-only mode reads each question's gold context and decides with the
product's own ``qa.answer.decide`` (denials dropped, yes/no questions answered
with evidence, margin threshold, then the verifier's cut-off when the reader
ships one). Training scores dev on the raw best span; the two differ only where
the decision drops a denial or a yes/no question (the note of each reader
release gives both).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from qa.answer.decide import decide
from qa.config import Settings
from qa.types import Passage
from qa.evaluation.metrics import (
    STAGES,
    EvalResult,
    answer_metrics,
    best_threshold_row,
    by_question_word,
    calibration_metrics,
    citation_accuracy,
    gold_rank,
    latency_metrics,
    risk_coverage,
    retrieval_metrics,
    score_prediction,
    threshold_sweep,
)
from qa.evaluation.questions import BadRecord, EvalQuestion, held_out_only, load_questions, read_or_report
from qa.evaluation.squad import best_threshold, margin_auc, squad_metrics

log = logging.getLogger("qa.evaluation.evaluate")

CUTOFFS = tuple(round(0.05 * i, 2) for i in range(21))  # confidence cut-offs swept end to end


# --- corpus of a SQuAD file -----------------------------------------------------


def write_context_corpus(path: str | Path, folder: Path, keep: Callable[[str], bool] | None = None) -> int:
    """Each article of a SQuAD file as a .txt article (title line, blank line, its paragraphs), so
    that its questions can be asked end to end over an index of the file's own articles (those whose
    title ``keep`` accepts, when given). Returns how many were written."""
    from qa.evaluation.squad import read_squad_json

    data = read_squad_json(path)
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for i, art in enumerate(data.get("data", [])):
        paragraphs = [" ".join(p.get("context", "").split()) for p in art.get("paragraphs", [])]
        title = " ".join(str(art.get("title") or f"Article {i}").split())
        if not any(paragraphs) or (keep is not None and not keep(str(art.get("title") or ""))):
            continue
        (folder / f"{i:05d}.txt").write_text(title + "\n\n" + "\n\n".join(p for p in paragraphs if p) + "\n",
                                            encoding="utf-8")
        n += 1
    return n


# --- running ------------------------------------------------------------------


def _progress(total: int, enabled: bool = True):
    from tqdm import tqdm

    return tqdm(total=total, desc="eval", unit="q", file=sys.stderr, disable=not enabled, dynamic_ncols=True)


def result_from_answer(q: EvalQuestion, ans: Any, wall_s: float) -> EvalResult:
    """One ``qa.types.Answer`` as an ``EvalResult``.

    A refused answer carries the best span it turned down in
    ``alternatives[0]`` ("text", "score", optionally "margin"); without
    alternatives it has no span. An answered one is its own best span.
    """
    answered = bool(ans.answered)
    prediction = ans.text if answered else ""
    score = float(ans.score)
    margin = None
    cited_id = cited_title = None
    if answered:
        best_span = ans.text
        if ans.citations:
            cited_id, cited_title = ans.citations[0].article_id, ans.citations[0].title
    elif ans.possible:  # the most confident span turned down (Answer.score is its confidence)
        best_span = ans.possible[0].text
        margin = ans.margin
    elif ans.alternatives:
        alt = max(ans.alternatives, key=lambda a: float(a.get("score", 0.0)))
        best_span = str(alt.get("text") or "")
        score = float(alt.get("score", score))
        margin = alt.get("margin")
    else:
        best_span = ""
    em, f1 = score_prediction(prediction, q.answers)
    passages = list(ans.passages or [])
    timings = {s: 1000.0 * float(ans.timings[s]) for s in STAGES if s in (ans.timings or {})}
    timings.setdefault("total", 1000.0 * wall_s)
    return EvalResult(
        id=q.id, question=q.question, answers=list(q.answers), prediction=prediction, answered=answered,
        score=score, best_span=best_span, em=em, f1=f1, margin=None if margin is None else float(margin),
        gold_article_id=q.article_id, gold_title=q.article_title, cited_article_id=cited_id, cited_title=cited_title,
        gold_rank=gold_rank(q.article_id, q.article_title, [(p.chunk.article_id, p.title) for p in passages]),
        retrieved=[p.title for p in passages], timings_ms=timings,
    )


def run_end_to_end(pipe: Any, questions: Sequence[EvalQuestion], k: int, progress: bool = True) -> list[EvalResult]:
    """Ask every question through the pipeline, one at a time, as a user would (so latencies are real)."""
    results = []
    with _progress(len(questions), progress) as bar:
        for q in questions:
            t0 = time.perf_counter()
            ans = pipe.ask(q.question, k=k)
            results.append(result_from_answer(q, ans, time.perf_counter() - t0))
            bar.update(1)
    return results


class _CountingReader:
    """Passes ``read_many`` through to the reader, ticking the progress bar; batching is unchanged."""

    def __init__(self, reader: Any, bar: Any) -> None:
        self.reader, self.bar = reader, bar

    def read_many(self, items):
        out = self.reader.read_many(items)
        self.bar.update(len(items))
        return out


@dataclass
class ReaderRun:
    """Reader-only outputs: per-question results plus the raw spans/margins the sweep needs."""

    results: list[EvalResult]
    texts: dict[str, str]
    margins: dict[str, float]
    gold: dict[str, list[str]]
    threshold: float
    official: dict  # official SQuAD metrics of the product's decisions, plus margin/confidence ROC AUC
    seconds: float


def gold_passage(q: EvalQuestion) -> Passage:
    """A question's gold context as the one passage the product's decision reads."""
    from qa.types import Chunk

    article = q.article_id or q.id
    text = q.context or ""
    return Passage(Chunk(f"{article}:0", article, 0, text, 0, len(text)), q.article_title or "", None, "")


def run_reader_only(reader: Any, questions: Sequence[EvalQuestion], progress: bool = True) -> ReaderRun:
    """The reader alone over each question's gold context, with the product's own decision.

    Each answer goes through ``qa.answer.decide`` as a question in the chat does: a yes/no
    question gets evidence (no span, so it counts as a refusal here), a span whose sentence
    denies the question is never the answer, the best remaining span must clear the stored
    threshold and, when a verifier ships with the reader, its cut-off; the confidence shown is
    the score the calibration checks. ``margin`` stays the raw best span's, for the sweep.
    The end-to-end calibrator (``calibration.json``) is left out: its features are retrieval's
    too (ranks, dense and BM25 scores), which a gold context alone does not have.
    """
    reader.load()
    reader.calibrator = None
    threshold = float(reader.null_threshold)
    t0 = time.perf_counter()
    reads: list = []
    counting = _CountingReader(reader, None)
    with _progress(len(questions), progress) as bar:
        counting.bar = bar
        for g in range(0, len(questions), 64):
            chunk = questions[g : g + 64]
            reads.extend(counting.read_many([(q.question, [q.context or ""]) for q in chunk]))
    seconds = time.perf_counter() - t0
    texts = {q.id: r.span_text() for q, r in zip(questions, reads)}
    margins = {q.id: float(r.margin) for q, r in zip(questions, reads)}
    gold = {q.id: list(q.answers) for q in questions}
    results = []
    for q, r in zip(questions, reads):
        # The product's own decision (qa.answer.decide) on the gold context as the only passage.
        passage = gold_passage(q)
        ans = decide(q.question, [passage], r)
        res = result_from_answer(q, ans, 0.0)
        res.margin = margins[q.id]
        res.best_span = res.best_span or texts[q.id]
        res.timings_ms = {}
        res.gold_rank, res.retrieved = None, []
        results.append(res)
    official = squad_metrics({r.id: r.prediction for r in results}, gold)
    official["margin_auc"] = margin_auc(margins, gold)
    official["confidence_auc"] = margin_auc({r.id: r.score for r in results}, gold)
    return ReaderRun(results, texts, margins, gold, threshold, official, seconds)


# --- threshold sweeps -----------------------------------------------------------


def confidence_sweep(results: Sequence[EvalResult], cutoff: float) -> dict:
    """End-to-end sweep over confidence cut-offs: answered at c iff the confidence shown is >= c.

    ``cutoff`` is the product's own (``qa.answer.decide``: fitted with the reader, or
    ``QA_ANSWER_CUTOFF``), so its row is the current setting.
    """
    spans = [r.best_span for r in results]
    scores = [r.score for r in results]
    answers = [r.answers for r in results]
    below = 1e-9  # threshold_sweep answers strictly above a threshold; the product answers at the cut-off too
    rows = threshold_sweep(spans, scores, answers, [c - below for c in CUTOFFS])
    best_c, best_f1 = best_threshold(
        {r.id: r.best_span for r in results}, {r.id: r.score for r in results}, {r.id: r.answers for r in results}
    )
    best_c = min(max(best_c, 0.0), 1.0)
    best = best_threshold_row(spans, scores, answers, best_c, best_f1)
    current = threshold_sweep(spans, scores, answers, [cutoff - below])[0]
    for row in (*rows, current):
        row["threshold"] = round(row["threshold"] + below, 6)
    return {"scale": "confidence", "cutoff": cutoff, "rows": rows, "current": current, "best": best,
            "risk_coverage": risk_coverage(results)}


def margin_sweep(run: ReaderRun, n: int = 41) -> dict:
    """Reader-only sweep over margin thresholds, spanning the margins seen (1st to 99th percentile)."""
    ids = [r.id for r in run.results]
    spans = [run.texts[i] for i in ids]
    margins = [run.margins[i] for i in ids]
    answers = [run.gold[i] for i in ids]
    best_t, best_f1 = best_threshold(run.texts, run.margins, run.gold)
    finite = np.array([m for m in margins if math.isfinite(m)], dtype=float)
    lo, hi = (np.percentile(finite, [1, 99]) if finite.size else (run.threshold - 5, run.threshold + 5))
    lo, hi = min(lo, run.threshold, best_t) - 0.5, max(hi, run.threshold, best_t) + 0.5
    grid = sorted(set(np.round(np.linspace(lo, hi, n), 3).tolist()))
    rows = threshold_sweep(spans, margins, answers, grid)
    current = threshold_sweep(spans, margins, answers, [run.threshold])[0]
    return {
        "scale": "margin",
        "stored_margin_threshold": run.threshold,
        "margin_is_relative": False,
        "rows": rows,
        "current": current,
        "best": best_threshold_row(spans, margins, answers, best_t, best_f1),
    }


# --- assembly -------------------------------------------------------------------


def summarize(
    results: Sequence[EvalResult],
    *,
    mode: str,
    k: int | None,
    sweep: dict,
    bad: Sequence[BadRecord] = (),
    answers: dict | None = None,
    extra: dict | None = None,
) -> dict:
    """All metrics of a run as one JSON-ready dict (no per-question details)."""
    out: dict[str, Any] = {"mode": mode}
    out.update(extra or {})
    out["counts"] = {
        "questions": len(results),
        "answerable": sum(r.answerable for r in results),
        "unanswerable": sum(not r.answerable for r in results),
        "with_gold_article": sum(r.has_gold_article for r in results),
        "bad_records": len(bad),
    }
    computed = answer_metrics(results)
    if answers is None:
        out["answers"] = computed
    else:  # reader-only: the official numbers as training reports them, plus the refusal rates
        out["answers"] = {**answers, "false_refusal_rate": computed["false_refusal_rate"],
                          "answer_rate": computed["answer_rate"]}
    if mode == "end_to_end":
        out["retrieval"] = retrieval_metrics(results, k or 0)
        out["citation"] = citation_accuracy(results)
        out["latency_ms"] = latency_metrics(results)
    out["by_question_word"] = by_question_word(results)
    out["calibration"] = calibration_metrics(results)
    out["threshold_sweep"] = sweep
    out["bad_records"] = [{"line": b.line, "error": b.error} for b in bad]
    return out


# --- CLI ------------------------------------------------------------------------


def run(args: argparse.Namespace, settings: Settings, *, pipeline: Any = None) -> int:
    """Run ``qa eval``; ``pipeline`` replaces ``qa.answer.pipeline.Pipeline(settings)`` (tests)."""
    from qa.evaluation.report import format_summary, write_report

    started = time.time()
    path = Path(args.questions)
    qset = read_or_report(load_questions, path)
    if qset is None:
        return 2
    if getattr(args, "held_out", False):
        qset = held_out_only(qset)
    questions = qset.questions[: args.limit] if args.limit else qset.questions
    if not questions:
        print(f"qa eval: {path}: no usable questions ({len(qset.bad)} bad records)", file=sys.stderr)
        return 2
    if args.k is not None and args.k < 1:
        print("qa eval: --k must be at least 1", file=sys.stderr)
        return 2
    k = args.k or settings.top_k
    if args.corpus and not args.reader_only:
        settings = settings.with_overrides(corpus=tuple(args.corpus))
    if pipeline is None:
        from qa.answer.pipeline import Pipeline

        pipeline = Pipeline(settings)
    extra: dict[str, Any] = {"questions_file": str(path), "format": qset.format}

    if args.reader_only:
        no_ctx = [q for q in questions if not q.context]
        if no_ctx:
            print(f"qa eval: --reader-only needs gold contexts (a SQuAD file, or 'context' in JSONL); "
                  f"{len(no_ctx)} of {len(questions)} questions have none", file=sys.stderr)
            return 2
        if args.corpus:
            log.warning("--corpus is ignored with --reader-only")
        rrun = run_reader_only(pipeline.reader, questions)
        results = rrun.results
        extra["reader"] = {"model": str(getattr(pipeline.reader, "model_path", "")),
                           "null_threshold": rrun.threshold, "seconds": rrun.seconds,
                           "questions_per_second": len(results) / rrun.seconds if rrun.seconds else None}
        summary = summarize(results, mode="reader_only", k=None, sweep=margin_sweep(rrun), bad=qset.bad,
                            answers=rrun.official, extra=extra)
    else:
        if args.corpus:
            report = pipeline.index(list(args.corpus))
            extra["index"] = {a: getattr(report, a, None)
                              for a in ("articles", "chunks", "skipped", "duplicates", "embedded", "removed")}
            extra["index"]["summary"] = report.summary()
            print(report.summary(), file=sys.stderr)
        # Fail early on a missing index or model, and load both before timing anything.
        prepare = getattr(pipeline, "warm_up", None) or getattr(pipeline, "check_ready", None)
        if callable(prepare):
            prepare()
        extra["k"] = k
        results = run_end_to_end(pipeline, questions, k)
        summary = summarize(results, mode="end_to_end", k=k, sweep=confidence_sweep(results, pipeline.answer_cutoff()),
                            bad=qset.bad, extra=extra)
    summary["elapsed_s"] = time.time() - started

    out_dir = Path(args.out) if args.out else Path("eval_out") / path.stem
    write_report(out_dir, summary, results)
    if args.json:
        from qa.evaluation.report import json_safe

        print(json.dumps(json_safe(summary), indent=2))
    else:
        print(format_summary(summary))
        print(f"\nreport: {out_dir / 'report.md'}")
    return 0

