"""Sentence-aware chunking under a hard token cap, with offsets back into the article.

Chunks are runs of whole sentences whose token count (in the embedder's own
tokenizer) never exceeds the cap; a sentence longer than the cap is cut at
token boundaries. Neighbouring chunks share ``overlap`` sentences so an answer
on a boundary is whole in at least one chunk.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import Any

from qa.types import Article, Chunk

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before
# whitespace and a capital, digit or opening quote; paragraph breaks always end one.
_SENT_END = re.compile(r"""(?<=[.!?])(["'”’`)\]]*)\s+(?=["“‘`'(\[]?[A-Z0-9])|\n\s*\n""")
# Abbreviations that end with a full stop without ending a sentence.
_ABBREV = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Gen|Col|Lt|Sgt|Capt|Gov|Sen|Rep|No|vs|Inc|Ltd|Co|Corp|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)|\b[A-Z])\.$")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (whitespace between them excluded).

    Remembered for the last passages split: answering one question splits the same passages for
    its findings, confidence, yes/no evidence and excerpts. The chunker splits whole articles
    with ``_split_sentences``, past the cache."""
    return list(_remembered_sentences(text))


@functools.lru_cache(maxsize=256)
def _remembered_sentences(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(_split_sentences(text))


def _split_sentences(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENT_END.finditer(text):
        end = m.start() + len(m.group(1) or "")  # closing quotes stay with their sentence
        if m.group(1) is not None and _ABBREV.search(text, max(start, m.start() - 8), m.start()):
            continue  # "Mr. Khan", "U.S. officials": not a sentence end
        spans.extend(_strip_span(text, start, end))
        start = m.end()
    spans.extend(_strip_span(text, start, len(text)))
    return spans


def _strip_span(text: str, start: int, end: int) -> list[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return [(start, end)] if end > start else []


class Chunker:
    """Cuts articles into chunks of at most ``max_tokens`` tokens; the tokenizer loads lazily."""

    def __init__(self, tokenizer_path: str, max_tokens: int = 160, overlap: int = 1) -> None:
        if max_tokens < 8:
            raise ValueError("max_tokens must be at least 8")
        if overlap < 0:
            raise ValueError("overlap must be >= 0")
        self.tokenizer_path = tokenizer_path
        self.max_tokens = max_tokens
        self.overlap = overlap
        self._tokenizer: Any = None

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from qa.util.tokenize import load_tokenizer

            self._tokenizer = load_tokenizer(self.tokenizer_path)  # without transformers when it can
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def chunk_many(self, articles: Iterable[Article]) -> Iterator[Chunk]:
        for article in articles:
            yield from self.chunk(article)

    def chunk(self, article: Article) -> list[Chunk]:
        text = article.text
        units = self._units(text)
        chunks: list[Chunk] = []
        i = 0
        while i < len(units):
            j, total = i, 0
            while j < len(units) and total + units[j][2] <= self.max_tokens:
                total += units[j][2]
                j += 1
            j = max(j, i + 1)  # a unit never exceeds the cap, so this only guards the loop
            start, end = units[i][0], units[j - 1][1]
            chunks.append(
                Chunk(
                    id=f"{article.id}:{len(chunks)}",
                    article_id=article.id,
                    index=len(chunks),
                    text=text[start:end],
                    start=start,
                    end=end,
                )
            )
            if j >= len(units):
                break
            # Step back by the overlap, but always move forward.
            i = max(j - self.overlap, i + 1)
        return chunks

    def _units(self, text: str) -> list[tuple[int, int, int]]:
        """(start, end, tokens) of sentences, long ones cut to fit the cap."""
        spans = _split_sentences(text)
        if not spans:
            return []
        enc = self.tokenizer(
            [text[a:b] for a, b in spans], add_special_tokens=False, return_offsets_mapping=True
        )
        units: list[tuple[int, int, int]] = []
        for (a, b), offsets in zip(spans, enc["offset_mapping"]):
            n = len(offsets)
            if n <= self.max_tokens:
                units.append((a, b, n))
                continue
            # Too long for one chunk (e.g. text without full stops): cut at token
            # boundaries, preferring to end a piece where a word ends.
            k = 0
            while k < n:
                stop = min(k + self.max_tokens, n)
                if stop < n:
                    for cut in range(stop, k + self.max_tokens // 2, -1):
                        if offsets[cut][0] > offsets[cut - 1][1]:  # whitespace before token `cut`
                            stop = cut
                            break
                units.append((a + offsets[k][0], a + offsets[stop - 1][1], stop - k))
                k = stop
        return units
