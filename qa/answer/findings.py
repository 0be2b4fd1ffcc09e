"""From the reader's scored spans to the findings a reader is shown.

A question often has several answers in the articles ("What did Pakistan agree
to?": three things, in three sentences). The reader scores many spans; this
module keeps the ones worth showing.

Which spans become findings (margins are span score minus null score, the
reader's own scale):

1. Spans whose sentence denies the question (``qa.answer.negation``) are dropped,
   and so are spans that are what someone else asks of the question's subject
   ("pushing Pakistan to allow …" for "What did Pakistan agree to?",
   ``qa.answer.demands``).
2. The best remaining span is the first finding. It must clear the no-answer
   threshold itself, so "answered" still means confidence > 0.5; if it does
   not, the question is refused.
3. Every other span is a finding when it is close to the first one
   (margin >= first's − ``relative_margin``: the reader rates it nearly as
   likely, even if a strict threshold would refuse it alone), or when it
   comes from an article that holds no finding yet and is confidently an
   answer on its own (margin − threshold >= ``strong_margin``: another
   article answers too, e.g. another report of the same event). Inside one
   article the reader's ranking decides: spans far below the best one that
   merely clear a lenient threshold are noise ("co-operation" as what Beijing
   is pushing for) and are not shown. A further article must also be about
   what the question is about: it holds (title and retrieved passages) at
   least as many of the question's content words as the first finding's
   article. "When will the Greyfield library close?" then takes no "January"
   from a bridge article that mentions neither Greyfield nor a library.
4. One finding per sentence: a span touching a sentence already used by a
   better finding is dropped. At most ``max_findings``.
5. With a calibrator (``qa.answer.decide.apply_confidence``), every finding must
   clear its cut-off, and those after the first also ``further_confidence``:
   on the development sets most further findings are wrong (89 % on news dev).

Order (what "best first, grouped by article, ordered by date" means here):
the article holding the best finding comes first, so ``Answer.text`` is
always ``findings[0]``; the other articles follow newest first by date
(undated ones last, ties by their best finding); inside an article, findings
stay best first. Spans whose margins tie (to 0.01) prefer ``prefer_article``
(the article the previous answer of a conversation came from).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.store.chunk import split_sentences
from qa.answer.decode import SpanCandidate
from qa.answer.demands import demanded_in, question_subjects
from qa.answer.negation import QuestionPredicate
from qa.answer.terms import content_stems
from qa.types import Passage


@dataclass(frozen=True)
class FindingRules:
    """The knobs of the selection above, in reader logits (see the module docstring)."""

    max_findings: int = 5
    relative_margin: float = 2.0  # e^-2: the span is at least ~1/7 as likely as the best one
    strong_margin: float = 3.0  # confidence >= 0.95 on its own
    drop_demands: bool = True  # rule 1b: a demand made of the question's subject is never a finding
    same_topic: bool = True  # rule 3b: a further article must hold as many of the question's words as the first
    # Rule 5, with a calibrator: a finding after the first needs at least this confidence. The highest bar
    # that keeps 98 % of the further findings matching a gold answer on both dev sets (bench/finding_rules.py
    # --end-to-end, shipped reader): it drops 25 % of news dev's further findings (257, 2 of them right)
    # and 3 % of SQuAD dev's (17, none right); 0.15 would lose 7 % of news dev's right ones.
    further_confidence: float = 0.10


@dataclass(frozen=True)
class LocatedSpan:
    """A reader span placed in its passage, article and sentence(s)."""

    candidate: SpanCandidate  # offsets into passages[candidate.passage].chunk.text
    margin: float
    article_id: str
    sentences: frozenset[int]  # article offsets of the starts of the sentences it touches
    context: tuple[int, int]  # passage offsets of those sentences, joined

    @property
    def passage(self) -> int:
        return self.candidate.passage


@dataclass
class Selection:
    """The findings in display order, the other plausible spans, and the denied ones."""

    findings: list[LocatedSpan] = field(default_factory=list)
    others: list[LocatedSpan] = field(default_factory=list)  # best first; neither findings nor denied
    denied: list[LocatedSpan] = field(default_factory=list)  # best first
    demanded: list[LocatedSpan] = field(default_factory=list)  # what another asks of the subject (qa.answer.demands)


def locate(passages: list[Passage], candidates: list[SpanCandidate], null_score: float) -> list[LocatedSpan]:
    """Place each candidate (best first) in its sentences; chunks are sentence-aligned."""
    sentences: dict[int, list[tuple[int, int]]] = {}
    out = []
    for c in candidates:
        p = passages[c.passage]
        if c.passage not in sentences:
            sentences[c.passage] = split_sentences(p.chunk.text) or [(0, len(p.chunk.text))]
        touched = [(s, e) for s, e in sentences[c.passage] if s < c.end and e > c.start]
        if not touched:  # whitespace between sentences: use the span itself
            touched = [(c.start, c.end)]
        out.append(
            LocatedSpan(
                candidate=c,
                margin=c.score - null_score,
                article_id=p.chunk.article_id,
                sentences=frozenset(p.chunk.start + s for s, _ in touched),
                context=(min(c.start, touched[0][0]), max(c.end, touched[-1][1])),
            )
        )
    return out


def select(
    spans: list[LocatedSpan],
    passages: list[Passage],
    question: str,
    threshold: float,
    rules: FindingRules = FindingRules(),
    prefer_article: str | None = None,
) -> Selection:
    """Apply rules 1-4 and the display order of the module docstring."""
    predicate = QuestionPredicate.of(question)
    subjects = question_subjects(question)
    ranked = sorted(spans, key=lambda s: (-round(s.margin, 2), s.article_id != prefer_article))
    sel = Selection()
    used: set[tuple[str, int]] = set()
    articles: set[str] = set()
    anchor: float | None = None
    topic = _TopicShare(question, passages)
    first_share = 0
    for s in ranked:
        text = passages[s.passage].chunk.text
        a, b = s.context
        if predicate.denied_in(text[a:b], s.candidate.start - a, s.candidate.end - a):
            sel.denied.append(s)
            continue
        if rules.drop_demands and demanded_in(subjects, text[a:b], s.candidate.start - a, s.candidate.end - a):
            sel.demanded.append(s)
            continue
        keys = {(s.article_id, k) for k in s.sentences}
        if anchor is None:
            if s.margin <= threshold:
                sel.others.append(s)
                continue
            anchor = s.margin
            first_share = topic(s.article_id)
        else:
            close = s.margin >= anchor - rules.relative_margin
            new_article = s.article_id not in articles
            strong_elsewhere = s.margin - threshold >= rules.strong_margin and new_article
            off_topic = rules.same_topic and new_article and topic(s.article_id) < first_share
            if (len(sel.findings) >= rules.max_findings or keys & used or not (close or strong_elsewhere)
                    or off_topic):
                sel.others.append(s)
                continue
        sel.findings.append(s)
        used |= keys
        articles.add(s.article_id)
    sel.findings = order(sel.findings, passages)
    return sel


class _TopicShare:
    """How many of the question's content words (stemmed) an article holds in its title and retrieved passages."""

    def __init__(self, question: str, passages: list[Passage]) -> None:
        self.question = content_stems(question)
        self.passages = passages
        self.cache: dict[str, int] = {}

    def __call__(self, article_id: str) -> int:
        if article_id not in self.cache:
            texts = [f"{p.title or ''}\n{p.chunk.text}" for p in self.passages if p.chunk.article_id == article_id]
            self.cache[article_id] = len(self.question & content_stems("\n".join(texts)))
        return self.cache[article_id]


def order(findings: list[LocatedSpan], passages: list[Passage]) -> list[LocatedSpan]:
    """Group best-first findings by article: the best's article first, then newest first."""
    if not findings:
        return []
    groups: dict[str, list[LocatedSpan]] = {}
    for f in findings:
        groups.setdefault(f.article_id, []).append(f)
    first, *rest = list(groups)

    def date_key(article_id: str) -> tuple[int, str]:
        date = (passages[groups[article_id][0].passage].date or "")[:10]
        return (0, date) if date else (1, "")

    # Newest first: sort by date descending (undated after), stable on best-finding order.
    dated = sorted((a for a in rest if date_key(a)[0] == 0), key=lambda a: date_key(a)[1], reverse=True)
    undated = [a for a in rest if date_key(a)[0] == 1]
    return [f for a in [first, *dated, *undated] for f in groups[a]]
