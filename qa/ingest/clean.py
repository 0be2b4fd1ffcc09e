"""Text normalisation shared by every format: characters, paragraphs, glued sentences, footers.

Article ids are content hashes of the *cleaned* title and text (``article_id``), so everything
here must stay deterministic: changing it changes every id downstream (chunks, index, citations).
The rules are written for our corpora (Reuters' hard-wrapped lines and "Reuter" sign-off, Dawn's
glued sentences and comment notices, news-site chrome lines); no library knows those quirks.
"""

from __future__ import annotations

import hashlib
import html
import re
import string
import unicodedata

# Invisible characters that only get in the way: soft hyphen, zero-width spaces/joiners, BOM.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
_SPACE_LIKE = {ord(c): " " for c in "\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"}
_NEWLINE_LIKE = {ord(c): "\n" for c in "\v\f\x1c\x1d\x1e\x85\u2028\u2029"}
# Control characters, and lone surrogates (only JSON "\\ud800" escapes make them; they cannot be encoded).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_BLOCK_SPLIT = re.compile(r"\n[ \t]*\n\s*")
_HSPACE = re.compile(r"  +")  # tabs are already spaces by then
_LIST_ITEM = re.compile(r"^\s*(?:[-*\u2022]\s|\d{1,3}[.)]\s)")
_WRAP_WIDTH = 100  # lines no longer than this inside a block are treated as hard-wrapped
_ASCII_LETTERS = frozenset(string.ascii_letters)  # a set test, not re.search over the paragraph so far
_QUOTE = "\"'\u201d\u2019)\\]"
# "talks.The" -> "talks. The": a word ending in 2 lowercase letters (or an acronym / number,
# e.g. "IMF.The", "2022.The"), sentence punctuation, optional closing quote, then a capitalised
# word, or after a lowercase word an acronym ("riots.ATC-III", "Friday.A"). "U.S.", "3.5",
# "e.g.", "Dawn.com" do not match; tickers ("<eric.St.>", "(BP.L)", "[PRUL.L]"), dotted
# names ("Halo.Bungie.Org") and e-mail addresses are left alone.
_GLUED = re.compile(
    r"(?=[.!?])"  # cheap first test; the look-behinds below are slow at every position
    rf"(?:(?<=[a-z]{{2}})|(?<=[A-Z\d]{{2}})|(?<=[a-z]{{2}}[{_QUOTE}])|(?<=[A-Z\d]{{2}}[{_QUOTE}]))"
    rf"(?:([.!?][{_QUOTE}]{{0,2}})(?=[\u201c\u2018]?[A-Z][a-z])|([.!?][{_QUOTE}]{{0,2}})(?=(?:[A-Z]{{2,}}|A|I)[\s,;:\-’']))"
    r"(?![A-Za-z]*\.?>)(?![A-Za-z.]*@)(?![A-Za-z]+\.[A-Za-z])"
)


def normalise_chars(text: str, unescape: bool = True) -> str:
    """Newlines to ``\\n``, entities unescaped, control/invisible characters removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if unescape:
        text = html.unescape(text)
    text = text.translate(_NEWLINE_LIKE).translate(_SPACE_LIKE).translate(_INVISIBLE)
    text = text.replace("\t", " ")
    return _CONTROL.sub("", text)


def _block_paragraphs(block: str) -> list[str]:
    """Split one blank-line-separated block into paragraphs.

    Hard-wrapped text (every line but the last short, as in Reuters) has its lines joined with
    a space; an indented line or a list item starts a new paragraph there. A block with long
    lines is one-paragraph-per-line text, so each line stays a paragraph.
    """
    lines = [ln for ln in block.split("\n") if ln.strip()]
    if not lines:
        return []
    wrapped = all(len(ln.rstrip()) <= _WRAP_WIDTH for ln in lines[:-1])
    if not wrapped:
        return [ln.strip() for ln in lines]
    paragraphs: list[str] = []
    current = ""
    for ln in lines:
        starts_new = ln[:1] in (" ", "\t") or bool(_LIST_ITEM.match(ln))
        piece = ln.strip()
        if not current:
            current = piece
        elif starts_new:
            paragraphs.append(current)
            current = piece
        elif current[-1:] == "-" and current[-2:-1] in _ASCII_LETTERS:  # "anti-\ntakeover" -> "anti-takeover"
            current += piece
        else:
            current += " " + piece
    paragraphs.append(current)
    return paragraphs


def _unglue(m: re.Match[str]) -> str:
    """Add the space unless the word before is a dotted name/URL, or (before an acronym) is
    not a plain lowercase word ("Bagle.AT" is a virus name, "high.KP" a glued sentence)."""
    text, start = m.string, m.start()
    token = text[max(text.rfind(" ", 0, start), text.rfind("\n", 0, start)) + 1 : start]
    if any(c in token for c in "./@"):
        return m.group(0)
    if m.group(2) and not re.fullmatch(r"[\"'\u201c\u2018(]*[a-z]+[\"'\u201d\u2019)]*", token):
        return m.group(0)
    return m.group(0) + " "


def fix_glued_sentences(text: str) -> str:
    """Insert the missing space in "the talks.The minister" (scraped Dawn articles)."""
    return _GLUED.sub(_unglue, text)


def clean(text: str, unescape: bool = True) -> str:
    """``clean_text`` with entity unescaping optional (HTML text arrives already unescaped)."""
    text = normalise_chars(text, unescape=unescape)
    paragraphs: list[str] = []
    for block in _BLOCK_SPLIT.split(text):
        for para in _block_paragraphs(block):
            para = _HSPACE.sub(" ", para).strip()
            if para:
                paragraphs.append(fix_glued_sentences(para))
    return "\n\n".join(paragraphs).strip()


def clean_text(text: str) -> str:
    """Normalise an article body: entities, control characters, spacing, paragraphs, glued
    sentences. Paragraphs are separated by exactly ``"\\n\\n"``; everything else is verbatim."""
    return clean(text, unescape=True)


def clean_title(title: str, unescape: bool = True) -> str:
    """A title is one line: entities unescaped, all whitespace (including newlines) collapsed."""
    title = normalise_chars(title, unescape=unescape)
    return re.sub(r"\s+", " ", title).strip()


# Trailing boilerplate that is not part of the story: comment-section notices, sign-offs.
_FOOTER_SPAN = 400  # characters at the end of a text searched for footers
_FOOTERS = (
    re.compile(r"\s*Dear visitor, the comments section\b[^\n]*$", re.IGNORECASE),
    re.compile(r"\s*(?:Comments are closed\.?|Comments \(\d+\)|Click here to comment\.?)\s*$", re.IGNORECASE),
    # Reuters sign-off "Reuter"/"REUTER" (not "Reuters", which is usually a real credit line).
    re.compile(r"(?:(?<=[.!?\"\u201d\u2019)])|\n)\s*(?:Reuter|REUTER)\s*$"),
)


def strip_footer(text: str) -> str:
    """Drop recognisable trailing boilerplate (comment notices, the Reuters "Reuter" sign-off)."""
    head, tail = text[:-_FOOTER_SPAN], text[-_FOOTER_SPAN:]  # only the end can be a footer
    changed = True
    while changed:
        changed = False
        for pattern in _FOOTERS:
            new = pattern.sub("", tail)
            if new != tail:
                tail, changed = new.rstrip(), True
    return (head + tail).rstrip()


def article_id(title: str, text: str) -> str:
    """Stable content hash: sha256 of the normalised title + "\\n" + text, first 16 hex chars."""
    norm_title = unicodedata.normalize("NFC", re.sub(r"\s+", " ", title).strip())
    norm_text = unicodedata.normalize("NFC", text)
    return hashlib.sha256(f"{norm_title}\n{norm_text}".encode("utf-8")).hexdigest()[:16]


# Site chrome: lines made only of UI words ("Increase font size Decrease font size Reset font
# size", "Share | Tweet | Email", "Advertisement"). A line needs at least one action word so
# that a headline like "Facebook and Twitter" is not mistaken for chrome.
_CHROME_ACTIONS = {
    "increase", "decrease", "reset", "font", "size", "print", "share", "email", "e-mail",
    "tweet", "subscribe", "bookmark", "comment", "comments", "advertisement", "listen",
    "save", "copy", "follow", "zoom", "whatsapp", "a+", "a-",
}
_CHROME_WORDS = _CHROME_ACTIONS | {
    "text", "smaller", "larger", "bigger", "link", "this", "article", "story", "page", "us",
    "on", "via", "to", "the", "a", "aa", "and", "facebook", "twitter", "x", "linkedin",
    "reddit", "pinterest", "telegram", "messenger", "read", "more", "later", "in", "out",
}


def is_chrome_line(line: str) -> bool:
    """True for a line made only of page-UI words (font size, share, print, ...)."""
    tokens = [t for t in re.split(r"[\s|/\u00b7\u2022,:]+", line.strip().lower()) if t]
    if not tokens or len(tokens) > 15:
        return False
    return set(tokens) <= _CHROME_WORDS and not set(tokens).isdisjoint(_CHROME_ACTIONS)
