"""Hybrid retrieval: dense (a vector store: FAISS or Milvus) and lexical (BM25) rankings fused by reciprocal rank.

Dense search finds paraphrases; BM25 finds rare names and numbers that
embeddings blur. Reciprocal rank fusion needs no score calibration between
the two, which is why it is the default in most hybrid systems.
"""

from __future__ import annotations

import numpy as np

from qa.store.embed import Embedder
from qa.store.bm25 import bm25_tokenize
from qa.store.versions import IndexData
from qa.types import Filters, Passage

MAX_DENSE_LIMIT = 16384  # the most a vector store is asked for at once (Milvus's top-k cap)


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = 60) -> list[tuple[int, float]]:
    """Fuse ranked lists of ids: score = sum of 1 / (k + rank), best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


class HybridRetriever:
    """Top-k passages for a question from a loaded index, optionally restricted by ``Filters``.

    With an active filter, both retrievers search only the matching rows (the
    vector store filters, FAISS with an ID selector, Milvus with an expression;
    BM25 with a weight mask), so a narrow filter still gets its full
    ``candidates`` instead of what is left of an unfiltered list.

    Dense results come back as store keys and are mapped to rows of the loaded
    version; keys it does not know (rows a concurrent or crashed indexing run
    left in a shared store) and rows outside the filter are dropped, and the
    store is asked again with a larger limit if that left fewer than wanted.
    """

    def __init__(self, data: IndexData, embedder: Embedder, candidates: int = 50, rrf_k: int = 60) -> None:
        self.data = data
        self.embedder = embedder
        self.candidates = candidates
        self.rrf_k = rrf_k
        self._rows_by_article: dict[str, list[int]] | None = None
        self._allowed_cache: dict[Filters, np.ndarray] = {}

    def allowed_rows(self, filters: Filters | None) -> np.ndarray | None:
        """Row ids of the chunks of matching articles (sorted), or None when nothing is filtered."""
        if filters is None or not filters.active:
            return None
        allowed = self._allowed_cache.get(filters)  # one lookup: another question may clear the cache
        if allowed is None:
            if self._rows_by_article is None:
                rows: dict[str, list[int]] = {}
                for row, chunk in enumerate(self.data.chunks):
                    rows.setdefault(chunk.article_id, []).append(row)
                self._rows_by_article = rows
            ids = [r for aid, meta in self.data.articles.items() if filters.matches(meta)
                   for r in self._rows_by_article.get(aid, [])]
            if len(self._allowed_cache) > 32:
                self._allowed_cache.clear()
            allowed = self._allowed_cache[filters] = np.array(sorted(ids), dtype=np.int64)
        return allowed

    def dense(self, question: str, n: int, allowed: np.ndarray | None = None,
              filters: Filters | None = None) -> list[int]:
        """Rows of the ``n`` nearest chunks (within ``allowed``, the rows ``filters`` matches)."""
        if not self.data.chunks or (allowed is not None and not len(allowed)):
            return []
        q = self.embedder.encode([question])
        want = min(n, len(self.data.chunks) if allowed is None else len(allowed))
        ok = None if allowed is None else np.zeros(len(self.data.chunks), dtype=bool)
        if ok is not None:
            ok[allowed] = True
        limit = want
        while True:
            _, keys = self.data.vectors.search(q, limit, filters if allowed is not None else None)
            rows = self.data.rows_for(keys[0])
            got = [int(r) for r in rows if r >= 0 and (ok is None or ok[r])]
            if len(got) >= want or len(keys[0]) < limit or limit >= MAX_DENSE_LIMIT:
                return got[:want]
            limit = min(MAX_DENSE_LIMIT, limit * 4)  # unknown or unmatched keys took places: ask for more

    def lexical(self, question: str, n: int, allowed: np.ndarray | None = None) -> list[int]:
        if self.data.lexical is None or (allowed is not None and not len(allowed)):
            return []
        tokens = bm25_tokenize([question])
        if not tokens[0]:
            return []  # only stop words: BM25 has nothing to match
        # Unknown words are dropped; if none is known, there is no lexical match.
        vocab = self.data.lexical.vocab_dict
        known = [t for t in tokens[0] if t in vocab]
        if not known:
            return []
        mask = None
        if allowed is not None:
            mask = np.zeros(len(self.data.chunks), dtype=np.float32)
            mask[allowed] = 1.0
        docs, scores = self.data.lexical.retrieve(
            [known], k=min(n, len(self.data.chunks)), show_progress=False, n_threads=1, weight_mask=mask
        )
        return [int(d) for d, s in zip(docs[0], scores[0]) if s > 0]

    def retrieve(
        self,
        question: str,
        top_k: int = 5,
        filters: Filters | None = None,
        prefer_article: str | None = None,
    ) -> list[Passage]:
        """Fused top-k; chunks of ``prefer_article`` win ties of the fused score."""
        allowed = self.allowed_rows(filters)
        dense = self.dense(question, self.candidates, allowed, filters)
        lexical = self.lexical(question, self.candidates, allowed)
        dense_rank = {c: r for r, c in enumerate(dense, start=1)}
        lex_rank = {c: r for r, c in enumerate(lexical, start=1)}
        fused = reciprocal_rank_fusion([dense, lexical], self.rrf_k)
        if prefer_article is not None:
            fused.sort(key=lambda kv: (-kv[1], self.data.chunks[kv[0]].article_id != prefer_article, kv[0]))
        out: list[Passage] = []
        for row, score in fused[:top_k]:
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
