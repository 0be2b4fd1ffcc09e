"""The typed records that flow through the pipeline: ingest → chunk → retrieve → read → cite."""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import asdict, dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Article:
    """One cleaned article. ``id`` is a hash of its content, so it is stable across runs."""

    id: str
    title: str
    text: str  # cleaned body; every offset in the system points into this string
    date: str | None = None  # ISO 8601 date (or date-time) when the source gives one
    source: str = ""  # file path, with '#N' for the N-th record of a multi-record file
    url: str = ""


@dataclass(frozen=True)
class Chunk:
    """A sentence-aligned piece of an article; ``text == article.text[start:end]``."""

    id: str  # f"{article_id}:{index}"
    article_id: str
    index: int
    text: str
    start: int
    end: int


@dataclass
class Passage:
    """A retrieved chunk with the metadata needed to cite it."""

    chunk: Chunk
    title: str
    date: str | None
    source: str
    url: str = ""
    score: float = 0.0  # fused (reciprocal rank) score
    dense_rank: int | None = None  # 1-based; None when that retriever missed it
    lexical_rank: int | None = None


@dataclass
class Citation:
    """Where an answer comes from; span offsets are relative to ``passage``."""

    article_id: str
    title: str
    date: str | None
    source: str
    url: str
    passage: str
    passage_start: int  # offset of the passage in the article text
    answer_start: int | None = None  # None for a 'closest passage' with no answer in it
    answer_end: int | None = None
    score: float = 0.0
    focus_start: int | None = None  # a closest passage's sentence that best matches the question: kept in view
    focus_end: int | None = None


@dataclass
class Finding:
    """One distinct answer span (one per sentence), with the passage that says it.

    For a yes/no question a finding is ``kind="evidence"``: ``text`` is a whole sentence that bears
    on the question (its span in the citation), ``score`` the share of the question's key terms it
    holds (not a confidence), ``denies`` whether it negates what is asked, and ``terms`` where the
    question's key terms are in the passage, for highlighting.
    """

    text: str
    score: float  # confidence in [0, 1], same scale as Answer.score (evidence: share of key terms)
    citation: Citation
    # "answer": a span that answers; "possible": a span below the answer cut-off, shown marked as such;
    # "evidence": a sentence bearing on a yes/no question
    kind: str = "answer"
    denies: bool = False
    terms: list[tuple[int, int]] = field(default_factory=list)  # passage offsets of the question's key terms

    def to_dict(self) -> dict:
        """Flat: the span, its confidence and the citation's fields (not its retrieval score)."""
        c = asdict(self.citation)
        for key in ("score", "focus_start", "focus_end"):  # retrieval score; focus is for closest passages
            c.pop(key)
        d = {"text": self.text, "score": self.score, "kind": self.kind, **c}
        if self.kind == "evidence":
            d.update(denies=self.denies, terms=[list(t) for t in self.terms])
        return d


@dataclass
class Answer:
    """What the user gets back: the span, a confidence, and where it is written.

    ``findings`` lists every distinct span that answers the question, most confident first (see
    ``qa.answer.decide``); ``text`` is the first one's text. A refusal may carry ``possible``
    answers: the best spans below the cut-off, most confident first, to be shown marked as such.
    """

    question: str
    text: str  # empty when the articles do not answer the question
    score: float  # confidence in [0, 1] of the first finding (refused: of the best span turned down)
    answered: bool
    citations: list[Citation] = field(default_factory=list)
    message: str = ""
    alternatives: list[dict] = field(default_factory=list)  # other spans: text, score, article
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    passages: list[Passage] = field(default_factory=list, repr=False)  # retrieved, best first
    findings: list[Finding] = field(default_factory=list)
    resolved_question: str = ""  # the question actually answered (a follow-up rewritten); default: question
    kind: str = "answer"  # "evidence": a yes/no question, answered with the sentences that bear on it, no span
    follows: str | None = None  # a follow-up: the earlier question it was read against
    margin: float | None = None  # the reader's span-minus-null score of the best span shown or refused
    calibrated: bool = True  # False: the reader has no calibration.json, so ``score`` is its raw probability
    possible: list[Finding] = field(default_factory=list)  # refused: candidates below the cut-off
    cutoff: float | None = None  # the confidence an answer needed (None: not a span question)

    def __post_init__(self) -> None:
        if not self.resolved_question:
            self.resolved_question = self.question

    def to_dict(self, with_passages: bool = False) -> dict:
        """JSON-ready; the span is under ``answer`` (empty when refused), findings are flat objects."""
        d = asdict(self)
        if not with_passages:
            d.pop("passages")
        d["findings"] = [f.to_dict() for f in self.findings]
        d["possible"] = [f.to_dict() for f in self.possible]
        return {"answer": d.pop("text"), **d}


class ArticleLike(Protocol):
    """What a filter needs of an article's metadata (``qa.store.versions.ArticleMeta`` has it)."""

    date: str | None
    source: str
    url: str


@dataclass(frozen=True)
class Filters:
    """Which articles a question may be answered from.

    Dates compare on the article's ISO date (its first 10 characters). When a
    date bound is set, articles without a date are excluded: we cannot tell
    whether they fall in the range, and showing them would look like a broken
    filter. ``sources`` are case-insensitive substrings matched against the
    article's source (file path, '#N' for a record) and its URL; any one
    matching is enough. ``Pipeline.sources()`` lists labels that work here.
    """

    since: str | None = None  # ISO date YYYY-MM-DD, inclusive
    until: str | None = None  # inclusive
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and not str(value).strip():
                value = None
            if value is not None:
                value = _iso_date(str(value).strip(), name)
            object.__setattr__(self, name, value)
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"the date range is empty: since {self.since} is after until {self.until}")
        if isinstance(self.sources, str):
            raw: tuple = (self.sources,)
        else:
            raw = tuple(self.sources or ())
        object.__setattr__(self, "sources", tuple(s.strip().lower() for s in raw if s and s.strip()))

    @property
    def active(self) -> bool:
        return bool(self.since or self.until or self.sources)

    def matches(self, meta: ArticleLike) -> bool:
        if self.since or self.until:
            day = article_day(meta.date)
            if day is None:
                return False
            if (self.since and day < self.since) or (self.until and day > self.until):
                return False
        if self.sources:
            hay = f"{meta.source or ''}\n{meta.url or ''}".lower()
            if not any(s in hay for s in self.sources):
                return False
        return True


def _iso_date(value: str, name: str) -> str:
    day = article_day(value)
    if day is None:
        raise ValueError(f"{name} must be a date as YYYY-MM-DD, got {value!r}")
    return day


def article_day(date: str | None) -> str | None:
    """The YYYY-MM-DD part of an article's date, or None when it has no valid one."""
    if not date:
        return None
    try:
        return _dt.date.fromisoformat(date[:10]).isoformat()
    except ValueError:
        return None


_STRICT_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def strict_day(text: str) -> str:
    """A day a person typed (a flag, a date box): exactly YYYY-MM-DD around spaces, and a real
    day; else a bare ``ValueError`` (the caller says which field and what to write)."""
    text = text.strip()
    if not _STRICT_DAY.fullmatch(text):
        raise ValueError(text)
    return _dt.date.fromisoformat(text).isoformat()
