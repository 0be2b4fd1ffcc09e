"""Keeping the index in step with the article files: ingest → chunk → embed → store, embedding only
what changed. ``qa index``, the chat's uploads and re-index button, and a first ``qa ask`` on a fresh
checkout all come here; answering never imports it (``tests/app/test_runtime_imports.py``)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.ingest import IngestReport, ingest_summary, plural
from qa.store.bm25 import lexical_text
from qa.store.chunk import Chunker
from qa.store.embed import Embedder
from qa.store.integrity import IndexCorrupt
from qa.store.read_and_embed import LocalPreparer, Prepared, Preparer
from qa.store.versions import FORMAT_VERSION, ArticleMeta, IndexData, IndexStore, VectorUpdate
from qa.types import Article, Chunk

if TYPE_CHECKING:
    from qa.config import Settings

log = logging.getLogger("qa.store.indexer")  # the indexer's log: the name users see and filter on


@dataclass
class IndexReport:
    """What an indexing run did, for the CLI, the app and logs.

    Two sums a reader can check: ``records == found + skipped_records + duplicates`` (this run's
    files) and ``articles == found + kept`` (the index after the run).
    """

    articles: int = 0  # articles in the index after the run
    chunks: int = 0
    files: int = 0
    records: int = 0
    skipped: int = 0  # every skip entry: records and whole files
    skipped_records: int = 0
    unsupported: int = 0  # files skipped for their type
    file_problems: int = 0  # files read that were empty, unreadable or cut short
    duplicates: int = 0
    found: int = 0  # articles read from this run's paths
    added: int = 0  # articles new to the index
    kept: int = 0  # articles from earlier runs not found in this run's paths, left in the index
    vanished: int = 0  # of those kept, the ones no longer in their files (``prune=True`` removes them)
    replaced: int = 0  # old versions of articles whose file now holds an edited version
    pruned: int = 0  # articles removed by ``prune=True``
    removed: int = 0  # replaced + pruned
    embedded: int = 0  # chunks embedded in this run
    reused: int = 0  # chunks whose vectors came from the previous index
    rebuilt_because: str = ""
    up_to_date: bool = False
    seconds: float = 0.0

    @classmethod
    def of_ingest(cls, ingested: IngestReport, rebuilt_because: str = "") -> IndexReport:
        """A report that starts from what reading the files found."""
        return cls(files=ingested.files, records=ingested.records, skipped=len(ingested.skipped),
                   skipped_records=ingested.skipped_records, unsupported=ingested.unsupported,
                   file_problems=ingested.file_problems, duplicates=ingested.duplicates,
                   rebuilt_because=rebuilt_because)

    def summary(self) -> str:
        """Two lines: what was read (adds up), then what the index holds and what changed."""
        read = ingest_summary(self.records, self.files, self.found, self.skipped_records, self.duplicates,
                              self.unsupported, self.file_problems) + "."
        held = f"{plural(self.articles, 'article')}, {plural(self.chunks, 'chunk')}"
        if self.kept:
            held += f" ({self.found} from these files + {self.kept} kept from earlier runs)"
        if self.up_to_date:
            return f"{read}\nIndex already up to date: {held}; nothing embedded.{self._vanished_note()}"
        line = (f"Index: {held}. Changes: {self.added} new, {self.replaced} replaced by an edited version, "
                f"{self.pruned} pruned; embedded {plural(self.embedded, 'chunk')}, reused {self.reused}")
        if self.rebuilt_because:
            line += f" (full rebuild: {self.rebuilt_because})"
        return f"{read}\n{line}; {self.seconds:.1f}s.{self._vanished_note()}"

    def _vanished_note(self) -> str:
        if not self.vanished:
            return ""
        one = self.vanished == 1
        return (f"\n{plural(self.vanished, 'kept article')} no longer in {'its file' if one else 'their files'}: "
                f"`qa index --prune` removes {'it' if one else 'them'}.")


class Indexer:
    """Keeps the index at ``index_dir`` in step with the article files given to it.

    A run adds new articles and updates changed ones; it never drops an article just because
    its file was not among this run's paths. Articles whose file is gone (or whose record is no
    longer in a file read again) are removed only with ``prune=True``.
    """

    def __init__(self, store: IndexStore, chunker: Chunker, embedder: Embedder,
                 preparer: Preparer | None = None) -> None:
        self.store = store
        self.chunker = chunker
        self.embedder = embedder
        self.preparer = preparer or LocalPreparer(chunker, embedder)  # or RayPreparer: same results

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

    def run(self, paths: list[str | Path], progress: bool = True, prune: bool = False) -> IndexReport:
        """Add and update the articles under ``paths``; with ``prune``, also drop vanished ones.

        Articles indexed from other paths are kept. Holds the index's lock throughout: a second run
        at the same time gets ``IndexBusy`` at once.
        """
        with self.store.lock():
            return self._run(paths, progress, prune)

    def ensure(self, settings: Settings, progress: bool = True) -> IndexReport | None:
        """Index the configured articles when there is no index yet, so a fresh checkout can answer.

        Returns None when an index already exists (it is used as it is, however old).
        """
        if self.store.exists():
            return None
        corpus = [p for p in settings.article_paths() if Path(p).exists()]
        if not corpus:
            raise FileNotFoundError(
                f"no index in {settings.index_dir} and no articles at "
                f"{', '.join(map(str, settings.corpus))}: set QA_CORPUS to your article folders, "
                "or run `qa index PATH...`"
            )
        report = self.run(corpus, progress=progress)
        if report.articles == 0:
            raise FileNotFoundError(
                f"no articles found in {', '.join(map(str, corpus))} to index "
                "(supported: .txt .md .html .json .jsonl .jsonl.gz); add some and run `qa index`"
            )
        return report

    def _run(self, paths: list[str | Path], progress: bool, prune: bool) -> IndexReport:
        t0 = time.time()
        manifest = self.store.manifest()
        old, reason = self._extendable(manifest)
        paths = list(paths)
        earlier = _earlier_paths(manifest, paths) if reason else []
        if reason:
            log.warning("index in %s was built with other settings (%s): rebuilding", self.store.root, reason)
            if earlier:  # their vectors are unusable, but their articles must not be lost
                reason += "; re-read " + ", ".join(earlier) + " from earlier runs"
        # Read, chunk and embed what the old index lacks (here, or on Ray); the rest is reused below.
        prepared = self.preparer.prepare(paths + earlier, skip_ids=set(old.articles) if old else set(),
                                         progress=progress)
        ingested = prepared.ingested
        report = IndexReport.of_ingest(ingested, rebuilt_because=reason)
        articles = ingested.articles
        moved = self.store.vectors_moved(manifest) if old is not None else ""  # vectors change store, not content
        drift = old.drift() if old is not None else None  # a shared store a crashed run left behind the version
        if drift:
            log.warning("the vector store differs from the index (%d chunks missing, %d extra): repairing",
                        len(drift.missing), drift.extra)
        old_ids = set(old.articles) if old else set()
        new_ids = {a.id for a in articles}
        fate = _fates(old.articles.values() if old else [], new_ids, ingested, _base_dirs(manifest))
        pruned = fate["vanished"] if prune else []
        kept = fate["kept"] + ([] if prune else fate["vanished"])
        _count_articles(report, len(articles), len(new_ids - old_ids), fate, prune)
        renamed = old is not None and any(
            a.id in old.articles and old.articles[a.id] != _meta(a, old.articles[a.id].chunks) for a in articles
        )  # same content under a new path, title or date: rewrite metadata, embed nothing
        if old is not None and not report.added and not report.removed and not renamed and not moved and not drift:
            report.up_to_date = True
            report.chunks = len(old.chunks)
            report.seconds = time.time() - t0
            return report
        if pruned:
            _announce_prune(pruned)
        kept_chunks, kept_rows, fresh_chunks, fresh_vecs = self._rows(
            old, prepared, articles, kept, (new_ids & old_ids) | {m.id for m in kept}, drift, report.added)
        dim = fresh_vecs.shape[1] if len(fresh_vecs) else (old.vectors.dim if old is not None else self.embedder.dim)
        chunks = kept_chunks + fresh_chunks
        vectors = (VectorUpdate(old, kept_rows, fresh_vecs.reshape(-1, dim)) if old is not None
                   else fresh_vecs.reshape(-1, dim))
        counts: dict[str, int] = {}
        for c in chunks:
            counts[c.article_id] = counts.get(c.article_id, 0) + 1
        metas = [_meta(a, counts.get(a.id, 0)) for a in articles] + kept
        report.chunks = len(chunks)
        report.embedded = len(fresh_chunks)
        report.reused = len(kept_chunks)
        self.store.write(self._manifest(paths, manifest, metas, report, dim), metas, chunks, vectors)
        report.seconds = time.time() - t0
        return report

    def _extendable(self, manifest: dict | None) -> tuple[IndexData | None, str]:
        """The current version to build on, or None and why it must be rebuilt ('' for no index)."""
        reason = self.stale_reason(manifest)
        if manifest is None or reason:
            return None, reason
        try:
            self.store.verify(full=False)  # damaged files: rebuild, as for changed settings
            return self.store.load(), ""  # a vector store that lost the version's collection counts as damage too
        except IndexCorrupt as exc:
            return None, f"the index was damaged ({exc.detail})"

    def _rows(self, old: IndexData | None, prepared: Prepared, articles: list, kept: list[ArticleMeta],
              reuse_ids: set[str], drift, added: int) -> tuple[list[Chunk], list[int], list[Chunk], np.ndarray]:
        """(carried chunks, their rows in ``old``, fresh chunks, their vectors): vectors of the
        articles ``reuse_ids`` the old index already has are reused; the rest were embedded by the
        preparer, and any carried chunk whose vector a shared store lost is embedded again from its
        stored text (as it was embedded before)."""
        kept_chunks, kept_rows = _carried_over(old, reuse_ids)
        lost = set(drift.missing.tolist()) if drift else set()
        redo = [c for c, r in zip(kept_chunks, kept_rows) if r in lost]
        kept_chunks, kept_rows = ([c for c, r in zip(kept_chunks, kept_rows) if r not in lost],
                                  [r for r in kept_rows if r not in lost])
        fresh_vecs = prepared.vectors
        log.info("embedded %d chunks of %d new articles%s", len(prepared.chunks), added,
                 f"; embedding {len(redo)} lost by the vector store" if redo else "")
        if redo:  # a rare repair: here, whichever preparer read the files
            titles = {a.id: a.title for a in articles} | {m.id: m.title for m in kept}
            redo_vecs = self.embedder.encode([lexical_text(titles.get(c.article_id, ""), c.text) for c in redo])
            fresh_vecs = np.vstack([redo_vecs, fresh_vecs]) if len(fresh_vecs) else redo_vecs
        return kept_chunks, kept_rows, redo + prepared.chunks, fresh_vecs

    def _manifest(self, paths, old: dict | None, metas: list[ArticleMeta], report: IndexReport, dim: int) -> dict:
        ids = "\n".join(sorted(m.id for m in metas))
        earlier = [p for p in (old or {}).get("corpus_paths", []) if Path(p).exists()]
        return {
            "settings": self.settings_key(),
            "dim": int(dim),
            # every path indexed so far (a rebuild re-reads them), and where relative sources start
            "corpus_paths": sorted(set(earlier) | {str(Path(p).resolve()) for p in paths}),
            "base_dirs": sorted(set(_base_dirs(old)) | {str(Path.cwd())}),
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


_RECORD = re.compile(r"#\d+$")
PRUNE_PREVIEW = 5  # articles named before a prune; the rest are counted


def preparer(chunker: Chunker, embedder: Embedder, ray: str | None = None,
             ray_workers: int | None = None) -> Preparer:
    """Who reads, chunks and embeds: this process, or Ray with ``ray`` (a cluster address, or "" for
    a local Ray); the results are the same."""
    if ray is None:
        return LocalPreparer(chunker, embedder)
    from qa.store.distributed import RayPreparer

    return RayPreparer(chunker, embedder, address=ray or None, workers=ray_workers)


def source_file(source: str) -> str:
    """The file part of an article source: 'news.jsonl#12' -> 'news.jsonl'."""
    return _RECORD.sub("", source)


def _key(source: str) -> str:
    """A source with its file made absolute, so 'corpus/a.txt' and '<repo>/corpus/a.txt' match."""
    file = source_file(source)
    return os.path.abspath(file) + source[len(file):]


def _count_articles(report: IndexReport, found: int, added: int, fate: dict[str, list[ArticleMeta]],
                   prune: bool) -> None:
    """The report's article counts: found by this run, added, kept, vanished, replaced, pruned."""
    vanished = len(fate["vanished"])
    report.found = found
    report.added = added
    report.kept, report.vanished = len(fate["kept"]) + (0 if prune else vanished), 0 if prune else vanished
    report.replaced, report.pruned = len(fate["replaced"]), vanished if prune else 0
    report.removed = report.replaced + report.pruned
    report.articles = report.found + report.kept


def _fates(old: Iterable[ArticleMeta], new_ids: set[str], ingested: IngestReport,
           base_dirs: list[str]) -> dict[str, list[ArticleMeta]]:
    """Sort the old articles this run did not find into kept, replaced and vanished.

    replaced: their slot (file, or file#record) now holds another article, i.e. the file was
      edited; the old version goes now, as part of the update.
    vanished: their file is gone, or it was read in full and the slot is empty or skipped now;
      they stay until ``prune``.
    kept: everything else, e.g. articles of files outside this run's paths.
    """
    held = {_key(s) for s in ingested.sources}
    complete = {_key(f) for f in ingested.complete_files}
    exists: dict[str, bool] = {}
    fate: dict[str, list[ArticleMeta]] = {"kept": [], "replaced": [], "vanished": []}
    for meta in old:
        if meta.id in new_ids:
            continue
        key = _key(meta.source)
        file = source_file(meta.source)
        if key in held:
            fate["replaced"].append(meta)
        elif source_file(key) in complete:
            fate["vanished"].append(meta)
        else:
            if file not in exists:
                exists[file] = _file_exists(file, base_dirs)
            fate["kept" if exists[file] else "vanished"].append(meta)
    return fate


def _carried_over(old: IndexData | None, ids: set[str]) -> tuple[list[Chunk], list[int]]:
    """The old index's chunks of articles that stay, and their rows (to reuse their vectors)."""
    chunks: list[Chunk] = []
    rows: list[int] = []
    for row, c in enumerate(old.chunks if old is not None else []):
        if c.article_id in ids:
            chunks.append(c)
            rows.append(row)
    return chunks, rows


def _file_exists(file: str, base_dirs: list[str]) -> bool:
    """Whether a source file is still on disk; a relative one may be relative to an earlier run's folder."""
    if os.path.isabs(file):
        return os.path.exists(file)
    return any(os.path.exists(os.path.join(base, file)) for base in [os.getcwd(), *base_dirs])


def _base_dirs(manifest: dict | None) -> list[str]:
    return list((manifest or {}).get("base_dirs", []))


def _earlier_paths(manifest: dict | None, paths: list[str | Path]) -> list[str]:
    """Paths indexed by earlier runs that still exist and are not among ``paths``."""
    given = {str(Path(p).resolve()) for p in paths}
    return [p for p in (manifest or {}).get("corpus_paths", []) if p not in given and Path(p).exists()]


def _announce_prune(pruned: list[ArticleMeta]) -> None:
    """Say what is about to go, before it goes: the count and the first few titles and sources."""
    named = "; ".join(f"{m.title or '(untitled)'!r} ({m.source})" for m in pruned[:PRUNE_PREVIEW])
    more = f"; and {len(pruned) - PRUNE_PREVIEW} more" if len(pruned) > PRUNE_PREVIEW else ""
    log.warning("pruning %s no longer in %s: %s%s", plural(len(pruned), "article"),
                "its file" if len(pruned) == 1 else "their files", named, more)


def _meta(a: Article, n_chunks: int) -> ArticleMeta:
    return ArticleMeta(id=a.id, title=a.title, date=a.date, source=a.source, url=a.url, chunks=n_chunks)
