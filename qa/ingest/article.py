"""The one place an ``Article`` is built from a cleaned title and body, whatever the format.

Footers, the length cap, the stand-in title and the id are applied here so that a story gets the
same id whether it arrived as text, HTML or a JSON record.
"""

from __future__ import annotations

import re

from qa.ingest import limits
from qa.ingest.clean import article_id, clean_title, strip_footer
from qa.ingest.report import Item, Skip
from qa.types import Article


def make_article(title: str, body: str, source: str, date: str | None, url: str = "", stem: str = "") -> Item:
    """Drop footers and hash an already cleaned title and body; an empty body is a skip."""
    body = strip_footer(body)
    if not body:
        return Skip(source, "empty body")
    if len(body) > limits.MAX_ARTICLE_CHARS:
        return Skip(source, too_long(len(body), "after cleaning", limits.MAX_ARTICLE_CHARS, "MAX_ARTICLE_CHARS"))
    title = _cut_title(title or clean_title(stem) or _first_words(body))
    url = (url or "").strip()
    return Article(id=article_id(title, body), title=title, text=body, date=date,
                   source=source, url=url if len(url) <= limits.MAX_URL_CHARS else "")


def too_long(chars: int, when: str, limit: int, limit_name: str) -> str:
    """The skip reason for an article over a length cap."""
    return f"article too long: {chars:,} characters of text {when}, over {limit:,} ({limit_name})"


def _cut_title(title: str) -> str:
    """A title of at most ``MAX_TITLE_CHARS``, cut at a word boundary: it is repeated in every chunk."""
    cap = limits.MAX_TITLE_CHARS
    if len(title) <= cap:
        return title
    cut = title[: cap - 4]
    space = cut.rfind(" ")
    return (cut[:space] if space > cap // 2 else cut).rstrip() + " ..."


def _first_words(text: str, n: int = 12) -> str:
    """A stand-in title: the first sentence, cut to ``n`` words."""
    first = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    words = first.split()
    return " ".join(words[:n]) + (" ..." if len(words) > n else "")
