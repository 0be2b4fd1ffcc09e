"""Building the index a pipeline answers from: the indexing half of ``qa.answer.pipeline.Pipeline``.

Kept apart from answering (Haystack keeps indexing and query pipelines apart too): ``qa index``,
the chat's uploads and re-index button, and a first ``qa ask`` on a fresh checkout all come here,
while answering never imports the indexer (``tests/app/test_runtime_imports.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.store.chunk import Chunker
    from qa.store.embed import Embedder
    from qa.store.index import IndexStore
    from qa.store.indexer import IndexReport


class IndexBuilder:
    """Adds and updates articles in one index store, with the chunker and embedder it was built with."""

    def __init__(self, settings: Settings, store: IndexStore, chunker: Chunker, embedder: Embedder) -> None:
        self.settings, self.store, self.chunker, self.embedder = settings, store, chunker, embedder

    def run(self, paths: list[str | Path] | None = None, progress: bool = True, prune: bool = False,
            ray: str | None = None, ray_workers: int | None = None) -> IndexReport:
        """Add and update the articles under ``paths`` (default: the corpus and the uploads folder).

        Articles indexed from other paths are kept; ``prune`` removes those whose files are gone.
        ``ray`` (a cluster address, or "" for a local Ray) reads, chunks and embeds on Ray instead.
        """
        from qa.store.indexer import Indexer

        preparer = None
        if ray is not None:
            from qa.store.distributed import RayPreparer

            preparer = RayPreparer(self.chunker, self.embedder, address=ray or None, workers=ray_workers)
        return Indexer(self.store, self.chunker, self.embedder, preparer=preparer).run(
            list(paths or self.settings.article_paths()), progress=progress, prune=prune
        )

    def ensure(self, progress: bool = True) -> IndexReport | None:
        """Index the configured corpus when there is no index yet, so a fresh checkout can answer.

        Returns None when an index already exists (it is used as it is, however old).
        """
        if self.store.exists():
            return None
        corpus = [p for p in self.settings.article_paths() if Path(p).exists()]
        if not corpus:
            raise FileNotFoundError(
                f"no index in {self.settings.index_dir} and no articles at "
                f"{', '.join(map(str, self.settings.corpus))}: set QA_CORPUS to your article folders, "
                "or run `qa index PATH...`"
            )
        report = self.run(corpus, progress=progress)
        if report.articles == 0:
            raise FileNotFoundError(
                f"no articles found in {', '.join(map(str, corpus))} to index "
                "(supported: .txt .md .html .json .jsonl .jsonl.gz); add some and run `qa index`"
            )
        return report
