"""Sentence-aware chunking under a hard token cap, with offsets back into the article.

Chunks are runs of whole sentences whose token count (in the embedder's own
tokenizer) never exceeds the cap; a sentence longer than the cap is cut at
token boundaries. Neighbouring chunks share ``overlap`` sentences so an answer
on a boundary is whole in at least one chunk.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from qa.text.sentences import sentence_spans
from qa.types import Article, Chunk


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
        spans = sentence_spans(text)
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
