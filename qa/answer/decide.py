"""The one answer-or-refuse decision: from what the reader read to the ``Answer`` a user sees.

Every caller goes through ``decide``: the pipeline (and so ``qa ask`` and the
chat), and both modes of ``qa eval`` (``--reader-only`` wraps each gold
context as a passage), so a number ``qa eval`` prints is the product's own
decision. In order:

1. A yes/no question (``qa.answer.polar``) is not read for a span: its answer
   is the evidence, the sentences that bear on it, denials marked.
2. Spans from overlapping chunks of one article are merged (they are the same
   words), then placed in their sentences.
3. ``qa.answer.findings.select``: a span whose sentence denies the question is
   never a finding; the best remaining one must clear the reader's no-answer
   threshold; other close spans become further findings.
4. When an end-to-end calibrator ships with the reader (``qa.answer.calibrate``),
   its probability is the confidence shown and every finding must clear its
   cut-off; else, when a verifier ships, the first finding must clear the
   verifier's cut-off.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qa.answer.calibrate import answer_features
from qa.answer.decode import SpanCandidate, merge_overlaps
from qa.answer.findings import FindingRules, LocatedSpan, Selection, locate, select
from qa.answer.polar import best_sentence, evidence
from qa.answer.read import ReadResult
from qa.answer.sources import display_source
from qa.types import Answer, Citation, Filters, Finding, Passage

NO_ANSWER = "The articles do not answer this question."
NO_ARTICLES = "The index holds no articles to search."
DENIED = "The closest passage says it did not happen."
EVIDENCE = ("A yes/no question: no single phrase of an article answers it, so here is what the articles say "
            "about it.")


def decide(question: str, passages: list[Passage], result: ReadResult | None,
           rules: FindingRules = FindingRules(), prefer_article: str | None = None,
           roots: list[Path] | None = None) -> Answer:
    """The answer to ``question`` from ``passages`` and the reader's ``result`` (None: a yes/no question,
    answered with evidence). ``roots``: folders sources are shown relative to."""
    roots = roots or []
    if result is None:
        return evidence_answer(question, passages, roots)
    spans = locate(passages, merge_in_articles(passages, result), result.null_score)
    sel = select(spans, passages, question, result.threshold, rules, prefer_article)
    everything = [(s.passage, result.span_text(s.candidate), s.margin) for s in spans]

    def feats(s: LocatedSpan) -> list[float]:
        return answer_features(question, passages, s.passage, s.candidate.start, s.candidate.end, s.margin,
                               everything)

    conf = apply_confidence(sel, result, feats, rules.further_confidence)
    top = sel.findings[0] if sel.findings else (sel.others[0] if sel.others else None)
    top_features = feats(top) if top is not None else None

    alternatives = [
        {
            "text": result.span_text(s.candidate),
            "score": conf(s),
            "margin": s.margin,
            "title": passages[s.passage].title,
            "article_id": s.article_id,
        }
        for s in sel.others[:5]
    ]
    if sel.findings:
        findings = [
            Finding(result.span_text(s.candidate), conf(s), citation(passages[s.passage], s.candidate, roots))
            for s in sel.findings
        ]
        return Answer(
            question=question,
            text=findings[0].text,
            score=findings[0].score,
            answered=True,
            citations=[findings[0].citation],
            alternatives=alternatives,
            passages=passages,
            findings=findings,
            margin=sel.findings[0].margin,
            features=top_features,
        )
    message = NO_ANSWER if passages else NO_ARTICLES
    if sel.denied and sel.denied[0].margin > result.threshold:
        message = f"{NO_ANSWER} {DENIED}"
    return Answer(
        question=question,
        text="",
        score=alternatives[0]["score"] if alternatives else 0.0,
        answered=False,
        citations=[closest(question, p, roots) for p in passages[:3]],
        message=message,
        alternatives=alternatives,
        passages=passages,
        margin=sel.others[0].margin if sel.others else None,
        features=top_features,
    )


def merge_in_articles(passages: list[Passage], result: ReadResult) -> list[SpanCandidate]:
    """The reader's spans, best first, with spans from overlapping chunks of one article (the same
    words) merged in article coordinates."""
    groups = {p.chunk.article_id: i for i, p in enumerate(passages)}
    by_article = {}
    for c in result.candidates:
        p = passages[c.passage]
        key = SpanCandidate(groups[p.chunk.article_id], p.chunk.start + c.start,
                            p.chunk.start + c.end, c.score, c.null_score)
        by_article[key] = c
    return [by_article[k] for k in merge_overlaps(sorted(by_article, key=lambda k: -k.score))]


def apply_confidence(sel: Selection, result: ReadResult, feats: Callable[[LocatedSpan], list[float]],
                     further: float = 0.0) -> Callable[[LocatedSpan], float]:
    """Step 4: the confidence of a span, and the findings that keep their place by it (``sel`` is updated).

    With a calibrator every finding must clear its cut-off, and those after the first also ``further``
    (most further findings are wrong; see ``FindingRules.further_confidence``); with a verifier only
    the first must clear its cut-off.
    """
    calibrator = getattr(result, "calibrator", None)
    if calibrator is None:
        def conf(s: LocatedSpan) -> float:
            return result.probability(s.candidate)

        if sel.findings and result.verifier is not None and conf(sel.findings[0]) <= result.verifier.cutoff:
            # The verifier judges the best span unlikely to be right: refuse rather than guess.
            sel.others = list(sel.findings) + list(sel.others)
            sel.findings = []
        return conf
    probs: dict[int, float] = {}

    def conf(s: LocatedSpan) -> float:
        if id(s) not in probs:
            probs[id(s)] = float(calibrator.probability(feats(s))[0])
        return probs[id(s)]

    # Every finding, the first and those from other articles alike, must clear the calibrated bar.
    kept = [s for s in sel.findings if conf(s) > calibrator.cutoff]
    kept = kept[:1] + [s for s in kept[1:] if conf(s) >= further]
    dropped = [s for s in sel.findings if s not in kept]
    sel.findings, sel.others = kept, sorted([*dropped, *sel.others], key=lambda s: -s.margin)
    return conf


def evidence_answer(question: str, passages: list[Passage], roots: list[Path]) -> Answer:
    """A yes/no question: the sentences that bear on it, denials marked, no span claimed (qa.answer.polar)."""
    found = evidence(question, passages)
    if not found:
        return Answer(question=question, text="", score=0.0, answered=False, kind="evidence",
                      citations=[closest(question, p, roots) for p in passages[:3]],
                      message=NO_ANSWER if passages else NO_ARTICLES, passages=passages)
    findings = []
    for e in found:
        p = passages[e.passage]
        cite = citation(p, roots=roots)
        cite.answer_start, cite.answer_end = e.start, e.end
        findings.append(Finding(" ".join(p.chunk.text[e.start:e.end].split()), round(e.share, 3), cite,
                                kind="evidence", denies=e.denies, terms=list(e.terms)))
    denials = sum(f.denies for f in findings)
    message = EVIDENCE + (f" {denials} of them {'says' if denials == 1 else 'say'} it did not happen."
                          if denials else "")
    return Answer(question=question, text="", score=0.0, answered=True, kind="evidence",
                  citations=[f.citation for f in findings], message=message, passages=passages,
                  findings=findings)


def filter_note(filters: Filters) -> str:
    """What a refusal adds when filters narrowed the search, so the user knows to widen them."""
    parts = []
    if filters.since or filters.until:
        parts.append(f"dated {filters.since or '…'} to {filters.until or '…'}")
    if filters.sources:
        parts.append("from " + ", ".join(filters.sources))
    return "Only articles " + " and ".join(parts) + " were searched."


def closest(question: str, p: Passage, roots: list[Path]) -> Citation:
    """A closest passage of a refusal, its sentence that best matches the question in view (``focus``)."""
    cite = citation(p, roots=roots)
    best = best_sentence(question, p.chunk.text)
    if best is not None:
        cite.focus_start, cite.focus_end = best
    return cite


def citation(p: Passage, span: SpanCandidate | None = None, roots: list[Path] | None = None) -> Citation:
    return Citation(
        article_id=p.chunk.article_id,
        title=p.title,
        date=p.date,
        source=display_source(p.source, p.url, roots or []),
        url=p.url,
        passage=p.chunk.text,
        passage_start=p.chunk.start,
        answer_start=span.start if span else None,
        answer_end=span.end if span else None,
        score=p.score,
    )
