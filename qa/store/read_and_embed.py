"""Reading, chunking and embedding the articles of an indexing run, in this process: the default preparer.

Every preparer keeps one contract, so ``Indexer`` can take any::

    prepared = preparer.prepare(paths, skip_ids=old_ids, progress=True)
    prepared.ingested  # == load_articles(paths): every field, article order, skips, duplicates, sources
    prepared.chunks    # == list(chunker.chunk_many(a for a in ingested.articles if a.id not in skip_ids))
    prepared.vectors   # row i embeds lexical_text(title, chunks[i].text), as Embedder.encode would

``LocalPreparer`` calls those functions, reading in a thread while it embeds; ``RayPreparer``
(``qa.store.distributed``) spreads the same work over a Ray cluster.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.ingest import IngestReport, load_articles
from qa.store.chunk import Chunker
from qa.store.embed import Embedder
from qa.store.bm25 import lexical_text
from qa.types import Article, Chunk


@dataclass
class Prepared:
    """What reading, chunking and embedding produced for one indexing run."""

    ingested: IngestReport
    chunks: list[Chunk]  # of the articles not in skip_ids, in article order
    vectors: np.ndarray  # float32, (len(chunks), dim), unit length, row-aligned with chunks
    # per stage: start (Ray), read, workers (actors loading the model), embed, stop (Ray)
    seconds: dict[str, float] = field(default_factory=dict)


class Preparer(Protocol):
    def prepare(self, paths: Iterable[str | Path], skip_ids: Iterable[str] = (),
                progress: bool = False) -> Prepared: ...


def chunk_texts(chunks: list[Chunk], articles: Iterable[Article]) -> list[str]:
    """The texts to embed for ``chunks``: each with its article's title, as both retrievers see it."""
    titles = {a.id: a.title for a in articles}
    return [lexical_text(titles[c.article_id], c.text) for c in chunks]


def empty_vectors(embedder: Embedder) -> np.ndarray:
    """A (0, dim) array, without loading the model when its pooling config gives the dimension."""
    if getattr(embedder, "_model", None) is None:
        try:
            import json

            cfg = Path(embedder.model_path) / "1_Pooling" / "config.json"
            return np.zeros((0, int(json.loads(cfg.read_text())["word_embedding_dimension"])), np.float32)
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return np.zeros((0, embedder.dim), np.float32)


class LocalPreparer:
    """The single-process path: ``load_articles``, ``Chunker.chunk_many``, ``Embedder.encode``, overlapped.

    A background thread reads and chunks; this thread embeds each group of ``group_chunks`` chunks
    as soon as it is ready, so parsing never waits for the model and the model rarely waits for
    parsing (ONNX Runtime and the tokenizers release the GIL). Results are those of the three calls
    in sequence: the same report, chunks in article order, vectors within float tolerance.
    """

    def __init__(self, chunker: Chunker, embedder: Embedder, group_chunks: int = 512) -> None:
        self.chunker = chunker
        self.embedder = embedder
        self.group_chunks = group_chunks

    def prepare(self, paths: Iterable[str | Path], skip_ids: Iterable[str] = (),
                progress: bool = False) -> Prepared:
        from tqdm.auto import tqdm

        t0 = time.perf_counter()
        skip = set(skip_ids)
        paths = list(paths)
        groups: queue.Queue = queue.Queue(maxsize=4)  # bounded: reading stays a few groups ahead
        done = object()
        stop = threading.Event()  # set when embedding failed: reading gives up at the next article
        outcome: dict[str, Any] = {}

        def read() -> None:
            pending: list[Chunk] = []
            titles: dict[str, str] = {}

            def emit() -> None:
                groups.put((list(pending), [lexical_text(titles[c.article_id], c.text) for c in pending]))
                pending.clear()

            def on_article(article: Article) -> None:
                if stop.is_set():
                    raise InterruptedError("embedding failed")
                if article.id in skip:
                    return
                titles[article.id] = article.title
                pending.extend(self.chunker.chunk(article))
                if len(pending) >= self.group_chunks:
                    emit()

            try:
                outcome["ingested"] = load_articles(paths, progress=progress, on_article=on_article)
                if pending:
                    emit()
            except BaseException as exc:  # noqa: BLE001 - handed to the embedding thread, raised there
                outcome["error"] = exc
            finally:
                outcome["read"] = time.perf_counter() - t0
                groups.put(done)

        worker = threading.Thread(target=read, name="qa-read", daemon=True)
        worker.start()
        chunks: list[Chunk] = []
        parts: list[np.ndarray] = []
        embed_s = 0.0
        bar = tqdm(desc="embed", unit=" chunks", disable=not progress, position=1)  # under the files bar
        group = None
        try:
            while (group := groups.get()) is not done:
                t = time.perf_counter()
                parts.append(self.embedder.encode(group[1]))
                embed_s += time.perf_counter() - t
                chunks.extend(group[0])
                bar.update(len(group[0]))
        finally:
            bar.close()
            if group is not done:  # embedding failed: stop the reader, and unblock it until it ends
                stop.set()
                while groups.get() is not done:
                    pass
        worker.join()
        if "error" in outcome:
            raise outcome["error"]
        vectors = np.vstack(parts) if parts else empty_vectors(self.embedder)
        return Prepared(outcome["ingested"], chunks, vectors, {"read": outcome["read"], "embed": embed_s})
