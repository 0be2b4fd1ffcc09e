"""HTML pages: the story's text, headline, date and url, found by trafilatura.

trafilatura is the standard main-text extractor: on a real news page it keeps the story and drops
navigation, related links, comment sections and other page furniture; its metadata pass finds the
headline and the canonical url, and htmldate (trafilatura's date finder) the publication date in
meta tags, JSON-LD, ``<time>`` elements, the url or the visible text ("Published 2024-07-03").

Its boilerplate heuristics need text to judge: on a page with less main text than its own
``min_extracted_size`` it falls back to a dump of the whole page (navigation, forms and all). For
such a short page the text is instead that of the page's content element (``<article>``, else
``<main>``, else ``<body>``) without its non-content elements, one paragraph per block element.

The page is parsed once, by lxml (libxml2), in linear time: an unclosed tag or comment drops the
rest of the page, and nesting deeper than libxml2's limit (256) is flattened, so no page can stall
a run (see ``bench/hostile_ingest.py``).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import lxml.html
import trafilatura
from htmldate import find_date
from lxml import etree
from trafilatura.settings import DEFAULT_CONFIG

from qa.ingest import limits
from qa.ingest.article import make_article
from qa.ingest.clean import clean, clean_title, normalise_chars
from qa.ingest.files import Unreadable, decode, read_bytes
from qa.ingest.report import Item

# Below this many characters of main text trafilatura's extraction is not trusted (its own threshold).
MIN_EXTRACTED_CHARS = DEFAULT_CONFIG.getint("DEFAULT", "min_extracted_size")
# htmldate reports days unless asked for the time; a date without a time then comes back as midnight.
_DATE_PARAMS = {"original_date": True, "extensive_search": False, "outputformat": "%Y-%m-%dT%H:%M:%S"}
_EXTENSIVE_DATE_PARAMS = {**_DATE_PARAMS, "extensive_search": True}
_MIDNIGHT = "T00:00:00"

# Elements that are never story text, pruned before either path (trafilatura keeps <template>
# content, for one); and for the short-page path, the elements that start a paragraph.
_DROP_TAGS = ("script", "style", "nav", "header", "footer", "aside", "form", "noscript", "svg",
              "iframe", "template", "button", "select", "canvas", "object")
_DROP_XPATH = "|".join(f"//{tag}" for tag in _DROP_TAGS)
_BLOCK_TAGS = frozenset({
    "p", "div", "br", "li", "ul", "ol", "section", "article", "main", "body", "h1", "h2", "h3", "h4", "h5",
    "h6", "blockquote", "pre", "table", "tr", "td", "th", "dd", "dt", "dl", "hr", "figure", "figcaption",
    "address", "details", "summary"})
_SPACES = re.compile(r"\s+")

# trafilatura warns "discarding data" for each page without main text: the skip reason says it already.
logging.getLogger("trafilatura").setLevel(logging.ERROR)


def read_html(path: Path) -> str:
    """An HTML file as text: UTF-8, else the encoding its ``<meta charset>`` declares."""
    data, _ = read_bytes(path, limits.MAX_ARTICLE_FILE_BYTES, "MAX_ARTICLE_FILE_BYTES")
    try:
        return decode(data)
    except Unreadable:
        m = re.search(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", data[:4096], re.IGNORECASE)
        charset = m.group(1).decode("ascii") if m else ""
        if not charset or charset.lower().replace("-", "") == "utf8":
            raise
        try:
            return data.decode(charset)
        except (LookupError, ValueError) as exc:  # ValueError: UnicodeError, e.g. charset "undefined"
            raise Unreadable(f"not UTF-8 and not valid {charset}") from exc


def parse_html(raw: str, source: str, stem: str) -> Item:
    """An ``.html`` article: main text, title, date and canonical url."""
    tree = _parse(raw)
    if tree is None:
        return make_article("", "", source, None, stem=stem)
    extracted = trafilatura.bare_extraction(tree, include_comments=False, include_tables=True,
                                            prune_xpath=_DROP_XPATH)
    meta = trafilatura.extract_metadata(tree, date_config=_DATE_PARAMS)
    text = extracted.text if extracted is not None and extracted.text else ""
    # The story's own <h1>; a site logo in the header can be an <h1> too, and trafilatura then
    # prefers the <title>, whose "Site | Headline" it may cut to "Site".
    h1s = (h1.text_content() for h1 in tree.iterfind(".//article//h1"))
    headline = next((h1 for h1 in h1s if h1.strip()), "")
    title = clean_title(headline or meta.title or "", unescape=False)  # lxml already unescaped
    if len(text) >= MIN_EXTRACTED_CHARS:
        body = clean(text.replace("\n", "\n\n"), unescape=False)  # trafilatura: one line per paragraph
    else:
        body = clean(_short_page_text(tree), unescape=False)
    body = _without_headline(body, title)
    return make_article(title, body, source, _date(tree, meta.date, meta.url), url=meta.url or "", stem=stem)


def _date(tree: lxml.html.HtmlElement, marked: str | None, url: str | None) -> str | None:
    """The publication date, "YYYY-MM-DD" or with the time when the page gives one.

    ``marked`` is htmldate's date from the page's markup (meta tags, JSON-LD, ``<time>``), its url
    or an ISO date in its text ("Published 2024-07-03"). Without one, htmldate's extensive search
    reads dates in words ("Published: July 3, 2024") too; but when that finds only a month or a
    year ("July 2024", "(c) 2024") it reports the 1st of it, which is no publication date, so a 1st
    from that search is dropped.
    """
    if not marked:
        found = find_date(tree, **_EXTENSIVE_DATE_PARAMS, url=url)
        marked = found if found and found[8:10] != "01" else None
    return marked.removesuffix(_MIDNIGHT) if marked else None


def _without_headline(body: str, title: str) -> str:
    """The body less its first paragraph when that is the headline (pages repeat it above the story)."""
    head, _, rest = body.partition("\n\n")
    shown = title.removesuffix("\u2026")  # trafilatura cuts a title over 10,000 characters with "..."
    if title and (head == title or (shown != title and head.startswith(shown))):
        return rest
    return body


def _parse(raw: str) -> lxml.html.HtmlElement | None:
    """The page as an lxml tree (comments dropped), or None when it holds no markup or text at all.

    Control characters are removed first: libxml2 stops at a NUL.
    """
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True)
    try:
        return lxml.html.document_fromstring(normalise_chars(raw, unescape=False).encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError):  # "Document is empty"
        return None


def _short_page_text(tree: lxml.html.HtmlElement) -> str:
    """The text of the longest top-level ``<article>``, else of ``<main>``, else of ``<body>``,
    without scripts, navigation, site header/footer, forms and the like (the tree is pruned)."""
    etree.strip_elements(tree, *_DROP_TAGS, with_tail=False)
    articles = [_block_text(a) for a in tree.xpath("//article[not(ancestor::article)]")]
    candidates = [max(articles, key=lambda t: len(t.strip()), default="")]
    candidates.append("".join(_block_text(m) for m in tree.xpath("//main[not(ancestor::main)]")))
    candidates.extend(_block_text(b) for b in tree.iterfind(".//body"))
    return next((text for text in candidates if text.strip()), "")


def _block_text(root: lxml.html.HtmlElement) -> str:
    """The text under ``root``, with a paragraph break at each block element and ``<br>``.

    Whitespace is collapsed except inside ``<pre>``. ``iterwalk`` is iterative, so depth costs nothing.
    """
    parts: list[str] = []
    pre = 0
    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if tag == "pre":
                pre += 1
            if tag in _BLOCK_TAGS:
                parts.append("\n\n")
            if el.text:
                parts.append(el.text if pre else _SPACES.sub(" ", el.text))
            continue
        if tag in _BLOCK_TAGS:
            parts.append("\n\n")
        if tag == "pre":
            pre -= 1
        if el.tail and el is not root:
            parts.append(el.tail if pre else _SPACES.sub(" ", el.tail))
    return "".join(parts)
