"""The lexical half of the index: BM25 (bm25s) over each chunk's text and its article's title."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

# bm25s's own English list, deliberately not ``qa.text.terms.STOP_WORDS`` (a longer list, made for
# matching answers to questions): BM25 scores, and so retrieval, depend on which words are dropped.
STOPWORDS = "en"


def quiet_bm25s():
    """bm25s, quietened: it sets its own logger to DEBUG on import, which floods the console."""
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def lexical_text(title: str, chunk_text: str) -> str:
    """The text both retrievers see: the title gives short chunks their topic."""
    return f"{title}\n{chunk_text}" if title else chunk_text


def bm25_tokenize(texts: list[str]) -> list[list[str]]:
    bm25s = quiet_bm25s()
    try:
        import Stemmer

        stemmer = Stemmer.Stemmer("english").stemWords
    except ImportError:  # PyStemmer is optional: plain tokens still work
        stemmer = None
    return bm25s.tokenize(texts, stopwords=STOPWORDS, stemmer=stemmer, return_ids=False, show_progress=False)


def write_bm25(folder: Path, texts: list[str]) -> None:
    """Index ``texts`` (one per chunk, ``lexical_text``) and save the BM25 index into ``folder``."""
    bm25 = quiet_bm25s().BM25()
    bm25.index(bm25_tokenize(texts), show_progress=False)
    bm25.save(str(folder), show_progress=False)


def read_bm25(folder: Path) -> Any:
    """The ``bm25s.BM25`` saved in ``folder``, without its corpus."""
    return quiet_bm25s().BM25.load(str(folder), load_corpus=False, show_progress=False, verbosity=0)
