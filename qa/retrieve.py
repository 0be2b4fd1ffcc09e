"""Hybrid retrieval: dense (FAISS) and lexical (BM25) rankings fused by reciprocal rank.

Dense search finds paraphrases; BM25 finds rare names and numbers that
embeddings blur. Reciprocal rank fusion needs no score calibration between
the two, which is why it is the default in most hybrid systems.
"""

from __future__ import annotations

from qa.embed import Embedder
from qa.index import IndexData, bm25_tokenize
from qa.types import Passage


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = 60) -> list[tuple[int, float]]:
    """Fuse ranked lists of ids: score = sum of 1 / (k + rank), best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


class HybridRetriever:
    """Top-k passages for a question from a loaded index."""

    def __init__(self, data: IndexData, embedder: Embedder, candidates: int = 50, rrf_k: int = 60) -> None:
        self.data = data
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k

    def dense(self, question: str, n: int) -> list[int]:
        if not self.data.chunks:
            return []
        q = self.embedder.encode([question])
        _, idx = self.data.dense.search(q, min(n, len(self.data.chunks)))
        return [int(i) for i in idx[0] if i >= 0]

    def lexical(self, question: str, n: int) -> list[int]:
        if self.data.lexical is None:
            return []
        tokens = bm25_tokenize([question])
        if not tokens[0]:
            return []  # only stop words: BM25 has nothing to match
        # Unknown words are dropped; if none is known, there is no lexical match.
        vocab = self.data.lexical.vocab_dict
        known = [t for t in tokens[0] if t in vocab]
        if not known:
            return []
        docs, scores = self.data.lexical.retrieve(
            [known], k=min(n, len(self.data.chunks)), show_progress=False, n_threads=1
        )
        return [int(d) for d, s in zip(docs[0], scores[0]) if s > 0]

    def retrieve(self, question: str, top_k: int = 5) -> list[Passage]:
        dense = self.dense(question, self.candidates)
        lexical = self.lexical(question, self.candidates)
        dense_rank = {c: r for r, c in enumerate(dense, start=1)}
        lex_rank = {c: r for r, c in enumerate(lexical, start=1)}
        out: list[Passage] = []
        for row, score in reciprocal_rank_fusion([dense, lexical], self.rrf_k)[:top_k]:
            chunk = self.data.chunks[row]
            meta = self.data.articles[chunk.article_id]
            out.append(
                Passage(
                    chunk=chunk,
                    title=meta.title,
                    date=meta.date,
                    source=meta.source,
                    url=meta.url,
                    score=float(score),
                    dense_rank=dense_rank.get(row),
                    lexical_rank=lex_rank.get(row),
                )
            )
        return out

