"""The typed records that flow through the pipeline: ingest → chunk → retrieve → read → cite."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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


@dataclass
class Answer:
    """What the user gets back: the span, a confidence, and where it is written."""

    question: str
    text: str  # empty when the articles do not answer the question
    score: float  # confidence in [0, 1]; 0.5 sits at the no-answer threshold
    answered: bool
    citations: list[Citation] = field(default_factory=list)
    message: str = ""
    alternatives: list[dict] = field(default_factory=list)  # other spans: text, score, article
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    passages: list[Passage] = field(default_factory=list, repr=False)  # retrieved, best first

    def to_dict(self, with_passages: bool = False) -> dict:
        """JSON-ready; the span is under ``answer`` (empty when refused)."""
        d = asdict(self)
        if not with_passages:
            d.pop("passages")
        return {"answer": d.pop("text"), **d}
