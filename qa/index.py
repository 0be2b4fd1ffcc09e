"""The persisted index: FAISS vectors, a BM25 index and chunk metadata, swapped in atomically.

Each build is written to a fresh ``v-*`` folder under the index root; the
``CURRENT`` pointer file is then replaced in one rename. A crash mid-write
leaves the previous version in place and usable, and stale folders are
cleaned up on the next successful write.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.types import Chunk

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
POINTER = "CURRENT"


@dataclass(frozen=True)
class ArticleMeta:
    """What a citation needs of an article, kept beside its chunks."""

    id: str
    title: str
    date: str | None
    source: str
    url: str = ""
    chunks: int = 0


@dataclass
class IndexData:
    """A loaded index version: metadata and both search structures."""

    root: Path
    manifest: dict
    articles: dict[str, ArticleMeta]
    chunks: list[Chunk]
    dense: Any  # faiss.Index; row i is chunks[i]
    lexical: Any = None  # bm25s.BM25 over the same rows
    _vectors: np.ndarray | None = field(default=None, repr=False)

    def vectors(self) -> np.ndarray:
        """All chunk vectors, row-aligned with ``chunks`` (read back from FAISS)."""
        if self._vectors is None:
            n = self.dense.ntotal
            self._vectors = self.dense.reconstruct_n(0, n) if n else np.zeros((0, self.dense.d), np.float32)
        return self._vectors


def _bm25s():
    """bm25s, quietened: it sets its own logger to DEBUG on import, which floods the console."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def lexical_text(title: str, chunk_text: str) -> str:
    """The text both retrievers see: the title gives short chunks their topic."""
    return f"{title}\n{chunk_text}" if title else chunk_text


def bm25_tokenize(texts: list[str]) -> list[list[str]]:
    bm25s = _bm25s()
    try:
        import Stemmer

        stemmer = Stemmer.Stemmer("english").stemWords
    except ImportError:  # PyStemmer is optional: plain tokens still work
        stemmer = None
    return bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)


class IndexStore:
    """Reads and writes index versions under one root folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def current(self) -> Path | None:
        ptr = self.root / POINTER
        if not ptr.exists():
            return None
        version = self.root / ptr.read_text(encoding="utf-8").strip()
        return version if (version / "manifest.json").exists() else None

    def exists(self) -> bool:
        return self.current() is not None

    def manifest(self) -> dict | None:
        version = self.current()
        if version is None:
            return None
        return json.loads((version / "manifest.json").read_text(encoding="utf-8"))

    def load(self) -> IndexData:
        import faiss

        bm25s = _bm25s()
        version = self.current()
        if version is None:
            raise FileNotFoundError(f"no index in {self.root}: run `qa index PATH...` first")
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
        articles = {}
        with open(version / "articles.jsonl", encoding="utf-8") as f:
            for line in f:
                a = ArticleMeta(**json.loads(line))
                articles[a.id] = a
        chunks = []
        with open(version / "chunks.jsonl", encoding="utf-8") as f:
            for line in f:
                chunks.append(Chunk(**json.loads(line)))
        dense = faiss.read_index(str(version / "dense.faiss"))
        if dense.ntotal != len(chunks):
            raise ValueError(f"index {version} is inconsistent: {dense.ntotal} vectors, {len(chunks)} chunks")
        lexical = None
        if chunks:
            lexical = bm25s.BM25.load(str(version / "bm25"), load_corpus=False, show_progress=False, verbosity=0)
        return IndexData(version, manifest, articles, chunks, dense, lexical)

    def write(
        self, manifest: dict, articles: list[ArticleMeta], chunks: list[Chunk], vectors: np.ndarray
    ) -> Path:
        """Write a complete new version, then point CURRENT at it."""
        import faiss

        bm25s = _bm25s()
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        self.root.mkdir(parents=True, exist_ok=True)
        version = Path(tempfile.mkdtemp(prefix=f"v-{time.strftime('%Y%m%d-%H%M%S')}-", dir=self.root))
        try:
            dim = int(manifest["dim"])
            index = faiss.IndexFlatIP(dim)
            if len(vectors):
                index.add(np.ascontiguousarray(vectors, dtype=np.float32))
            faiss.write_index(index, str(version / "dense.faiss"))
            titles = {a.id: a.title for a in articles}
            if chunks:
                bm25 = bm25s.BM25()
                bm25.index(
                    bm25_tokenize([lexical_text(titles.get(c.article_id, ""), c.text) for c in chunks]),
                    show_progress=False,
                )
                bm25.save(str(version / "bm25"), show_progress=False)
            _write_jsonl(version / "articles.jsonl", (asdict(a) for a in articles))
            _write_jsonl(version / "chunks.jsonl", (asdict(c) for c in chunks))
            (version / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            _atomic_write_text(self.root / POINTER, version.name + "\n")
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)
            raise
        self._prune(keep=version)
        return version

    def _prune(self, keep: Path) -> None:
        for old in self.root.glob("v-*"):
            if old.is_dir() and old != keep:
                shutil.rmtree(old, ignore_errors=True)


def _write_jsonl(path: Path, rows) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
