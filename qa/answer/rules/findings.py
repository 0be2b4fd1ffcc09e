"""Which of the reader's spans may be shown at all, and the switches of every rule of the decision.

A question often has several answers in the articles ("What did Pakistan agree
to?": three things, in three sentences). The reader scores many spans; the
rules here say which of them can be findings. How sure the product is of each
(``qa.answer.confidence.calibrate``) then orders and cuts them (``qa.answer.decide``):
nothing here reads the reader's own scores, so the rules hold for any reader.

1. ``denial``: a span whose sentence denies the question (``qa.answer.rules.negation``)
   is never a finding.
2. ``demands``: nor is what someone asks another to do ("pushing Pakistan to
   allow …" for "What did Pakistan agree to?", ``qa.answer.rules.demands``).
3. One span per sentence: the most confident one (a sentence says one thing).
4. ``same_topic``: a finding from another article than the first finding's must
   be about what the question is about: its title and retrieved passages hold at
   least as many of the question's content words as the first finding's article.
   "When will the Greyfield library close?" then takes no "January" from a bridge
   article that mentions neither Greyfield nor a library.

Each rule has a switch in ``DecisionRules``, and ``bench/finding_rules.py`` prints
what each is worth on SQuAD dev and news dev.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.answer.reader.decode import SpanCandidate
from qa.answer.rules.demands import demanded_in
from qa.answer.rules.negation import QuestionPredicate
from qa.text.terms import content_stems
from qa.text.sentences import split_sentences
from qa.types import Passage


@dataclass(frozen=True)
class DecisionRules:
    """The switches of the decision (every rule can be turned off) and its sizes.

    The cut-offs are not here: they are fitted with the reader and stored beside it
    (``qa.answer.confidence.calibrate.Cutoffs``); ``answer_cutoff`` only overrides the stored one.
    """

    polar: bool = True  # a yes/no question gets the sentences that bear on it, not a span
    denial: bool = True  # rule 1
    demands: bool = True  # rule 2
    same_topic: bool = True  # rule 4
    further: bool = True  # findings after the first (each must clear the further-finding bar)
    max_findings: int = 5
    max_possible: int = 3  # below the cut-off: candidates shown as possible answers
    answer_cutoff: float | None = None  # None: the cut-off stored with the reader


@dataclass(frozen=True)
class LocatedSpan:
    """A reader span placed in its passage, article and sentence(s)."""

    candidate: SpanCandidate  # offsets into passages[candidate.passage].chunk.text
    margin: float  # span score minus null score: one input of the confidence, never a rule's threshold
    article_id: str
    sentences: frozenset[int]  # article offsets of the starts of the sentences it touches
    context: tuple[int, int]  # passage offsets of those sentences, joined

    @property
    def passage(self) -> int:
        return self.candidate.passage

    def keys(self) -> set[tuple[str, int]]:
        return {(self.article_id, k) for k in self.sentences}


@dataclass
class Screened:
    """The spans that may be findings (reader order), and those the rules turned away."""

    kept: list[LocatedSpan] = field(default_factory=list)
    denied: list[LocatedSpan] = field(default_factory=list)
    demanded: list[LocatedSpan] = field(default_factory=list)


def locate(passages: list[Passage], candidates: list[SpanCandidate], null_score: float) -> list[LocatedSpan]:
    """Place each candidate in its sentences; chunks are sentence-aligned."""
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


def screen(spans: list[LocatedSpan], passages: list[Passage], question: str,
           rules: DecisionRules = DecisionRules()) -> Screened:
    """Rules 1 and 2: set apart denials and demands."""
    predicate = QuestionPredicate.of(question)
    out = Screened()
    for s in spans:
        text = passages[s.passage].chunk.text
        a, b = s.context
        start, end = s.candidate.start - a, s.candidate.end - a
        if rules.denial and predicate.denied_in(text[a:b], start, end):
            out.denied.append(s)
        elif rules.demands and demanded_in(question, text[a:b], start, end):
            out.demanded.append(s)
        else:
            out.kept.append(s)
    return out


def one_per_sentence(ranked: list[LocatedSpan]) -> tuple[list[LocatedSpan], list[LocatedSpan]]:
    """Rule 3 over spans ranked best first: (the best span of each sentence, the rest)."""
    used: set[tuple[str, int]] = set()
    best, rest = [], []
    for s in ranked:
        if s.keys() & used:
            rest.append(s)
            continue
        used |= s.keys()
        best.append(s)
    return best, rest


class TopicShare:
    """Rule 4: how many of the question's content words (stemmed) an article holds in its title and
    retrieved passages."""

    def __init__(self, question: str, passages: list[Passage]) -> None:
        self.question = content_stems(question)
        self.passages = passages
        self.cache: dict[str, int] = {}

    def __call__(self, article_id: str) -> int:
        if article_id not in self.cache:
            held: frozenset[str] = frozenset()
            for p in self.passages:
                if p.chunk.article_id == article_id:
                    held |= content_stems(p.title or "") | content_stems(p.chunk.text)
            self.cache[article_id] = len(self.question & held)
        return self.cache[article_id]
