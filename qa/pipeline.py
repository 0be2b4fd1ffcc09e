"""The question-answering pipeline: retrieve passages, read them, cite the answer.

``Pipeline`` wires the stages from one ``Settings`` and loads each model on
first use, so the CLI, the chat and the evaluation share one code path.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from qa.chunk import Chunker
from qa.config import Settings
from qa.decode import SpanCandidate, confidence, merge_overlaps
from qa.embed import Embedder
from qa.index import IndexData, IndexStore
from qa.indexer import Indexer, IndexReport
from qa.read import ReadResult, Reader
from qa.retrieve import HybridRetriever
from qa.types import Answer, Citation, Passage

log = logging.getLogger(__name__)

NO_ANSWER = "The articles do not answer this question."


class Pipeline:
    """ingest → chunk → embed → index, and retrieve → read → cite, from one configuration."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings.from_env()
        s = self.settings
        self.store = IndexStore(s.index_dir)
        self.embedder = Embedder(s.embedder_path(), batch_size=s.embed_batch)
        self.chunker = Chunker(s.embedder_path(), max_tokens=s.chunk_tokens, overlap=s.chunk_overlap)
        self.reader = Reader(s.reader_model, null_threshold=s.null_threshold, int8=s.reader_int8)
        self._data: IndexData | None = None
        self._retriever: HybridRetriever | None = None

    # --- building ---------------------------------------------------------
    def index(self, paths: list[str | Path] | None = None, progress: bool = True) -> IndexReport:
        """Bring the index in step with ``paths`` (default: the configured corpus)."""
        report = Indexer(self.store, self.chunker, self.embedder).run(
            list(paths or self.settings.corpus), progress=progress
        )
        self._data = None  # reload on next question
        self._retriever = None
        return report

    # --- answering --------------------------------------------------------
    @property
    def retriever(self) -> HybridRetriever:
        if self._retriever is None:
            if self._data is None:
                self._data = self.store.load()
            self._retriever = HybridRetriever(self._data, self.embedder, candidates=self.settings.candidates)
        return self._retriever

    def check_ready(self) -> None:
        """Fail early, with what to do, when the index or the reader model is missing."""
        if not self.store.exists():
            raise FileNotFoundError(
                f"no index in {self.settings.index_dir}: run `qa index PATH...` (or `qa index` for "
                f"{', '.join(map(str, self.settings.corpus))})"
            )
        model = Path(self.reader.model_path)
        if not (model / "config.json").exists() and not _looks_like_hub_name(self.reader.model_path):
            raise FileNotFoundError(
                f"no reader model at {model}: set QA_READER_MODEL (or --reader) to a question-answering "
                "model folder, or train one with `qa train-reader`"
            )

    def warm_up(self) -> None:
        """Load the index and both models now, so the first question is not the slow one."""
        self.check_ready()
        _ = self.retriever
        self.embedder.encode(["warm up"])
        self.reader.load()

    def ask(self, question: str, k: int | None = None) -> Answer:
        question = (question or "").strip()
        if not question:
            raise ValueError("the question is empty")
        t0 = time.perf_counter()
        passages = self.retriever.retrieve(question, top_k=k or self.settings.top_k)
        t1 = time.perf_counter()
        result = self.reader.read(question, [p.chunk.text for p in passages])
        t2 = time.perf_counter()
        answer = self._cite(question, passages, result)
        answer.timings = {"retrieve": t1 - t0, "read": t2 - t1, "total": t2 - t0}
        return answer

    def _cite(self, question: str, passages: list[Passage], result: ReadResult) -> Answer:
        # Spans from overlapping chunks of one article are the same words: merge them
        # in article coordinates before ranking.
        groups = {p.chunk.article_id: i for i, p in enumerate(passages)}
        by_article = {}
        for c in result.candidates:
            p = passages[c.passage]
            key = SpanCandidate(groups[p.chunk.article_id], p.chunk.start + c.start,
                                p.chunk.start + c.end, c.score, c.null_score)
            by_article[key] = c
        merged = [by_article[k] for k in merge_overlaps(sorted(by_article, key=lambda k: -k.score))]
        threshold = result.threshold
        alternatives = [
            {
                "text": result.span_text(c),
                "score": confidence(c.score - result.null_score, threshold),
                "margin": c.score - result.null_score,
                "title": passages[c.passage].title,
                "article_id": passages[c.passage].chunk.article_id,
            }
            for c in merged[:5]
        ]
        if merged and result.has_answer:
            best = merged[0]
            return Answer(
                question=question,
                text=result.span_text(best),
                score=alternatives[0]["score"],
                answered=True,
                citations=[_citation(passages[best.passage], best)],
                alternatives=alternatives[1:],
                passages=passages,
            )
        return Answer(
            question=question,
            text="",
            score=alternatives[0]["score"] if alternatives else 0.0,
            answered=False,
            citations=[_citation(p) for p in passages[:3]],
            message=NO_ANSWER if passages else "The index holds no articles to search.",
            alternatives=alternatives,
            passages=passages,
        )


def _citation(p: Passage, span: SpanCandidate | None = None) -> Citation:
    return Citation(
        article_id=p.chunk.article_id,
        title=p.title,
        date=p.date,
        source=p.source,
        url=p.url,
        passage=p.chunk.text,
        passage_start=p.chunk.start,
        answer_start=span.start if span else None,
        answer_end=span.end if span else None,
        score=p.score,
    )


def _looks_like_hub_name(name: str) -> bool:
    """'org/model' that is not a local path: allowed when a user points at a cached hub model."""
    return name.count("/") == 1 and not Path(name).exists() and not name.startswith((".", "/"))
