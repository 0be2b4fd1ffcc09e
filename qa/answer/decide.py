"""The one decision: from what retrieval found and the reader read to the ``Answer`` a user sees.

Every caller goes through ``decide``: the pipeline (and so ``qa ask``, the chat and
follow-ups, which are decided on their rewritten question), and both modes of
``qa eval``, so a number ``qa eval`` prints is the product's own decision. It owns:

1. routing: a yes/no question (``qa.answer.rules.polar``) gets evidence, the sentences
   that bear on it with denials marked, never a span;
2. which spans may be shown (``qa.answer.rules.findings``: denials, demands, one span
   per sentence);
3. the confidence of every span (``qa.answer.confidence.calibrate``) and the order: findings,
   possible answers and alternatives are ordered by the confidence shown, so the
   first finding is always the most confident;
4. the cut-offs, fitted with the reader and stored beside it: the first finding must
   clear the answer cut-off, each further one the further-finding bar (and rule 4,
   same topic); below the answer cut-off the question is refused, and the best
   candidates that clear the possible-answer bar are shown as possible answers,
   marked low confidence, else the closest passages;
5. the messages, filter and language notes included.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qa.answer.confidence.calibrate import UNCALIBRATED, Cutoffs, answer_features
from qa.answer.reader.decode import SpanCandidate, merge_overlaps
from qa.answer.rules.findings import DecisionRules, LocatedSpan, TopicShare, locate, one_per_sentence, screen
from qa.text.language import ONLY_ENGLISH, looks_english
from qa.answer.rules.polar import evidence, is_polar
from qa.answer.reader.read import ReadResult
from qa.text.excerpt import best_sentence
from qa.text.sources import display_source
from qa.types import Answer, Citation, Filters, Finding, Passage

NO_ANSWER = "The articles do not answer this question."
NOT_SURE = "The articles do not answer this question with the confidence an answer needs."
POSSIBLE = "Possible answers, each below the confidence the product needs to answer:"
NO_ARTICLES = "The index holds no articles to search."
NO_MATCHING_ARTICLES = "No indexed article matches the filters (dates, sources); widen them to search more."
DENIED = "The closest passage says it did not happen."
EVIDENCE = ("A yes/no question: no single phrase of an article answers it, so here is what the articles say "
            "about it.")

Reading = ReadResult | Callable[[str], ReadResult] | None


def decide(question: str, passages: list[Passage], read: Reading, rules: DecisionRules = DecisionRules(), *,
           prefer_article: str | None = None, roots: list[Path] | None = None, filters: Filters | None = None,
           asked: str | None = None) -> Answer:
    """The answer to ``question`` from ``passages``.

    ``read``: the reader's result, or a function that reads ``question`` (called only for a span
    question), or None when nothing was read. ``roots``: folders sources are shown relative to;
    ``filters``: the filters the passages were retrieved under, for the refusal's note; ``asked``:
    the question as typed, for the language note.
    """
    roots = roots or []
    if rules.polar and is_polar(question):
        answer = evidence_answer(question, passages, roots)
    else:
        result = read(question) if callable(read) else read
        answer = span_answer(question, passages, result, rules, prefer_article, roots)
    return with_messages(answer, passages, filters, asked or question)


def span_answer(question: str, passages: list[Passage], result: ReadResult | None, rules: DecisionRules,
                prefer_article: str | None, roots: list[Path]) -> Answer:
    """Steps 2 to 4 of the module docstring."""
    if result is None or not passages:
        return refusal(question, passages, roots, calibrated=_calibrated(result))
    spans = locate(passages, merge_in_articles(passages, result), result.null_score)
    screened = screen(spans, passages, question, rules)
    conf, cutoffs = confidence(question, passages, result, spans)
    if rules.answer_cutoff is not None:
        cutoffs = Cutoffs(rules.answer_cutoff, max(cutoffs.further, rules.answer_cutoff), cutoffs.possible)
    # Most confident first; equal confidences prefer the article of the previous answer of a conversation.
    ranked = sorted(screened.kept, key=lambda s: (-conf(s), s.article_id != prefer_article))
    best, _ = one_per_sentence(ranked)
    findings: list[LocatedSpan] = []
    if best and conf(best[0]) >= cutoffs.answer:
        findings.append(best[0])
        topic = TopicShare(question, passages)
        first_share = topic(best[0].article_id)
        for s in best[1:]:
            if len(findings) >= rules.max_findings or not rules.further or conf(s) < cutoffs.further:
                break
            if rules.same_topic and s.article_id != best[0].article_id and topic(s.article_id) < first_share:
                continue
            findings.append(s)
    possible = [] if findings else [s for s in best if conf(s) >= cutoffs.possible][: rules.max_possible]
    shown = {id(s) for s in findings + possible}
    others = sorted([s for s in ranked if id(s) not in shown], key=lambda s: -conf(s))
    top = findings[0] if findings else (best[0] if best else None)
    calibrated = _calibrated(result)

    def finding(s: LocatedSpan, kind: str = "answer") -> Finding:
        return Finding(result.span_text(s.candidate), conf(s), citation(passages[s.passage], s.candidate, roots),
                       kind=kind)

    alternatives = [{"text": result.span_text(s.candidate), "score": conf(s), "margin": s.margin,
                     "title": passages[s.passage].title, "article_id": s.article_id} for s in others[:5]]
    common = dict(question=question, alternatives=alternatives, passages=passages, cutoff=cutoffs.answer,
                  calibrated=calibrated, margin=top.margin if top else None)
    if findings:
        shown_findings = [finding(s) for s in findings]
        return Answer(text=shown_findings[0].text, score=shown_findings[0].score, answered=True,
                      citations=[shown_findings[0].citation], findings=shown_findings, **common)
    message = NOT_SURE if possible else NO_ANSWER
    if not possible and screened.denied and (not best or screened.denied[0].margin > best[0].margin):
        message = f"{NO_ANSWER} {DENIED}"
    return Answer(text="", score=conf(top) if top else 0.0, answered=False,
                  citations=[closest(question, p, roots) for p in passages[:3]], message=message,
                  possible=[finding(s, "possible") for s in possible], **common)


def confidence(question: str, passages: list[Passage], result: ReadResult,
               spans: list[LocatedSpan]) -> tuple[Callable[[LocatedSpan], float], Cutoffs]:
    """The confidence shown for a span, and the cut-offs that go with it: the calibrator fitted for this
    reader when it has one, else the reader's own probability (``ReadResult.probability``)."""
    calibrator = result.calibrator
    cache: dict[int, float] = {}
    if calibrator is None:
        def own(s: LocatedSpan) -> float:
            if id(s) not in cache:
                cache[id(s)] = result.probability(s.candidate)
            return cache[id(s)]

        verifier = result.verifier
        cut = UNCALIBRATED if verifier is None else Cutoffs(verifier.cutoff, verifier.cutoff, 0.0)
        return own, cut
    everything = _others(result, spans)

    def calibrated(s: LocatedSpan) -> float:
        if id(s) not in cache:
            x = answer_features(question, passages, s.passage, s.candidate.start, s.candidate.end, s.margin,
                                everything)
            cache[id(s)] = float(calibrator.probability(x)[0])
        return cache[id(s)]

    return calibrated, calibrator.cutoffs


def span_features(question: str, passages: list[Passage], result: ReadResult, spans: list[LocatedSpan],
                  s: LocatedSpan) -> list[float]:
    """The calibrator's inputs for span ``s`` among the question's ``spans`` (what it is fitted on)."""
    return answer_features(question, passages, s.passage, s.candidate.start, s.candidate.end, s.margin,
                           _others(result, spans))


def _others(result: ReadResult, spans: list[LocatedSpan]) -> list[tuple[int, str, float]]:
    """Every span of the question as (passage, text, margin): what agreement and the lead are measured on."""
    return [(o.passage, result.span_text(o.candidate), o.margin) for o in spans]


def _calibrated(result: ReadResult | None) -> bool:
    return result is not None and (result.calibrator is not None or result.verifier is not None)


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


def evidence_answer(question: str, passages: list[Passage], roots: list[Path]) -> Answer:
    """A yes/no question: the sentences that bear on it, denials marked, no span claimed (qa.answer.rules.polar)."""
    found = evidence(question, passages)
    if not found:
        answer = refusal(question, passages, roots)
        answer.kind = "evidence"
        return answer
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


def refusal(question: str, passages: list[Passage], roots: list[Path], calibrated: bool = True) -> Answer:
    return Answer(question=question, text="", score=0.0, answered=False, message=NO_ANSWER,
                  citations=[closest(question, p, roots) for p in passages[:3]], passages=passages,
                  calibrated=calibrated)


def with_messages(answer: Answer, passages: list[Passage], filters: Filters | None, asked: str) -> Answer:
    """The refusal's reasons: no articles at all, none under the filters, the filters searched, the language."""
    narrowed = filters is not None and filters.active
    if not answer.answered:
        if not passages:
            answer.message = NO_MATCHING_ARTICLES if narrowed else NO_ARTICLES
        elif narrowed:
            answer.message = f"{answer.message} {filter_note(filters)}"
        if not looks_english(asked):
            answer.message = f"{answer.message} {ONLY_ENGLISH}".strip()
    return answer


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
