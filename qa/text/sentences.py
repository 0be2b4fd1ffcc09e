"""Sentences of a text, as character spans: the one sentence splitter that chunking, reading,
findings, yes/no evidence and excerpts all use, so a sentence is the same thing everywhere."""

from __future__ import annotations

import functools
import re

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before
# whitespace and a capital, digit or opening quote; paragraph breaks always end one.
_SENT_END = re.compile(r"""(?<=[.!?])(["'”’`)\]]*)\s+(?=["“‘`'(\[]?[A-Z0-9])|\n\s*\n""")
# Abbreviations that end with a full stop without ending a sentence.
_ABBREV = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|Prof|Sr|Jr|St|Gen|Col|Lt|Sgt|Capt|Gov|Sen|Rep|No|vs|Inc|Ltd|Co|Corp|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)|\b[A-Z])\.$")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of ``text`` (whitespace between them excluded).

    Remembered for the last passages split: answering one question splits the same passages for
    its findings, confidence, yes/no evidence and excerpts. The chunker splits whole articles
    with ``sentence_spans``, past the cache."""
    return list(_remembered_sentences(text))


@functools.lru_cache(maxsize=256)
def _remembered_sentences(text: str) -> tuple[tuple[int, int], ...]:
    return tuple(sentence_spans(text))


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``split_sentences`` without the cache: for whole articles, each split once."""
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
    start, end = trimmed(text, start, end)
    return [(start, end)] if end > start else []


def trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    """``text[start:end]`` without whitespace at either edge, as offsets (start == end: only whitespace)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
