"""Building and refreshing the index: ingest → chunk → embed → store, embedding only what changed."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.chunk import Chunker
from qa.embed import Embedder
from qa.index import FORMAT_VERSION, ArticleMeta, IndexStore, lexical_text
from qa.ingest import load_articles
from qa.types import Article, Chunk

log = logging.getLogger(__name__)


@dataclass
class IndexReport:
    """What an indexing run did, for the CLI, the app and logs."""

    articles: int = 0
    chunks: int = 0
    files: int = 0
    records: int = 0
    skipped: int = 0
    duplicates: int = 0
    added: int = 0  # articles new to the index
    removed: int = 0  # articles dropped from the index
    embedded: int = 0  # chunks embedded in this run
    reused: int = 0  # chunks whose vectors came from the previous index
    rebuilt_because: str = ""
    up_to_date: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        head = f"{self.articles} articles, {self.chunks} chunks from {self.files} files ({self.records} records); "
        head += f"{self.skipped} skipped, {self.duplicates} duplicates. "
        if self.up_to_date:
            return head + "Index already up to date: nothing embedded."
        head += f"+{self.added} / -{self.removed} articles; embedded {self.embedded} chunks, reused {self.reused}"
        if self.rebuilt_because:
            head += f" (full rebuild: {self.rebuilt_because})"
        return head + f"; {self.seconds:.1f}s."


class Indexer:
    """Keeps the index at ``index_dir`` in step with a set of corpus paths."""

    def __init__(self, store: IndexStore, chunker: Chunker, embedder: Embedder) -> None:
        self.store = store
        self.chunker = chunker
        self.embedder = embedder

    def settings_key(self) -> dict:
        """Everything that changes vectors or chunk boundaries; a mismatch forces a rebuild."""
        return {
            "format": FORMAT_VERSION,
            "embedder": self.embedder.fingerprint(),
            "chunk_tokens": self.chunker.max_tokens,
            "chunk_overlap": self.chunker.overlap,
        }

    def stale_reason(self, manifest: dict | None) -> str:
        """Why an existing index cannot be extended ('' when it can)."""
        if manifest is None:
            return ""
        old = manifest.get("settings", {})
        new = self.settings_key()
        diffs = [f"{k} {old.get(k)!r} -> {v!r}" for k, v in new.items() if old.get(k) != v]
        return "; ".join(diffs)

    def run(self, paths: list[str | Path], progress: bool = True) -> IndexReport:
        t0 = time.time()
        ingested = load_articles(paths, progress=progress)
        report = IndexReport(
            files=ingested.files,
            records=ingested.records,
            skipped=len(ingested.skipped),
            duplicates=ingested.duplicates,
        )
        articles = ingested.articles
        manifest = self.store.manifest()
        reason = self.stale_reason(manifest)
        if reason:
            log.warning("index in %s was built with other settings (%s): rebuilding", self.store.root, reason)
            report.rebuilt_because = reason
        old = self.store.load() if manifest is not None and not reason else None
        old_ids = set(old.articles) if old else set()
        new_ids = {a.id for a in articles}
        report.added = len(new_ids - old_ids)
        report.removed = len(old_ids - new_ids)
        report.articles = len(articles)
        moved = old is not None and any(
            a.id in old.articles and old.articles[a.id] != _meta(a, old.articles[a.id].chunks) for a in articles
        )  # same content under a new path, title or date: rewrite metadata, embed nothing
        if old is not None and not report.added and not report.removed and not moved:
            report.up_to_date = True
            report.chunks = len(old.chunks)
            report.seconds = time.time() - t0
            return report

        # Reuse vectors of articles the old index already has; embed the rest.
        kept_chunks: list[Chunk] = []
        kept_rows: list[int] = []
        if old is not None:
            for row, c in enumerate(old.chunks):
                if c.article_id in new_ids:
                    kept_chunks.append(c)
                    kept_rows.append(row)
        fresh = [a for a in articles if a.id not in old_ids]
        fresh_chunks = list(self.chunker.chunk_many(fresh))
        titles = {a.id: a.title for a in articles}
        log.info("embedding %d chunks of %d new articles", len(fresh_chunks), len(fresh))
        fresh_vecs = self.embedder.encode(
            [lexical_text(titles[c.article_id], c.text) for c in fresh_chunks], progress=progress
        )
        kept_vecs = old.vectors()[kept_rows] if old is not None and kept_rows else np.zeros(
            (0, fresh_vecs.shape[1] if len(fresh_vecs) else self.embedder.dim), np.float32
        )
        chunks = kept_chunks + fresh_chunks
        vectors = np.vstack([kept_vecs, fresh_vecs]) if len(fresh_vecs) else kept_vecs
        counts: dict[str, int] = {}
        for c in chunks:
            counts[c.article_id] = counts.get(c.article_id, 0) + 1
        metas = [_meta(a, counts.get(a.id, 0)) for a in articles]
        report.chunks = len(chunks)
        report.embedded = len(fresh_chunks)
        report.reused = len(kept_chunks)
        self.store.write(self._manifest(paths, metas, report, vectors), metas, chunks, vectors)
        report.seconds = time.time() - t0
        return report

    def _manifest(self, paths, metas: list[ArticleMeta], report: IndexReport, vectors: np.ndarray) -> dict:
        ids = "\n".join(sorted(m.id for m in metas))
        return {
            "settings": self.settings_key(),
            "dim": int(vectors.shape[1]) if vectors.ndim == 2 and vectors.shape[1] else self.embedder.dim,
            "corpus_paths": [str(Path(p).resolve()) for p in paths],
            "corpus_fingerprint": hashlib.sha256(ids.encode()).hexdigest()[:16],
            "counts": {
                "articles": report.articles,
                "chunks": report.chunks,
                "files": report.files,
                "records": report.records,
                "skipped": report.skipped,
                "duplicates": report.duplicates,
            },
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }


def _meta(a: Article, n_chunks: int) -> ArticleMeta:
    return ArticleMeta(id=a.id, title=a.title, date=a.date, source=a.source, url=a.url, chunks=n_chunks)
