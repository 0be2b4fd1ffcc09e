"""Plain-text (``.txt``) and Markdown (``.md``) articles: [chrome] title [date] body.

A text file has no markup to say which line is the headline or the date, so the layout rules
here are our own, written for the corpora we ingest (a headline set apart by a blank line, a date
line next to it, site chrome lines above it). Markdown is stripped with a few line-local regexes
rather than a Markdown library: we want the words, not HTML, and each pattern is linear-time on
hostile lines (see the note below).
"""

from __future__ import annotations

import re

from qa.ingest.article import make_article
from qa.ingest.clean import clean_text, clean_title, is_chrome_line
from qa.ingest.dates import parse_date
from qa.ingest.report import Item

# Each pattern scans at most to the next delimiter of its own kind ("[", "(", "**"), so a line is
# stripped in linear time: the obvious ``[^\]]+`` / ``.+?`` forms rescan the rest of the line from
# every "[" or "**", and a 100 kB line of "[" took 44 s.
_MD_IMAGE = re.compile(r"!\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*\)")
_MD_LINK = re.compile(r"\[([^\[\]]+)\]\((?:[^()\s]|\([^()]*\))*(?:\s+\"[^\"]*\")?\)")
_MD_REF_LINK = re.compile(r"\[([^\[\]]+)\]\[[^\[\]]*\]")
_MD_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+.*$")
_MD_BOLD = re.compile(r"\*\*(?=\S)((?:[^*]|\*(?!\*))+?)(?<=\S)\*\*|__(?=\S)((?:[^_]|_(?!_))+?)(?<=\S)__")
_MD_EM_STAR = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![*\w])")
_MD_EM_UNDER = re.compile(r"(?<![_\w])_(?=\S)([^_\n]+?)(?<=\S)_(?![_\w])")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")  # the text after it, less a closing "#" run, is the heading
_MD_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")


def strip_markdown_line(line: str) -> str:
    """Markdown markup off one line: heading/quote/list markers, emphasis, links -> their text.

    Backticks are left alone (news text uses them as apostrophes)."""
    if _MD_RULE.match(line) or _MD_REF_DEF.match(line):
        return ""
    m = _MD_HEADING.match(line)
    if m:  # "## Title ##" -> "Title"; str methods, not a regex tail that rescans "####...x"
        line = line[m.end():].rstrip().rstrip("#").rstrip()
    line = re.sub(r"^\s{0,3}(?:>\s?)+", "", line)
    line = re.sub(r"^\s*[-*+]\s+", "  ", line)  # a list item: indented, so its own paragraph
    line = _MD_IMAGE.sub("", line)
    line = _MD_LINK.sub(r"\1", line)
    line = _MD_REF_LINK.sub(r"\1", line)
    line = _MD_BOLD.sub(lambda b: b.group(1) or b.group(2), line)
    line = _MD_EM_STAR.sub(r"\1", line)
    return _MD_EM_UNDER.sub(r"\1", line)


def _front_matter(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """Simple ``key: value`` front matter between ``---`` lines at the top of a Markdown file."""
    if not lines or lines[0].strip() != "---":
        return {}, lines
    for end in range(1, min(len(lines), 60)):
        if lines[end].strip() in ("---", "..."):
            meta = {}
            for ln in lines[1:end]:
                key, sep, value = ln.partition(":")
                if sep:
                    meta[key.strip().lower()] = value.strip().strip("\"'")
            return meta, lines[end + 1:]
    return {}, lines


def _looks_like_title(line: str, next_line: str | None) -> bool:
    """Is the first line a headline rather than the start of a (hard-wrapped) body?"""
    line = line.strip()
    words = len(line.split())
    if not line or len(line) > 200 or words > 30:
        return False
    if line.endswith(".") and words > 8:  # a sentence: headlines rarely end with a full stop
        return False
    if next_line is None or not next_line.strip():
        return True  # on its own, followed by a blank line or nothing
    if parse_date(next_line, strict=True):
        return True
    # "Title\nBody..." with a single newline: accept unless it reads like a wrapped sentence.
    return not line.endswith((".", ",", ";", ":", "-")) and not next_line.strip()[:1].islower()


def parse_text(raw: str, source: str, stem: str, markdown: bool = False) -> Item:
    """A ``.txt``/``.md`` article: [chrome] title [date] body.

    The first line that is not chrome is the title when it looks like one (short, set apart);
    otherwise the file is all body and the file name stands in as the title. An optional date
    line may come right after (or right before) the title.
    """
    # Entities are unescaped once, by clean_text/clean_title, so "&amp;lt;" stays "&lt;".
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    meta: dict[str, str] = {}
    if markdown:
        meta, lines = _front_matter(lines)
    lines = [ln for ln in lines if not is_chrome_line(ln)]
    md_title = None
    if markdown:
        for i, ln in enumerate(lines):
            if ln.strip():
                if _MD_HEADING.match(ln):
                    md_title = strip_markdown_line(ln)
                    lines = lines[i + 1:]
                break
        lines = [strip_markdown_line(ln) for ln in lines]
    while lines and not lines[0].strip():
        lines.pop(0)

    date = parse_date(meta.get("date")) if meta.get("date") else None
    if lines and parse_date(lines[0], strict=True) and md_title is None:
        date = date or parse_date(lines[0], strict=True)  # date line before the title
        lines = lines[1:]
        while lines and not lines[0].strip():
            lines.pop(0)

    title = md_title or meta.get("title")
    if title is None and lines and _looks_like_title(lines[0], lines[1] if len(lines) > 1 else None):
        title, lines = lines[0], lines[1:]
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and parse_date(lines[0], strict=True):  # date line after the title
        date = date or parse_date(lines[0], strict=True)
        lines = lines[1:]
    body = "\n".join(lines)
    return make_article(clean_title(title or ""), clean_text(body), source, date,
                         url=meta.get("url", ""), stem=stem)
